"""Domain errors and the one table per service that turns them into HTTP statuses.

A use case refuses with a :class:`DomainError`: a stable machine-readable ``code`` (the same one
the HTTP API answers and the Kafka intake puts in its ``IntakeRejected``), a human message and
optional details. It knows nothing of HTTP. Each service's entrypoints map codes to statuses with
one :class:`ErrorTable`; the intake uses the code as the rejection reason as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class DomainError(Exception):
    """A refusal by a business rule, a missing entity or a conflict: never a bug."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The entity the request names does not exist (or is not visible to the caller)."""


class Conflict(DomainError):
    """The request contradicts the current state (a duplicate, a closed training, ...)."""


class Invalid(DomainError):
    """The request is well-formed but breaks a rule (a role without that speciality, ...)."""


class Forbidden(DomainError):
    """The caller may not act on this region or this data."""


# The status of each kind, unless a service's table names the code itself.
KIND_STATUS: dict[type[DomainError], int] = {NotFound: 404, Conflict: 409, Invalid: 422, Forbidden: 403}


@dataclass(frozen=True)
class ErrorTable:
    """The HTTP status of every domain error of a service: by code where the table lists it,
    otherwise by the error's kind (404, 409, 422, 403), otherwise 422."""

    by_code: Mapping[str, int] = field(default_factory=dict)

    def status(self, error: DomainError) -> int:
        if error.code in self.by_code:
            return self.by_code[error.code]
        for kind, status in KIND_STATUS.items():
            if isinstance(error, kind):
                return status
        return 422
