from tests.faults.suite import main

main()
