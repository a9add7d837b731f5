"""What a regional system reads back when its intake message was refused."""

from __future__ import annotations

from pydantic import Field

from shared.kernel.envelope import ContractModel, EventPayload
from shared.kernel.topics import REJECTIONS


class FieldError(ContractModel):
    field: str = Field(max_length=200)
    message: str = Field(max_length=500)
    code: str = Field(default="", max_length=100, description="the rule broken, as the type of an HTTP 422 detail")


class IntakeRejected(EventPayload):
    """An intake message was refused. ``message_id`` is the sender's own id, so the sender can
    reconcile; ``reason`` is a stable machine-readable code, ``detail`` a human sentence."""

    event_type = "IntakeRejected"
    stream = REJECTIONS
    key_field = "message_id"

    message_id: str = Field(min_length=1, max_length=100)
    message_type: str = Field(max_length=100)
    intake_topic: str = Field(max_length=250)
    reason: str = Field(min_length=1, max_length=100)
    detail: str = Field(default="", max_length=1000)
    errors: list[FieldError] = Field(default_factory=list, max_length=50)


class FactReceipt(ContractModel):
    """What became of one fact of a batch: ``recorded`` or ``duplicate`` (the device may delete it),
    or ``refused`` with the rule's ``code`` (the device keeps it, to correct and send again)."""

    fact_id: str = Field(max_length=100)
    outcome: str = Field(max_length=20, description="recorded | duplicate | refused")
    code: str = Field(default="", max_length=100)


class IntakeAccepted(EventPayload):
    """The receipt of an accepted batch of facts (``SyncFacts``), on the same replies topic as
    rejections and keyed by the sender's ``message_id``: one answer per fact. Refused facts are
    also reported, as before, by an ``IntakeRejected`` with reason ``facts_refused``."""

    event_type = "IntakeAccepted"
    stream = REJECTIONS
    key_field = "message_id"

    message_id: str = Field(min_length=1, max_length=100)
    message_type: str = Field(max_length=100)
    intake_topic: str = Field(max_length=250)
    results: list[FactReceipt] = Field(default_factory=list, max_length=5000)
