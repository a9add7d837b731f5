"""The Kafka consumers of the reporting service, each subscribed once per region (groups
``<name>.<region>``): ``reporting.facilitators`` (facilitator and org unit streams) and
``reporting.trainings`` (training, enrollment and participation streams). Both go through the one
pipeline of :mod:`shared.kernel.pipeline`: decoded by ``decoding.py``, deduplicated into
``processed_events`` and applied by the projection in the same transaction. The rebuild runs the
same pipeline in bulk mode: ``bulk_apply`` writes the base tables only, ``derive_all`` the
derived ones once at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.reporting.entrypoints.decoding import decode
from services.reporting.repositories.projections import ApplyFn, facilitators, trainings
from shared.kernel.consumer import Consumer
from shared.kernel.db import Conn
from shared.kernel.pipeline import Apply
from shared.kernel.topics import ENROLLMENT, FACILITATOR, ORGUNIT, PARTICIPATION, TRAINING


def _bulk(apply: ApplyFn) -> Apply:
    """The projection's apply for a rebuild: base tables only (or their staging tables); bulk mode
    takes no locks (one writer per aggregate)."""

    async def bulk_apply(conn: Conn, events: Sequence[Any]) -> None:
        await apply(conn, events, derive=False)

    return bulk_apply


FACILITATORS = Consumer(
    name=facilitators.NAME,
    streams=(FACILITATOR, ORGUNIT),
    handles=facilitators.HANDLES,
    apply=facilitators.apply,
    decode=decode,
    bulk_apply=_bulk(facilitators.apply),
    derive_all=facilitators.derive_all,
    locks=facilitators.locks,
    commit_unflushed=True,
)
TRAININGS = Consumer(
    name=trainings.NAME,
    streams=(TRAINING, ENROLLMENT, PARTICIPATION),
    handles=trainings.HANDLES,
    apply=trainings.apply,
    decode=decode,
    bulk_apply=_bulk(trainings.apply),
    derive_all=trainings.derive_all,
    bulk_begin=trainings.bulk_begin,
    locks=trainings.locks,
    commit_unflushed=True,
)
CONSUMERS: tuple[Consumer, ...] = (FACILITATORS, TRAININGS)
