from services.training.app import DEFINITION
from shared.service import main

main(DEFINITION)
