import sys

from services.reporting.app import DEFINITION
from shared.bootstrap.service import main

if sys.argv[1:2] == ["rebuild"]:
    # Replays the log into fresh tables and swaps them in (see services/reporting/entrypoints/rebuild.py).
    from services.reporting.entrypoints.cli import rebuild_command

    rebuild_command(sys.argv[2:])
elif sys.argv[1:2] == ["xapi-forward"]:
    # Posts the national xAPI statements to the LRS (see services/reporting/entrypoints/xapi_forward.py).
    from services.reporting.entrypoints.xapi_forward import main as forward

    forward(sys.argv[2:])
else:
    main(DEFINITION)
