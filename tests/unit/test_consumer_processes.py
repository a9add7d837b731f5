"""How reporting's regions are split over consumer processes (local stack, benchmark), and how much of
the time a consumer with a backlog may take."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from services.registration.app import DEFINITION as REGISTRATION
from services.reporting.app import DEFINITION as REPORTING
from services.training.app import DEFINITION as TRAINING
from shared.bootstrap.service import UnusableSettings, chosen_consumers
from shared.kernel.consumer import BacklogPriority, backlog_pause, events_behind, may_raise_priority
from shared.kernel.runtime import Runtime
from shared.kernel.settings import load_settings
from shared.tools import devstack
from shared.tools.devstack import APART, READ_MODELS, consumer_groups, region_groups, split_processes

REGIONS = [f"oc{n:02d}" for n in range(1, 21)]
SECRETS = {"KOTAKU_PG_PORT": "5432", "KOTAKU_PG_PASSWORD_REPORTING": "pw", "KOTAKU_NIK_HASH_KEY": "k" * 40}


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=-2, max_value=40))
def test_groups_cover_every_region_once_in_order_and_evenly(count: int, groups: int) -> None:
    regions = REGIONS[:count] if count <= 20 else [f"oc{n:02d}" for n in range(1, count + 1)]
    out = region_groups(regions, groups)
    assert [r for group in out for r in group] == regions
    assert all(out)
    assert len(out) == max(1, min(groups, len(regions)))
    assert max(map(len, out)) - min(map(len, out)) <= 1


def test_twenty_regions_in_four_groups() -> None:
    assert region_groups(REGIONS, 4) == [REGIONS[0:5], REGIONS[5:10], REGIONS[10:15], REGIONS[15:20]]


@pytest.mark.parametrize(
    ("regions", "setting", "sizes"),
    [
        (["oc02"], "", [1]),
        (["oc02", "oc05"], "", [2]),
        (REGIONS, "", [20]),
        (REGIONS, "4", [5] * 4),
        (REGIONS, "20", [1] * 20),
    ],
)
def test_consumer_groups_default_and_setting(
    monkeypatch: pytest.MonkeyPatch, regions: list[str], setting: str, sizes: list[int]
) -> None:
    monkeypatch.setenv("KOTAKU_REPORTING_CONSUMER_GROUPS", setting)
    assert [len(g) for g in consumer_groups(regions)] == sizes


@pytest.mark.parametrize(
    ("busy", "behind", "duty", "pause"),
    [
        (0.2, 50_000, 1.0, 0.0),  # no limit: never pauses
        (0.2, 1_999, 0.5, 0.0),  # a training's burst, not a backlog: no pause
        (0.2, 2_000, 0.5, 0.2),  # half the time working, half pausing
        (0.1, 90_000, 0.25, 0.3),  # a quarter of the time working
    ],
)
def test_a_consumer_with_a_backlog_pauses_in_proportion_to_its_work(
    busy: float, behind: int, duty: float, pause: float
) -> None:
    assert backlog_pause(busy, behind, 2000, duty) == pytest.approx(pause)


def test_events_behind_are_counted_from_the_batch_to_the_high_watermarks() -> None:
    def record(topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord(topic, partition, offset, 0, 0, None, b"{}", None, 0, 2, [])

    ends = {TopicPartition("a", 0): 100, TopicPartition("a", 1): 7, TopicPartition("b", 0): 500}
    kafka = SimpleNamespace(highwater=ends.get)
    batch = [record("a", 0, 40), record("a", 0, 41), record("a", 1, 6), record("c", 0, 3)]
    assert events_behind(kafka, batch) == 58  # a/0: 100 - 42; a/1: at its end; c/0: not known yet


def test_every_consumer_of_a_split_service_runs_in_exactly_one_kind_of_process() -> None:
    """The read models' processes and the processes apart (the xAPI statements) together run each
    of reporting's consumers once: none left unconsumed, none consumed twice."""
    runtime = cast(Runtime, SimpleNamespace(outbox=None))
    names = [c.name for c in chosen_consumers(REPORTING, runtime, [])]
    split = [*READ_MODELS["reporting"], *APART["reporting"][1]]
    assert sorted(split) == sorted(names)
    assert len(set(split)) == len(split)


def test_only_the_processes_that_write_the_outbox_relay_it() -> None:
    """Reporting's outbox holds only the xAPI statements: its read models' processes leave the
    relay (and the CPU of publishing) to the statements' process. A service whose API writes its
    outbox relays it from every consuming process."""
    read_models, statements = READ_MODELS["reporting"], APART["reporting"][1]
    assert not REPORTING.relays_outbox(read_models)
    assert REPORTING.relays_outbox(statements)
    assert REPORTING.relays_outbox([*read_models, *statements])  # one process for all (the tests')
    assert not REPORTING.relays_outbox([])
    for other in (REGISTRATION, TRAINING):  # their APIs write the outbox too
        assert other.outbox_writers is None
        assert other.relays_outbox([])
        assert other.relays_outbox(["any.consumer"])


