"""Offline sync: facts delivered in any order, any number of times, in any number of batches,
give the state and the decisions that in-order delivery gives (the pure fold and the completion
rules applied at the close)."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from services.training import domain
from services.training.domain import Assessment, Attendance, Fact, OJTAssignment, OJTCompletion
from shared.kernel.contracts import AssessmentKind, AttendanceStatus, CompletionRule, Session, SessionKind

WIB = timezone(timedelta(hours=7))
PEOPLE = [uuid.UUID(int=i) for i in range(1, 5)]
SESSIONS = [
    Session(session_id=f"s{i}", date=date(2016, 7, 31) + timedelta(days=i), kind=SessionKind.CLASSROOM)
    for i in range(4)
]
KELURAHAN = ["16.71.01.1005", "16.71.01.1006", "16.71.02.1001"]
RULES = [
    CompletionRule(),
    CompletionRule(min_attendance_ratio=0.5, require_post_test=False, require_ojt=True),
    CompletionRule(min_attendance_ratio=0.75, require_post_test=True, require_ojt=False),
]

# Few distinct instants, so that corrections at the same time (ties) happen often.
instants = st.integers(min_value=0, max_value=30).map(
    lambda m: datetime(2016, 7, 31, 8, tzinfo=WIB) + timedelta(hours=6 * m)
)
attendance = st.builds(
    Attendance, st.sampled_from([s.session_id for s in SESSIONS]), st.sampled_from(list(AttendanceStatus))
)
assessment = st.builds(
    lambda kind, score: Assessment(kind, float(score), 100.0),
    st.sampled_from(list(AssessmentKind)),
    st.integers(min_value=0, max_value=100),
)
ojt_assignment = st.builds(OJTAssignment, st.sampled_from(KELURAHAN), st.sampled_from(["Tim Korkot", "SF Kota"]))
ojt_completion = st.builds(OJTCompletion, st.sampled_from(KELURAHAN), st.integers(min_value=1, max_value=5))
fact_data = st.one_of(attendance, attendance, assessment, ojt_assignment, ojt_completion)


@st.composite
def fact_sets(draw: st.DrawFn) -> list[Fact]:
    """Distinct facts (unique ids) about a few people, with many corrections of the same things."""
    n = draw(st.integers(min_value=0, max_value=40))
    return [Fact(f"f{i:03d}", draw(st.sampled_from(PEOPLE)), draw(instants), draw(fact_data)) for i in range(n)]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Fact], list[list[Fact]]]:
    """The facts, and one way they may arrive: shuffled, some repeated, cut into sync batches."""
    facts = draw(fact_sets())
    shuffled = draw(st.permutations(facts))
    repeats = draw(st.lists(st.sampled_from(facts), max_size=20)) if facts else []
    stream = draw(st.permutations(list(shuffled) + repeats))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=4)))
    bounds = [0, *cuts, len(stream)]
    batches = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    return facts, batches


def in_order(facts: list[Fact]) -> list[Fact]:
    return sorted(facts, key=lambda f: f.rank)


class Store:
    """What the service does with each batch: keep a fact id's first version, ignore repeats."""

    def __init__(self) -> None:
        self.facts: dict[str, Fact] = {}

    def sync(self, batch: list[Fact]) -> tuple[int, int]:
        recorded = duplicates = 0
        for fact in batch:
            if fact.fact_id in self.facts:
                assert self.facts[fact.fact_id].same_as(fact)
                duplicates += 1
            else:
                self.facts[fact.fact_id] = fact
                recorded += 1
        return recorded, duplicates


def of(person: uuid.UUID, facts: list[Fact]) -> list[Fact]:
    return [f for f in facts if f.facilitator_id == person]


def outcomes(facts: list[Fact], rule: CompletionRule) -> dict[uuid.UUID, tuple[object, ...]]:
    records = domain.fold(facts)
    result: dict[uuid.UUID, tuple[object, ...]] = {}
    for person in PEOPLE:
        record = records.get(person, domain.EMPTY_RECORD)
        result[person] = (
            domain.evaluate(rule, SESSIONS, record),
            domain.decide(rule, SESSIONS, of(person, facts), withdrawn=False),
            domain.gain(record.assessment(AssessmentKind.PRE), record.assessment(AssessmentKind.POST)),
            record.ojt_kelurahan,
        )
    return result


class Service:
    """The service's behaviour: each batch records new facts; the close decides everyone, once."""

    def __init__(self, rule: CompletionRule) -> None:
        self.rule = rule
        self.store = Store()

    def sync(self, batch: list[Fact]) -> None:
        self.store.sync(batch)

    def close(self) -> dict[uuid.UUID, domain.Decision]:
        facts = list(self.store.facts.values())
        return {person: domain.decide(self.rule, SESSIONS, of(person, facts), withdrawn=False) for person in PEOPLE}


@settings(max_examples=400, deadline=None, database=None)
@given(deliveries())
def test_any_order_and_any_duplication_give_the_in_order_state(delivery: tuple[list[Fact], list[list[Fact]]]) -> None:
    facts, batches = delivery
    expected = domain.fold(in_order(facts))
    flat = [f for batch in batches for f in batch]
    assert domain.fold(flat) == expected
    store = Store()
    totals = [store.sync(batch) for batch in batches]
    assert sum(r for r, _ in totals) == len(facts)
    assert sum(d for _, d in totals) == len(flat) - len(facts)
    assert domain.fold(store.facts.values()) == expected
    for rule in RULES:
        assert outcomes(flat, rule) == outcomes(in_order(facts), rule)


@settings(max_examples=200, deadline=None, database=None)
@given(fact_sets())
def test_the_current_value_is_the_latest_fact_of_its_subject(facts: list[Fact]) -> None:
    current = domain.current_facts(facts)
    for fact in facts:
        held = current[fact.key]
        assert held.rank >= fact.rank
    assert set(current.values()) <= set(facts)
    assert len(current) == len({f.key for f in facts})


@settings(max_examples=300, deadline=None, database=None)
@given(deliveries(), st.sampled_from(RULES))
def test_decisions_are_the_same_for_any_order_any_repeats_and_any_batches(
    delivery: tuple[list[Fact], list[list[Fact]]], rule: CompletionRule
) -> None:
    """The close decides over the set of facts: in-order delivery one fact per request, the
    delivery's shuffled batches with repeats, one batch, and daily batches each reversed (a device
    syncing every evening) all decide the same, certificates (completions) included."""
    facts, batches = delivery
    in_order_service = Service(rule)
    for fact in in_order(facts):
        in_order_service.sync([fact])
    expected = in_order_service.close()

    one_batch = Service(rule)
    one_batch.sync([f for batch in batches for f in batch])
    assert one_batch.close() == expected

    batched = Service(rule)
    for batch in batches:
        batched.sync(batch)
    assert batched.close() == expected

    by_day: dict[object, list[Fact]] = {}
    for fact in in_order(facts):
        by_day.setdefault(fact.occurred_at.date(), []).append(fact)
    daily = Service(rule)
    for day_facts in by_day.values():
        daily.sync(list(reversed(day_facts)) + day_facts[: len(day_facts) // 2])
    assert daily.close() == expected
