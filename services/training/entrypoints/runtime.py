"""What the entrypoints take from the composition root (shared.bootstrap.service.Runtime) for the use
cases: the deployment's plain values, a PostgreSQL unit of work, the read side."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from services.training.repositories.reads import PostgresReads
from services.training.repositories.unit_of_work import PostgresUnitOfWork, unit_of_work
from services.training.usecases.ports import Deployment
from shared.kernel.runtime import Runtime


def deployment(runtime: Runtime) -> Deployment:
    return Deployment(source=runtime.source, regions=tuple(runtime.settings.regions))


def new_unit_of_work(runtime: Runtime) -> AbstractAsyncContextManager[PostgresUnitOfWork]:
    return unit_of_work(runtime.outbox)


def reads(runtime: Runtime) -> PostgresReads:
    return PostgresReads(runtime.pool)
