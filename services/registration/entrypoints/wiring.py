"""What the entrypoints hand to the use cases, taken from the process's runtime: the PostgreSQL
store (units of work and reads) and the plain values the use cases need from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.registration.repositories.unit_of_work import PgStore
from shared.kernel.runtime import Runtime
from shared.kernel.settings import Settings

MIN_NIK_HASH_KEY_LENGTH = 32


def nik_hash_key_problem(settings: Settings) -> str | None:
    """Why ``KOTAKU_NIK_HASH_KEY`` cannot key the NIK hashes (None if it can): every NIK is stored
    and matched as its HMAC, so the key must be there, long enough not to be guessed, and never
    change once facilitators are registered."""
    key = settings.nik_hash_key.get_secret_value()
    how = "generate one with `openssl rand -base64 48` and keep it in a secret"
    if not key.strip():
        return f"KOTAKU_NIK_HASH_KEY is not set ({how})"
    if len(key) < MIN_NIK_HASH_KEY_LENGTH:
        return f"KOTAKU_NIK_HASH_KEY has {len(key)} characters, at least {MIN_NIK_HASH_KEY_LENGTH} are needed ({how})"
    return None


@dataclass(frozen=True)
class Wiring:
    store: PgStore
    served: list[str]  # the regions this deployment serves (KOTAKU_REGIONS)
    key: bytes  # KOTAKU_NIK_HASH_KEY (checked when the service starts: nik_hash_key_problem)

    @classmethod
    def of(cls, runtime: Runtime) -> Wiring:
        settings = runtime.settings
        return cls(
            store=PgStore(runtime.pool, runtime.outbox),
            served=settings.regions,
            key=settings.nik_hash_key.get_secret_value().encode(),
        )
