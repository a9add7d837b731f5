"""The Kafka consumers of the reporting service, each subscribed once per region (groups
``<name>.<region>``): ``reporting.facilitators`` (facilitator and org unit streams) and
``reporting.trainings`` (training, enrollment and participation streams). The shared consumer
decodes (``decoding.py``), deduplicates into ``processed_events`` and hands each batch to the
projection's ``apply`` in the same transaction. The rebuild uses the same projections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.reporting.entrypoints.decoding import decode
from services.reporting.repositories.projections import ApplyFn, facilitators, trainings
from shared.kernel.consumer import Consumer
from shared.kernel.db import Conn
from shared.kernel.topics import ENROLLMENT, FACILITATOR, ORGUNIT, PARTICIPATION, TRAINING


@dataclass(frozen=True)
class Projection:
    consumer: Consumer
    apply: ApplyFn
    derive_all: Callable[[Conn], Awaitable[None]]


FACILITATORS = Consumer(
    name=facilitators.NAME,
    streams=(FACILITATOR, ORGUNIT),
    handles=facilitators.HANDLES,
    apply=facilitators.apply,
    decode=decode,
)
TRAININGS = Consumer(
    name=trainings.NAME,
    streams=(TRAINING, ENROLLMENT, PARTICIPATION),
    handles=trainings.HANDLES,
    apply=trainings.apply,
    decode=decode,
)

PROJECTIONS: tuple[Projection, ...] = (
    Projection(FACILITATORS, facilitators.apply, facilitators.derive_all),
    Projection(TRAININGS, trainings.apply, trainings.derive_all),
)
CONSUMERS: tuple[Consumer, ...] = tuple(p.consumer for p in PROJECTIONS)
