from services.reporting.app import DEFINITION
from shared.service import main

main(DEFINITION)
