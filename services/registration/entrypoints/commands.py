"""Input shapes into use-case commands, where more than one door needs the same translation."""

from __future__ import annotations

import uuid
from datetime import date

from services.registration.entrypoints.schemas import (
    FacilitatorIn,
    ImportRow,
    ReassignFacilitator,
    ReassignmentIn,
    RegisterFacilitator,
)
from services.registration.usecases.facilitators import NewFacilitator, Reassign
from shared.kernel.fields import build


def new_facilitator(body: RegisterFacilitator | ImportRow, region: str, default_effective_from: date) -> NewFacilitator:
    """The facilitator to register, from the HTTP body (FacilitatorIn), an intake message
    (RegisterFacilitator: no phone) or a CSV row (ImportRow: the region is the file's).
    ``default_effective_from`` applies when the input has no ``effective_from``: the day of the
    request (HTTP, CSV) or the message's ``sent_at`` (intake)."""
    phone = body.phone if isinstance(body, FacilitatorIn | ImportRow) else None
    return build(
        NewFacilitator,
        body,
        region=region,
        effective_from=body.effective_from or default_effective_from,
        phone=phone,
    )


def reassignment(facilitator_id: uuid.UUID, body: ReassignmentIn | ReassignFacilitator) -> Reassign:
    """The new assignment, from the HTTP body (the id is in the path) or an intake message."""
    return build(Reassign, body, facilitator_id=facilitator_id)
