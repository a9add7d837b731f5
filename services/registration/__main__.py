from services.registration.entrypoints.cli import main

main()