def test_split_processes_name_their_consumers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devstack, "local_secrets", lambda: {**SECRETS})
    monkeypatch.setattr(devstack, "kafka_bootstrap", lambda: "127.0.0.1:9092")
    monkeypatch.setattr(devstack, "local_credentials", lambda: (Path("credentials.jsonl"), {}))
    procs = split_processes("reporting", port=8003, regions=REGIONS, groups=region_groups(REGIONS, 2), database="db")
    assert [p.name for p in procs] == [
        "reporting",
        "reporting-consumers-1",
        "reporting-xapi-1",
        "reporting-consumers-2",
        "reporting-xapi-2",
    ]
    api, *workers = procs
    assert api.env["KOTAKU_PROCESS_ROLE"] == "api"
    assert "KOTAKU_CONSUMERS" not in api.env
    assert {p.env["KOTAKU_CONSUMER_BACKLOG_DUTY"] for p in workers} == {"0.1"}  # regions share the cores
    assert {p.env["KOTAKU_CONSUMER_BACKLOG_NICE"] for p in workers} == {"19"}  # a catch-up takes the idle time
    assert {p.env["KOTAKU_CONSUMERS"] for p in workers} == {
        "reporting.facilitators,reporting.trainings",
        "reporting.xapi",
    }
    assert [p.env["KOTAKU_REGIONS"] for p in workers] == [",".join(REGIONS[:10])] * 2 + [",".join(REGIONS[10:])] * 2


def test_a_process_naming_a_consumer_the_service_lacks_does_not_start() -> None:
    runtime = cast(Runtime, SimpleNamespace(outbox=None))
    assert [c.name for c in chosen_consumers(REPORTING, runtime, ["reporting.xapi"])] == ["reporting.xapi"]
    with pytest.raises(UnusableSettings, match=r"reporting\.nothing"):
        chosen_consumers(REPORTING, runtime, ["reporting.trainings", "reporting.nothing"])
    assert load_settings(database_url="postgresql://x", consumers=" reporting.xapi, ").consumers == ["reporting.xapi"]


class Priorities:
    """Records what BacklogPriority asks of the kernel instead of asking it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, base: int = 0) -> None:
        self.values: list[tuple[int, int]] = []
        self.base = base
        monkeypatch.setattr("shared.kernel.consumer.os.getpriority", lambda which, who: self.base)
        monkeypatch.setattr(
            "shared.kernel.consumer.os.setpriority", lambda which, who, value: self.values.append((who, value))
        )


def test_a_process_runs_lower_while_any_of_its_consumers_works_off_a_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = Priorities(monkeypatch)
    priority = BacklogPriority(19, permitted=True)
    priority.note("trainings_oc03", in_backlog=False)
    assert kernel.values == []  # nobody behind: nothing changes
    priority.note("trainings_oc03", in_backlog=True)
    priority.note("xapi_oc03", in_backlog=True)
    assert [v for _, v in kernel.values] == [19]  # lowered once, by the first
    assert priority.lowered
    priority.note("trainings_oc03", in_backlog=False)
    assert [v for _, v in kernel.values] == [19]  # another is still behind
    priority.note("xapi_oc03", in_backlog=False)
    assert [v for _, v in kernel.values] == [19, 0]  # back where it was
    assert not priority.lowered
    assert {who for who, _ in kernel.values} == {threading.get_native_id()}  # the event loop's thread


def test_a_lowered_priority_never_goes_past_the_lowest_and_returns_to_where_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kernel = Priorities(monkeypatch, base=5)
    priority = BacklogPriority(19, permitted=True)
    priority.note("a", in_backlog=True)
    priority.note("a", in_backlog=False)
    assert [v for _, v in kernel.values] == [19, 5]


def test_without_the_right_to_take_it_back_the_priority_is_never_lowered(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = Priorities(monkeypatch)
    priority = BacklogPriority(19, permitted=False)
    priority.note("a", in_backlog=True)
    assert kernel.values == []
    assert priority.nice == 0
    assert not priority.lowered


def test_a_refused_change_turns_the_backlog_priority_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(which: int, who: int, value: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("shared.kernel.consumer.os.getpriority", lambda which, who: 0)
    monkeypatch.setattr("shared.kernel.consumer.os.setpriority", refuse)
    priority = BacklogPriority(10, permitted=True)
    priority.note("a", in_backlog=True)
    assert priority.nice == 0
    assert not priority.lowered


@pytest.mark.parametrize(
    ("capabilities", "permitted"),
    [("0000000000000000", False), ("0000000000800000", True), ("000001ffffffffff", True), ("0000000000000001", False)],
)
def test_the_right_to_raise_priority_is_read_from_the_effective_capabilities(
    tmp_path: Path, capabilities: str, permitted: bool
) -> None:
    status = tmp_path / "status"
    status.write_text(f"Name:\tpython\nCapInh:\t0000000000000000\nCapEff:\t{capabilities}\n")
    assert may_raise_priority(status) is permitted
    assert may_raise_priority(tmp_path / "missing") is False
