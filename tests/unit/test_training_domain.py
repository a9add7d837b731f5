"""Pure rules of training delivery: completion, gain, corrections, refusals, schedules, codes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from services.training import domain
from services.training.domain import Assessment, Attendance, Fact, OJTAssignment, OJTCompletion, Outcome
from services.training.entrypoints.schemas import AttendanceSheet, OJTAssignments, SyncBatch
from shared.kernel.contracts import (
    AssessmentKind,
    AttendanceStatus,
    CompletionRule,
    Module,
    Session,
    SessionKind,
    TrainingClass,
)

WIB = timezone(timedelta(hours=7))
P1, P2 = uuid.UUID(int=1), uuid.UUID(int=2)
SESSIONS = [
    Session(session_id=f"s{i}", date=date(2016, 7, 31) + timedelta(days=i // 2), kind=SessionKind.CLASSROOM)
    for i in range(14)
]
RULE = CompletionRule(min_attendance_ratio=0.9, require_post_test=True, require_ojt=True)
KEL = "16.71.01.1005"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2016, 7, 31, hour, tzinfo=WIB) + timedelta(days=day)


def attend(fid: uuid.UUID, session: str, status: AttendanceStatus, when: datetime, fact_id: str | None = None) -> Fact:
    return Fact(fact_id or f"a-{fid.int}-{session}-{when.isoformat()}", fid, when, Attendance(session, status))


def full_record(fid: uuid.UUID, absent: int = 0, post: bool = True, ojt: bool = True) -> list[Fact]:
    facts = [
        attend(fid, s.session_id, AttendanceStatus.ABSENT if i < absent else AttendanceStatus.PRESENT, at(i // 2))
        for i, s in enumerate(SESSIONS)
    ]
    facts.append(Fact(f"pre-{fid.int}", fid, at(0), Assessment(AssessmentKind.PRE, 40, 100)))
    if post:
        facts.append(Fact(f"post-{fid.int}", fid, at(7), Assessment(AssessmentKind.POST, 80, 100)))
    if ojt:
        facts.append(Fact(f"ojt-{fid.int}", fid, at(6), OJTCompletion(KEL, 4, "pemetaan swadaya")))
    return facts


def evaluate(facts: list[Fact], fid: uuid.UUID = P1, rule: CompletionRule = RULE) -> domain.Evaluation:
    return domain.evaluate(rule, SESSIONS, domain.fold(facts).get(fid, domain.EMPTY_RECORD))


def test_a_participant_who_met_every_requirement_completes() -> None:
    e = evaluate(full_record(P1))
    assert e.met
    assert (e.attended, e.sessions, e.attendance_ratio) == (14, 14, 1.0)
    decision = domain.decide(RULE, SESSIONS, full_record(P1), withdrawn=False)
    assert (decision.outcome, decision.unmet, decision.attendance_ratio) == (Outcome.COMPLETED, (), 1.0)


def test_required_sessions_round_up_and_one_absence_in_fourteen_is_allowed_at_ninety_percent() -> None:
    assert domain.required_sessions(RULE, 14) == 13
    assert domain.required_sessions(CompletionRule(min_attendance_ratio=0.5), 10) == 5
    assert domain.required_sessions(CompletionRule(min_attendance_ratio=0.0), 10) == 0
    assert evaluate(full_record(P1, absent=1)).met
    assert evaluate(full_record(P1, absent=2)).unmet == (domain.ATTENDANCE_BELOW_MINIMUM,)


def test_unmet_requirements_are_listed_by_code() -> None:
    e = evaluate(full_record(P1, absent=3, post=False, ojt=False))
    assert e.unmet == (domain.ATTENDANCE_BELOW_MINIMUM, domain.POST_TEST_MISSING, domain.OJT_NOT_COMPLETED)
    assert evaluate([]).unmet == e.unmet
    lenient = CompletionRule(min_attendance_ratio=0.5, require_post_test=False, require_ojt=False)
    assert evaluate(full_record(P1, absent=3, post=False, ojt=False), rule=lenient).met


def test_late_counts_as_attended_and_excused_does_not() -> None:
    facts = full_record(P1)
    late = [attend(P1, "s0", AttendanceStatus.LATE, at(0, 10)), attend(P1, "s1", AttendanceStatus.LATE, at(0, 14))]
    assert evaluate(facts + late).met
    excused = [attend(P1, s, AttendanceStatus.EXCUSED, at(0, 15)) for s in ("s0", "s1")]
    assert evaluate(facts + excused).unmet == (domain.ATTENDANCE_BELOW_MINIMUM,)


def test_the_decision_takes_the_facts_as_they_stand_and_a_withdrawal_never_completes() -> None:
    missing = full_record(P1, ojt=False)
    closed = domain.decide(RULE, SESSIONS, missing, withdrawn=False)
    assert (closed.outcome, closed.unmet, closed.attendance_ratio) == (
        Outcome.NOT_COMPLETED,
        (domain.OJT_NOT_COMPLETED,),
        1.0,
    )
    withdrawn = domain.decide(RULE, SESSIONS, full_record(P1), withdrawn=True)
    assert (withdrawn.outcome, withdrawn.unmet) == (Outcome.NOT_COMPLETED, (domain.WITHDRAWN,))
    nothing = domain.decide(RULE, SESSIONS, [], withdrawn=False)
    assert nothing.attendance_ratio == 0.0
    free = CompletionRule(min_attendance_ratio=0, require_post_test=False, require_ojt=False)
    assert domain.decide(free, SESSIONS, [], withdrawn=False).outcome is Outcome.COMPLETED


def test_the_decision_depends_on_the_set_of_facts_not_their_order() -> None:
    """A correction counts wherever it arrives: the latest fact of each subject decides."""
    facts = full_record(P1)  # the last requirement, the post-test, is met on day 7
    correction = [attend(P1, s, AttendanceStatus.ABSENT, at(8), f"fix-{s}") for s in ("s0", "s1", "s2")]
    for order in (facts + correction, correction + facts, list(reversed(facts + correction)), facts + correction * 2):
        decision = domain.decide(RULE, SESSIONS, order, withdrawn=False)
        assert decision.outcome is Outcome.NOT_COMPLETED
        assert decision.unmet == (domain.ATTENDANCE_BELOW_MINIMUM,)
        assert decision.record.post is not None
    assert domain.decide(RULE, SESSIONS, list(reversed(facts)), withdrawn=False).outcome is Outcome.COMPLETED


def test_the_latest_correction_wins_whatever_the_arrival_order() -> None:
    first = attend(P1, "s3", AttendanceStatus.ABSENT, at(1, 8), "x1")
    correction = attend(P1, "s3", AttendanceStatus.LATE, at(1, 11), "x2")
    for order in ([first, correction], [correction, first], [correction, first, correction, first]):
        assert domain.fold(order)[P1].status_of("s3") is AttendanceStatus.LATE
    # equal times: the fact id decides, so every replica agrees
    a = attend(P1, "s3", AttendanceStatus.ABSENT, at(1), "b")
    b = attend(P1, "s3", AttendanceStatus.PRESENT, at(1), "a")
    assert domain.fold([a, b])[P1].status_of("s3") is AttendanceStatus.ABSENT
    assert domain.fold([b, a])[P1].status_of("s3") is AttendanceStatus.ABSENT


def test_the_same_instant_in_another_offset_is_the_same_instant() -> None:
    wib = attend(P1, "s0", AttendanceStatus.ABSENT, datetime(2016, 7, 31, 9, tzinfo=WIB), "a")
    utc = attend(P1, "s0", AttendanceStatus.PRESENT, datetime(2016, 7, 31, 3, 0, 1, tzinfo=UTC), "b")
    assert domain.fold([utc, wib])[P1].status_of("s0") is AttendanceStatus.PRESENT


def test_a_repeated_fact_id_is_a_duplicate() -> None:
    one = attend(P1, "s0", AttendanceStatus.PRESENT, at(0), "same")
    other = attend(P1, "s0", AttendanceStatus.ABSENT, at(0, 23), "same")
    assert domain.fold([one, other])[P1].status_of("s0") is AttendanceStatus.PRESENT
    assert one.same_as(attend(P1, "s0", AttendanceStatus.PRESENT, at(0), "same"))
    assert not one.same_as(other)


def test_gain_is_post_minus_pre_as_fractions_of_their_maximum() -> None:
    pre, post = Assessment(AssessmentKind.PRE, 12, 20), Assessment(AssessmentKind.POST, 85, 100)
    assert domain.gain(pre, post) == 0.25
    assert domain.gain(None, post) is None
    assert domain.gain(pre, None) is None
    record = domain.fold(full_record(P1))[P1]
    assert domain.gain(record.assessment(AssessmentKind.PRE), record.assessment(AssessmentKind.POST)) == 0.4


def test_ojt_place_is_the_completion_else_the_assignment() -> None:
    assigned = Fact("as", P1, at(5), OJTAssignment("16.71.01.1001", "Tim Korkot"))
    assert domain.fold([assigned])[P1].ojt_kelurahan == "16.71.01.1001"
    done = Fact("dn", P1, at(6), OJTCompletion("16.71.01.1002", 5))
    assert domain.fold([assigned, done])[P1].ojt_kelurahan == "16.71.01.1002"


def context(now: datetime | None = None) -> domain.FactContext:
    return domain.FactContext(
        sessions={s.session_id: s for s in SESSIONS},
        enrolled=frozenset({P1}),
        known_kelurahan=frozenset({KEL}),
        now=now or datetime(2020, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("fact", "code"),
    [
        (attend(P2, "s0", AttendanceStatus.PRESENT, at(0)), domain.NOT_ENROLLED),
        (attend(P1, "s99", AttendanceStatus.PRESENT, at(0)), domain.UNKNOWN_SESSION),
        # session s4 is on 2 August; attendance taken on 1 August is for a session not held yet
        (attend(P1, "s4", AttendanceStatus.PRESENT, at(1)), domain.SESSION_NOT_YET_HELD),
        (attend(P1, "s0", AttendanceStatus.PRESENT, datetime(2030, 1, 1, tzinfo=UTC)), domain.OCCURRED_IN_FUTURE),
        (Fact("o", P1, at(6), OJTCompletion("16.71.09.9999", 3)), domain.UNKNOWN_KELURAHAN),
        (Fact("o", P1, at(6), OJTAssignment("16.71.09.9999", "m")), domain.UNKNOWN_KELURAHAN),
    ],
)
def test_facts_that_cannot_be_recorded_are_refused_with_a_code(fact: Fact, code: str) -> None:
    refusal = domain.refusal_of(fact, context())
    assert refusal is not None
    assert refusal.code == code
    assert refusal.message


def test_facts_that_can_be_recorded_are_not_refused() -> None:
    ctx = context()
    assert domain.refusal_of(attend(P1, "s4", AttendanceStatus.PRESENT, at(2, 7)), ctx) is None
    assert domain.refusal_of(Fact("o", P1, at(6), OJTCompletion(KEL, 3)), ctx) is None
    assert domain.refusal_of(Fact("p", P1, at(7), Assessment(AssessmentKind.POST, 3, 10)), ctx) is None
    # a session today, with attendance taken now: allowed; a clock a minute fast: allowed
    now = at(3, 10)
    assert (
        domain.refusal_of(attend(P1, "s6", AttendanceStatus.PRESENT, now + timedelta(minutes=1)), context(now)) is None
    )


def test_schedule_problems_are_reported() -> None:
    modules = [Module(code="DPK", title="Dasar Program KOTAKU")]
    classes = [TrainingClass(class_id="A", name="Kelas A"), TrainingClass(class_id="A", name="Kelas A2")]
    sessions = [
        Session(session_id="d1", date=date(2016, 7, 31), kind=SessionKind.CLASSROOM, module_code="DPK"),
        Session(session_id="d1", date=date(2016, 8, 9), kind=SessionKind.CLASSROOM, module_code="XXX"),
    ]
    problems = domain.schedule_problems(date(2016, 7, 31), date(2016, 8, 7), modules, classes, sessions)
    assert any("duplicate class ids: A" in p for p in problems)
    assert any("duplicate session ids: d1" in p for p in problems)
    assert any("outside the training's dates" in p for p in problems)
    assert any("unknown module XXX" in p for p in problems)
    assert domain.schedule_problems(date(2016, 7, 31), date(2016, 8, 7), modules, classes[:1], sessions[:1]) == []


def test_certificate_codes_are_formatted_and_typed_codes_normalised() -> None:
    code = domain.format_certificate_code(list(range(16)))
    assert code == "2345-6789-ABCD-EFGH"
    assert domain.normalise_certificate_code(" 2345 6789abcdefgh ") == code
    assert domain.normalise_certificate_code("2345-6789-ABCD-EFG") is None
    assert domain.normalise_certificate_code("2345-6789-ABCD-EFG0") is None  # 0 is not in the alphabet
    assert domain.normalise_certificate_code("'; DROP TABLE certificates; --") is None
    with pytest.raises(ValueError, match="symbols"):
        domain.format_certificate_code([1, 2, 3])


def test_request_shapes_refuse_what_makes_no_sense() -> None:
    with pytest.raises(ValidationError, match="default_status needs class_id"):
        AttendanceSheet.model_validate({"session_id": "d1", "default_status": "present"})
    with pytest.raises(ValidationError, match="give records"):
        AttendanceSheet.model_validate({"session_id": "d1", "class_id": "A"})
    with pytest.raises(ValidationError, match="either facilitator_ids or class_id"):
        OJTAssignments.model_validate(
            {"kelurahan_code": KEL, "mentor": "Pak Mentor", "class_id": "A", "facilitator_ids": [P1]}
        )
    fact = {"kind": "assessment", "fact_id": "f1", "occurred_at": "2016-08-07T10:00:00+07:00"}
    with pytest.raises(ValidationError, match="score exceeds max_score"):
        SyncBatch.model_validate(
            {"facts": [{**fact, "facilitator_id": str(P1), "assessment": "post", "score": 11, "max_score": 10}]}
        )
    with pytest.raises(ValidationError):
        SyncBatch.model_validate({"facts": [{**fact, "facilitator_id": str(P1), "kind": "casino"}]})
    with pytest.raises(ValidationError):  # a naive time is ambiguous offline data
        SyncBatch.model_validate(
            {
                "facts": [
                    {
                        **fact,
                        "occurred_at": "2016-08-07T10:00:00",
                        "facilitator_id": str(P1),
                        "assessment": "post",
                        "score": 1,
                        "max_score": 10,
                    }
                ]
            }
        )
