"""What the entrypoints hand to the use cases, taken from the process's runtime: the PostgreSQL
store (units of work and reads) and the plain values the use cases need from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.registration.repositories.unit_of_work import PgStore
from shared.kernel.runtime import Runtime


@dataclass(frozen=True)
class Wiring:
    store: PgStore
    served: list[str]  # the regions this deployment serves (KOTAKU_REGIONS)
    key: bytes  # KOTAKU_NIK_HASH_KEY (empty if unset: hashing then refuses to run)

    @classmethod
    def of(cls, runtime: Runtime) -> Wiring:
        settings = runtime.settings
        return cls(
            store=PgStore(runtime.pool, runtime.outbox),
            served=settings.regions,
            key=settings.nik_hash_key.get_secret_value().encode(),
        )
