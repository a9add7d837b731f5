"""Runs Ralph (ralph-malph), the xAPI Learning Record Store of the local stack, with its file-system
backend. Started by ``shared/tools/lrs.py`` with the Python of Ralph's own virtual environment.

This is what ``ralph runserver -b fs`` does, with three differences: no auto-reload (the reloader
watches the working directory and restarts on any Python file that changes there), and two
corrections to Ralph 5.1.0's file-system LRS backend:

- it writes with the operation ``create``, which refuses to write once its statement file
  exists (only the first POST would succeed): here it appends;
- its ``verb`` and ``activity`` filters compare the stored IRI strings with the query's parsed IRI
  objects, so ``GET /xAPI/statements?verb=...`` finds nothing: here they compare strings.

    python deploy/local/ralph_lrs.py HOST PORT

Settings come from the environment: ``RALPH_AUTH_FILE`` (the Basic credentials) and
``RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH`` (where statements are kept).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ["RALPH_RUNSERVER_BACKEND"] = "fs"
    import uvicorn
    from ralph.backends.data.base import BaseOperationType
    from ralph.backends.lrs.fs import FSLRSBackend

    FSLRSBackend.default_operation_type = BaseOperationType.APPEND
    by_verb, by_activity = FSLRSBackend._add_filter_by_verb, FSLRSBackend._add_filter_by_activity

    def filter_by_verb(filters: list, verb_id: object) -> None:
        by_verb(filters, None if verb_id is None else str(verb_id))

    def filter_by_activity(filters: list, object_id: object, related: object) -> None:
        by_activity(filters, None if object_id is None else str(object_id), related)

    FSLRSBackend._add_filter_by_verb = staticmethod(filter_by_verb)
    FSLRSBackend._add_filter_by_activity = staticmethod(filter_by_activity)
    from ralph.api import app

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
