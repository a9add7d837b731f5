from services.registration.cli import main

main()
