"""Reason codes a client chooses from (free text in events could carry personal data)."""

from __future__ import annotations

from enum import StrEnum


class DeactivationReason(StrEnum):
    RESIGNED = "resigned"
    CONTRACT_ENDED = "contract_ended"
    DISMISSED = "dismissed"
    REGISTERED_IN_ERROR = "registered_in_error"
    OTHER = "other"


class WithdrawalReason(StrEnum):
    PARTICIPANT_CANCELLED = "participant_cancelled"
    REPLACED = "replaced"
    REGISTERED_IN_ERROR = "registered_in_error"
    OTHER = "other"


# Set by the service itself when a deactivation withdraws the facilitator's open enrollments.
WITHDRAWN_BY_DEACTIVATION = "facilitator_deactivated"
