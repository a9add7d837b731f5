"""Recent reports, kept for a moment so that reads never queue behind ingestion.

A report read while the consumers write is out of date within milliseconds anyway; what matters is
that it is one consistent snapshot and says how old it is (``data_as_of``). So each report (by
path and query, the export format aside) is built at most once per ``fresh`` seconds: requests in
between get the last one. An older report, up to ``stale`` seconds, is still answered at once while
ONE background refresh builds the next; older than that (or never built) it is built before the
answer, and concurrent requests for it wait for the same build. ``fresh = 0`` turns caching off.
A refresh that fails is logged and the next request tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.reporting.domain.models import Report

log = logging.getLogger(__name__)


def now() -> float:
    """Monotonic seconds (a function of this module, so that tests can move its clock alone)."""
    return time.monotonic()


Build = Callable[[], Awaitable[Report]]


@dataclass
class _Entry:
    report: Report
    built_at: float  # monotonic seconds
    json: bytes | None = None  # the report serialised, once, when first asked for as JSON


class ReportCache:
    def __init__(self, fresh: float, stale: float | None = None, size: int = 256) -> None:
        self.fresh = fresh
        self.stale = stale if stale is not None else 5 * fresh
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._building: dict[str, asyncio.Future[Report]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: str, build: Build) -> Report:
        if self.fresh <= 0:
            return await build()
        entry = self._entries.get(key)
        age = now() - entry.built_at if entry else None
        if entry is not None and age is not None and age < self.stale:
            self._entries.move_to_end(key)
            if age >= self.fresh and key not in self._building:
                task = asyncio.create_task(self._refresh(key, build))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return entry.report
        return await self._build(key, build)

    def json_of(self, key: str, report: Report) -> bytes:
        """``report`` (as :meth:`get` returned it for ``key``) as JSON, serialised once per built
        report: every request between two builds answers the same bytes."""
        entry = self._entries.get(key)
        if entry is None or entry.report is not report:  # caching off, or evicted meanwhile
            return report.model_dump_json().encode()
        if entry.json is None:
            entry.json = report.model_dump_json().encode()
        return entry.json

    async def _build(self, key: str, build: Build) -> Report:
        """Build ``key`` once, whoever asks meanwhile; the result is kept."""
        running = self._building.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Report] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            started = now()
            report = await build()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: a failure nobody else waited for is not an error
            raise
        finally:
            self._building.pop(key, None)
        self._entries[key] = _Entry(report, started)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        future.set_result(report)
        return report

    async def _refresh(self, key: str, build: Build) -> None:
        try:
            await self._build(key, build)
        except Exception as exc:  # served stale meanwhile; the next request tries again
            log.warning("report refresh failed", extra={"report": key, "error": repr(exc)})
