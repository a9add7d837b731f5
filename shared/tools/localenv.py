"""Where this clone keeps its local stack: ``.local/`` (or ``KOTAKU_LOCAL_DIR``), with the files
that ``deploy/local`` writes there. Each clone has its own broker and its own database, so every
tool, test and benchmark asks here for the addresses rather than assuming the default ports."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def local_dir() -> Path:
    return Path(os.environ.get("KOTAKU_LOCAL_DIR", ROOT / ".local"))


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; an absent file reads as empty."""
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def kafka_bootstrap() -> str:
    """``KOTAKU_KAFKA_BOOTSTRAP`` when set, else the address of this clone's broker as
    ``deploy/local/kafka.sh`` wrote it to ``.local/kafka.env``, else 127.0.0.1:9092."""
    if bootstrap := os.environ.get("KOTAKU_KAFKA_BOOTSTRAP", "").strip():
        return bootstrap
    return read_env_file(local_dir() / "kafka.env").get("KOTAKU_KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP
