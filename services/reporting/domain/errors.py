"""Every refusal of the reporting service, by code (the HTTP status is the kind's: see
``entrypoints/errors.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from shared.kernel.errors import Invalid, NotFound

TRAINING_NOT_FOUND = "training_not_found"
FACILITATOR_NOT_FOUND = "facilitator_not_found"
UNKNOWN_TABLE = "unknown_table"
INVALID_PERIOD = "invalid_period"


def training_not_found(training_id: uuid.UUID) -> NotFound:
    return NotFound(TRAINING_NOT_FOUND, f"no events of training {training_id} were applied")


def facilitator_not_found(facilitator_id: uuid.UUID) -> NotFound:
    return NotFound(FACILITATOR_NOT_FOUND, f"no events of facilitator {facilitator_id} were applied")


def unknown_table(name: str, tables: Iterable[str]) -> Invalid:
    return Invalid(UNKNOWN_TABLE, f"this report has no table {name!r}", {"tables": list(tables)})


def invalid_period(period: str, problem: str) -> Invalid:
    return Invalid(INVALID_PERIOD, f"{problem}, not {period[:20]!r}", {"field": "period"})
