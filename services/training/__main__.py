from services.training.app import DEFINITION
from shared.bootstrap.service import main

main(DEFINITION)
