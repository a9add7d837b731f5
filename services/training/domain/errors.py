"""The refusals of training delivery, as domain errors (shared.kernel.errors) with stable codes: the same
code reaches an HTTP client (with the status of ``entrypoints/errors.py``) and a Kafka sender (as
the ``IntakeRejected`` reason)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from services.training.domain.facts import FACT_ID_CONFLICT, NOT_ENROLLED, Fact, Refusal
from shared.kernel.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

TRAINING_NOT_FOUND = "training_not_found"
TRAINING_EXISTS = "training_exists"
TRAINING_CANCELLED = "training_cancelled"
TRAINING_CLOSED = "training_closed"
TRAINING_NOT_OVER = "training_not_over"
TRAINING_HAS_DECISIONS = "training_has_decisions"
CAPACITY_BELOW_ENROLLED = "capacity_below_enrolled"
CLASS_IN_USE = "class_in_use"
INVALID_SCHEDULE = "invalid_schedule"
REGION_NOT_SERVED = "region_not_served"
UNKNOWN_CLASS = "unknown_class"
EMPTY_CLASS = "empty_class"
NOT_IN_CLASS = "not_in_class"
CERTIFICATE_NOT_FOUND = "certificate_not_found"
CERTIFICATE_REVOKED = "certificate_revoked"
PARTICIPANT_NAME_UNKNOWN = "participant_name_unknown"
NO_VALID_CERTIFICATES = "no_valid_certificates"
TRAINING_NOT_CLOSED = "training_not_closed"
WRONG_LEVEL = "wrong_level"
WRONG_STATUS = "wrong_status"
SUBMISSION_NOT_FOUND = "submission_not_found"
DECISION_NOT_FOUND = "decision_not_found"
NOTHING_TO_REVIEW = "nothing_to_review"


class TrainingNotFound(NotFound):
    def __init__(self, training_id: uuid.UUID) -> None:
        super().__init__(TRAINING_NOT_FOUND, f"no training {training_id}")


class TrainingExists(Conflict):
    def __init__(self, training_id: uuid.UUID) -> None:
        super().__init__(TRAINING_EXISTS, "a training with this id exists", {"training_id": str(training_id)})


class TrainingCancelled(Conflict):
    def __init__(self) -> None:
        super().__init__(TRAINING_CANCELLED, "the training was cancelled")


class TrainingClosed(Conflict):
    def __init__(self) -> None:
        super().__init__(TRAINING_CLOSED, "the training is closed; its completions are decided")


class TrainingNotClosed(Conflict):
    def __init__(self) -> None:
        super().__init__(TRAINING_NOT_CLOSED, "outcomes are decided at the close; until then they are provisional")


class WrongLevel(Forbidden):
    def __init__(self, action: str, level: str, allowed: list[str]) -> None:
        super().__init__(
            WRONG_LEVEL, f"a {level} credential cannot {action} a submission; {action} is for: {', '.join(allowed)}"
        )


class WrongStatus(Conflict):
    def __init__(self, action: str, level: str, status: str, allowed: list[str]) -> None:
        super().__init__(
            WRONG_STATUS,
            f"the submission is {status}; the {level} may {action} it only when {', '.join(allowed)}",
            {"status": status},
        )


class SubmissionNotFound(NotFound):
    def __init__(self, submission_id: str) -> None:
        super().__init__(SUBMISSION_NOT_FOUND, f"no submission {submission_id} of this training (yet)")


class DecisionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(DECISION_NOT_FOUND, "no decision about this participant of this training")


class NothingToReview(Conflict):
    def __init__(self, outcome: str) -> None:
        super().__init__(
            NOTHING_TO_REVIEW, f"the decision is already {outcome} and no review is open; nothing to re-decide"
        )


class TrainingNotOver(Conflict):
    def __init__(self, last_day: date) -> None:
        super().__init__(TRAINING_NOT_OVER, f"the last session is on {last_day.isoformat()}; close it after that")


class TrainingHasDecisions(Conflict):
    def __init__(self) -> None:
        super().__init__(TRAINING_HAS_DECISIONS, "participants already completed; close the training instead")


class CapacityBelowEnrolled(Conflict):
    def __init__(self, enrolled: int, capacity: int) -> None:
        super().__init__(CAPACITY_BELOW_ENROLLED, f"{enrolled} participants are enrolled; capacity {capacity} is less")


class ClassInUse(Conflict):
    """A class with participants cannot be removed (answered 422 over HTTP, see the error table)."""

    def __init__(self, class_ids: Sequence[str]) -> None:
        super().__init__(CLASS_IN_USE, f"classes with participants cannot be removed: {', '.join(class_ids)}")


class InvalidSchedule(Invalid):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(INVALID_SCHEDULE, "; ".join(problems)[:1000], {"problems": list(problems)})


class RegionNotServed(Invalid):
    def __init__(self, served: Sequence[str], region: str) -> None:
        super().__init__(REGION_NOT_SERVED, f"this deployment serves {list(served)}, not {region}")


class UnknownClass(Invalid):
    def __init__(self, class_ids: Sequence[str], *, with_details: bool = False) -> None:
        super().__init__(
            UNKNOWN_CLASS,
            f"the training has no class {', '.join(class_ids)}",
            {"classes": list(class_ids)} if with_details else None,
        )


class EmptyClass(Invalid):
    def __init__(self, class_id: str) -> None:
        super().__init__(EMPTY_CLASS, f"class {class_id} has no participants")


class NotInClass(Invalid):
    def __init__(self, class_id: str, outside: Sequence[str]) -> None:
        super().__init__(
            NOT_IN_CLASS,
            f"{len(outside)} participant(s) on the sheet are not in class {class_id}",
            {"facilitator_ids": list(outside[:100])},
        )


class NotEnrolled(Invalid):
    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            NOT_ENROLLED,
            f"{len(missing)} facilitator(s) are not enrolled in this training",
            {"facilitator_ids": list(missing[:100])},
        )


class CertificateNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(CERTIFICATE_NOT_FOUND, "no certificate has this code")


class CertificateRevoked(Conflict):
    """A revoked certificate is still verifiable, as revoked, but never printed again (answered
    410 over HTTP, see the error table)."""

    def __init__(self, code: str, revoked_at: datetime, reason: str | None) -> None:
        super().__init__(
            CERTIFICATE_REVOKED,
            f"certificate {code} was revoked; it is not printed",
            {"certificate_code": code, "revoked_at": revoked_at.isoformat(), "reason": reason},
        )


class ParticipantNameUnknown(Conflict):
    """The registration service's event with the holder's name has not reached training yet."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(
            PARTICIPANT_NAME_UNKNOWN,
            f"the name of {len(codes)} certificate holder(s) is not known yet; try again shortly",
            {"certificate_codes": list(codes[:100])},
        )


class NoValidCertificates(NotFound):
    def __init__(self, training_id: uuid.UUID) -> None:
        super().__init__(NO_VALID_CERTIFICATES, f"training {training_id} has no valid certificate to print")


def facts_refused(refused: Sequence[tuple[Fact, Refusal]]) -> DomainError:
    """The refusal of a request whose facts must all be recorded or none: named after the first
    refused fact, every refusal in ``details.refused``. A conflict when the facts were only
    refused for reusing a ``fact_id`` with other content, a rule violation otherwise."""
    first = refused[0][1]
    details = [
        {"fact_id": f.fact_id, "facilitator_id": str(f.facilitator_id), "code": r.code, "message": r.message}
        for f, r in refused[:100]
    ]
    suffix = f" (and {len(refused) - 1} more refusal(s), see details)" if len(refused) > 1 else ""
    kind = Conflict if all(r.code == FACT_ID_CONFLICT for _, r in refused) else Invalid
    return kind(first.code, first.message + suffix, {"refused": details})
