"""The HTTP status of every refusal of the registration service (domain.errors).

Each code answers with the default status of its kind (NotFound 404, Conflict 409, Invalid 422,
Forbidden 403) unless it is listed here. Today none differs: ``unknown_orgunit`` and the CSV
file codes, for instance, are Invalid (422) because they are about what the request says. A code
that must answer otherwise is added here, in this one table; the intake is not affected (it
rejects with the code, whatever its status).
"""

from __future__ import annotations

from shared.kernel.errors import ErrorTable

ERRORS = ErrorTable({})
