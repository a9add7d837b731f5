"""Learning facts as xAPI 1.0.3 statements (docs/xapi.md): which canonical event becomes which
statement, with which verb, activity, result and context. Pure: what is known about the training
(title, sessions, modules), where the participant works (province, kota/kabupaten) and which
statement issued a certificate are given by the caller.

The actor is a pseudonymous account, ``{"homePage": "https://kotaku.pu.go.id", "name":
<facilitator_id>}``; no statement carries a name, NIK, phone number or free text written about a
person (OJT reports, correction reasons). Statement ids are uuid5 of the event id, so the same
event always gives the same statement id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    AttendanceStatus,
    CertificateIssued,
    CertificateRevoked,
    OJTCompleted,
    SessionKind,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingOutcomeCorrected,
)
from shared.kernel.envelope import Event

HOME_PAGE = "https://kotaku.pu.go.id"
ACTIVITIES = f"{HOME_PAGE}/xapi/activities"
EXTENSIONS = f"{HOME_PAGE}/xapi/extensions"
PLATFORM = "KOTAKU Ops"
# uuid5 namespace of statement ids: statement id = uuid5(STATEMENT_NAMESPACE, str(event_id)).
STATEMENT_NAMESPACE = uuid.UUID("5b0d6f3e-2a8c-4c1e-9f7a-6d3b2e1a9c40")


@dataclass(frozen=True)
class Verb:
    iri: str
    en: str
    id: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.iri, "display": {"en-US": self.en, "id-ID": self.id}}


# ADL's vocabulary (http://adlnet.gov/expapi/verbs/), and "earned" of the xAPI registry (tincanapi).
ATTENDED = Verb("http://adlnet.gov/expapi/verbs/attended", "attended", "menghadiri")
SCORED = Verb("http://adlnet.gov/expapi/verbs/scored", "scored", "memperoleh nilai")
COMPLETED = Verb("http://adlnet.gov/expapi/verbs/completed", "completed", "menyelesaikan")
FAILED = Verb("http://adlnet.gov/expapi/verbs/failed", "did not complete", "tidak menyelesaikan")
EARNED = Verb("http://id.tincanapi.com/verb/earned", "earned", "memperoleh")
VOIDED = Verb("http://adlnet.gov/expapi/verbs/voided", "voided", "membatalkan")
VERBS = (ATTENDED, SCORED, COMPLETED, FAILED, EARNED, VOIDED)

# ADL activity types.
COURSE = "http://adlnet.gov/expapi/activities/course"
MEETING = "http://adlnet.gov/expapi/activities/meeting"
MODULE = "http://adlnet.gov/expapi/activities/module"
ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
PERFORMANCE = "http://adlnet.gov/expapi/activities/performance"

# Context and result extensions.
REGION = f"{EXTENSIONS}/region"
PROVINCE = f"{EXTENSIONS}/province"
KABKOTA = f"{EXTENSIONS}/kabkota"
SOURCE_EVENT = f"{EXTENSIONS}/source-event"
ATTENDANCE_STATUS = f"{EXTENSIONS}/attendance-status"
ATTENDANCE_RATIO = f"{EXTENSIONS}/attendance-ratio"
UNMET = f"{EXTENSIONS}/unmet-requirements"
KELURAHAN = f"{EXTENSIONS}/kelurahan"
CORRECTED_FROM = f"{EXTENSIONS}/corrected-from"
CERTIFICATE_CODE = f"{EXTENSIONS}/certificate-code"

GENERIC_TRAINING = ("Pelatihan KOTAKU", "KOTAKU training")


@dataclass(frozen=True)
class SessionInfo:
    session_date: date
    kind: str
    module_code: str | None = None


@dataclass(frozen=True)
class TrainingInfo:
    """What the statements say about a training, as its latest TrainingScheduled/Updated told."""

    title: str
    sessions: dict[str, SessionInfo] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)  # code -> title


@dataclass(frozen=True)
class Placement:
    """Where a participant works, as their enrollment in the training said."""

    province_code: str | None
    kabkota_code: str | None


def statement_id(event_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(STATEMENT_NAMESPACE, str(event_id))


def actor(facilitator_id: uuid.UUID) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": HOME_PAGE, "name": str(facilitator_id)}}


def _segment(value: str) -> str:
    """A path segment of an activity IRI (session ids and codes are free-form)."""
    return quote(value, safe="")


def training_iri(training_id: uuid.UUID) -> str:
    return f"{ACTIVITIES}/training/{training_id}"


def _activity(iri: str, names: tuple[str, str], kind: str | None) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": {"id-ID": names[0], "en-US": names[1]}}
    if kind:
        definition["type"] = kind
    return {"objectType": "Activity", "id": iri, "definition": definition}


def _names(training: TrainingInfo | None) -> tuple[str, str]:
    if training is None:
        return GENERIC_TRAINING
    return (training.title, f"KOTAKU training: {training.title}")


def training_activity(training_id: uuid.UUID, training: TrainingInfo | None) -> dict[str, Any]:
    return _activity(training_iri(training_id), _names(training), COURSE)


def session_activity(training_id: uuid.UUID, session_id: str, training: TrainingInfo | None) -> dict[str, Any]:
    title_id, title_en = _names(training)
    session = training.sessions.get(session_id) if training else None
    when = f" ({session.session_date.isoformat()})" if session else ""
    kind = PERFORMANCE if session is not None and session.kind == SessionKind.OJT else MEETING
    return _activity(
        f"{training_iri(training_id)}/session/{_segment(session_id)}",
        (f"{title_id}, sesi {session_id}{when}", f"{title_en}, session {session_id}{when}"),
        kind,
    )


def module_activity(training_id: uuid.UUID, code: str, training: TrainingInfo | None) -> dict[str, Any]:
    title = training.modules.get(code, code) if training else code
    return _activity(
        f"{training_iri(training_id)}/module/{_segment(code)}", (f"Modul {title}", f"Module {title}"), MODULE
    )


def assessment_activity(training_id: uuid.UUID, kind: AssessmentKind, training: TrainingInfo | None) -> dict[str, Any]:
    title_id, title_en = _names(training)
    label_id, label_en = ("Tes awal", "Pre-test") if kind is AssessmentKind.PRE else ("Tes akhir", "Post-test")
    return _activity(
        f"{training_iri(training_id)}/assessment/{kind.value}",
        (f"{label_id}: {title_id}", f"{label_en}: {title_en}"),
        ASSESSMENT,
    )


def ojt_activity(training_id: uuid.UUID, training: TrainingInfo | None) -> dict[str, Any]:
    title_id, title_en = _names(training)
    return _activity(
        f"{training_iri(training_id)}/ojt",
        (f"Praktik kerja lapangan (OJT): {title_id}", f"On-the-job training: {title_en}"),
        PERFORMANCE,
    )


def certificate_activity(code: str, training: TrainingInfo | None) -> dict[str, Any]:
    title_id, title_en = _names(training)
    return _activity(
        f"{ACTIVITIES}/certificate/{_segment(code)}",
        (f"Sertifikat {title_id} ({code})", f"Certificate, {title_en} ({code})"),
        None,
    )


def _context(
    event: Event[Any],
    placement: Placement | None,
    *,
    parent: dict[str, Any] | None = None,
    grouping: dict[str, Any] | None = None,
) -> dict[str, Any]:
    extensions: dict[str, Any] = {REGION: event.envelope.region, SOURCE_EVENT: str(event.envelope.event_id)}
    if placement is not None and placement.province_code:
        extensions[PROVINCE] = placement.province_code
    if placement is not None and placement.kabkota_code:
        extensions[KABKOTA] = placement.kabkota_code
    context: dict[str, Any] = {"platform": PLATFORM, "language": "id-ID", "extensions": extensions}
    activities: dict[str, Any] = {}
    if parent is not None:
        activities["parent"] = [parent]
    if grouping is not None:
        activities["grouping"] = [grouping]
    if activities:
        context["contextActivities"] = activities
    return context


def _statement(
    event: Event[Any],
    facilitator_id: uuid.UUID,
    verb: Verb,
    obj: dict[str, Any],
    context: dict[str, Any],
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "id": str(statement_id(event.envelope.event_id)),
        "actor": actor(facilitator_id),
        "verb": verb.as_json(),
        "object": obj,
    }
    if result is not None:
        statement["result"] = result
    statement["context"] = context
    statement["timestamp"] = event.envelope.occurred_at.isoformat()
    return statement


def _score(raw: float, minimum: float, maximum: float) -> dict[str, Any]:
    return {"scaled": round(raw / maximum, 4), "raw": raw, "min": minimum, "max": maximum}


# The canonical events that become statements (others are learned from or left out).
STATEMENT_EVENTS = frozenset(
    {
        "AttendanceRecorded",
        "AssessmentScored",
        "OJTCompleted",
        "TrainingCompleted",
        "TrainingNotCompleted",
        "TrainingOutcomeCorrected",
        "CertificateIssued",
        "CertificateRevoked",
    }
)


def build_statement(
    event: Event[Any],
    training: TrainingInfo | None,
    placement: Placement | None,
    issued_statement: uuid.UUID | None = None,
) -> dict[str, Any] | None:
    """The statement of one canonical event, or None when the fact is not a learning statement
    (an absence, an excused absence). ``issued_statement`` is the id of the statement that
    recorded the certificate a CertificateRevoked revokes (it voids that statement); without it a
    revocation cannot be stated and None is returned."""
    p = event.payload
    tid = p.training_id
    parent = training_activity(tid, training)
    if isinstance(p, AttendanceRecorded):
        if p.status not in (AttendanceStatus.PRESENT, AttendanceStatus.LATE):
            return None
        session = training.sessions.get(p.session_id) if training else None
        grouping = None
        if session is not None and session.module_code:
            grouping = module_activity(tid, session.module_code, training)
        return _statement(
            event,
            p.facilitator_id,
            ATTENDED,
            session_activity(tid, p.session_id, training),
            _context(event, placement, parent=parent, grouping=grouping),
            {"extensions": {ATTENDANCE_STATUS: p.status.value}},
        )
    if isinstance(p, AssessmentScored):
        return _statement(
            event,
            p.facilitator_id,
            SCORED,
            assessment_activity(tid, p.kind, training),
            _context(event, placement, parent=parent),
            {"score": _score(p.score, 0, p.max_score)},
        )
    if isinstance(p, OJTCompleted):
        return _statement(
            event,
            p.facilitator_id,
            COMPLETED,
            ojt_activity(tid, training),
            _context(event, placement, parent=parent),
            {"completion": True, "score": _score(p.rating, 1, 5), "extensions": {KELURAHAN: p.kelurahan_code}},
        )
    if isinstance(p, TrainingCompleted):
        return _statement(
            event,
            p.facilitator_id,
            COMPLETED,
            parent,
            _context(event, placement),
            {"completion": True, "success": True, "extensions": {ATTENDANCE_RATIO: p.attendance_ratio}},
        )
    if isinstance(p, TrainingNotCompleted):
        return _statement(
            event,
            p.facilitator_id,
            FAILED,
            parent,
            _context(event, placement),
            {
                "completion": False,
                "success": False,
                "extensions": {ATTENDANCE_RATIO: p.attendance_ratio, UNMET: list(p.unmet)},
            },
        )
    if isinstance(p, TrainingOutcomeCorrected):
        completed = p.outcome == "completed"
        extensions: dict[str, Any] = {ATTENDANCE_RATIO: p.attendance_ratio, CORRECTED_FROM: p.previous_outcome}
        if p.unmet:
            extensions[UNMET] = list(p.unmet)
        return _statement(
            event,
            p.facilitator_id,
            COMPLETED if completed else FAILED,
            parent,
            _context(event, placement),
            {"completion": completed, "success": completed, "extensions": extensions},
        )
    if isinstance(p, CertificateIssued):
        return _statement(
            event,
            p.facilitator_id,
            EARNED,
            certificate_activity(p.certificate_code, training),
            _context(event, placement, parent=parent),
            {"completion": True, "extensions": {CERTIFICATE_CODE: p.certificate_code}},
        )
    if isinstance(p, CertificateRevoked):
        if issued_statement is None:
            return None
        return _statement(
            event,
            p.facilitator_id,
            VOIDED,
            {"objectType": "StatementRef", "id": str(issued_statement)},
            _context(event, placement, parent=parent),
            {"extensions": {CERTIFICATE_CODE: p.certificate_code}},
        )
    return None
