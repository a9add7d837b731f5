"""Events published by reporting for learning analytics: every learning fact of every region as an
xAPI 1.0.3 statement (docs/xapi.md), on the national topic ``national.xapi.statements.v1``."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field, model_validator

from shared.kernel.envelope import EventPayload
from shared.kernel.topics import XAPI_STATEMENTS


class XapiStatementRecorded(EventPayload):
    """A learning fact as an xAPI statement, ready to be stored by any Learning Record Store.

    The envelope's ``event_id`` is the statement id, derived from the canonical event the statement
    was built from (``causation_id``): a resend is the same statement. The actor is a pseudonymous
    account (the facilitator id), never a name, NIK or phone number."""

    event_type = "XapiStatementRecorded"
    stream = XAPI_STATEMENTS
    key_field = "statement_id"

    statement_id: uuid.UUID = Field(description="the statement's id, equal to statement.id")
    source_event_type: str = Field(min_length=1, max_length=100, description="the canonical event it comes from")
    statement: dict[str, Any] = Field(
        description=(
            "the xAPI 1.0.3 statement (id, actor, verb, object, result, context, timestamp), posted to the LRS as it "
            "is; verbs, activity ids and extensions are listed in docs/xapi.md"
        )
    )

    @model_validator(mode="after")
    def _ids_agree(self) -> XapiStatementRecorded:
        if self.statement.get("id") != str(self.statement_id):
            raise ValueError("statement.id differs from statement_id")
        return self
