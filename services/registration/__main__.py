from services.registration.app import DEFINITION
from shared.service import main

main(DEFINITION)
