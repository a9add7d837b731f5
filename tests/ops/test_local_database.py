"""Each clone has its own local database: deploy/local/postgres.sh names it after the clone's path
and writes the name to .local/db.env, where shared.tools.devstack reads it. Runs no PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from shared.tools import devstack
from tests.ops.conftest import REPO, run

SCRIPT = Path("deploy") / "local" / "postgres.sh"


def database_of(root: Path, **env: str) -> tuple[int, str]:
    """What the script of the clone at ``root`` calls its database."""
    clean = {k: v for k, v in os.environ.items() if k not in {"KOTAKU_PG_DATABASE", "KOTAKU_LOCAL_DIR"}}
    done = run("bash", root / SCRIPT, "database", env={**clean, **env})
    return done.returncode, (done.stdout + done.stderr).strip()


def clone(at: Path) -> Path:
    (at / SCRIPT).parent.mkdir(parents=True)
    shutil.copy(REPO / SCRIPT, at / SCRIPT)
    return at


def expected(root: Path) -> str:
    return "kotaku_" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]


def test_the_database_is_named_after_the_clone_s_path() -> None:
    code, name = database_of(REPO)
    assert code == 0, name
    assert re.fullmatch(r"kotaku_[0-9a-f]{8}", name)
    assert name == expected(REPO)


def test_two_clones_get_two_databases_and_each_keeps_its_own(tmp_path: Path) -> None:
    first, second = clone(tmp_path / "first" / "kotaku-ops"), clone(tmp_path / "second" / "kotaku-ops")
    names = [database_of(first), database_of(second), database_of(first)]
    assert [code for code, _ in names] == [0, 0, 0]
    assert names[0][1] == expected(first)
    assert names[1][1] == expected(second)
    assert names[0][1] != names[1][1]
    assert names[2] == names[0]  # the same clone, the same database, at every start


def test_a_clone_reached_through_a_symlink_keeps_its_database(tmp_path: Path) -> None:
    real = clone(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    assert database_of(tmp_path / "link") == database_of(real)


def test_kotaku_pg_database_overrides_the_name_and_must_be_a_plain_sql_name() -> None:
    assert database_of(REPO, KOTAKU_PG_DATABASE="kotaku_mine") == (0, "kotaku_mine")
    for bad in ("kotaku; DROP DATABASE postgres", "Kotaku", "kotaku-ops", "1kotaku"):
        code, out = database_of(REPO, KOTAKU_PG_DATABASE=bad)
        assert code == 1, bad
        assert "KOTAKU_PG_DATABASE must be a lower-case SQL name" in out


def test_start_writes_the_database_name_to_db_env() -> None:
    text = (REPO / SCRIPT).read_text()
    assert '"KOTAKU_PG_DATABASE=$database"' in text
    assert "CREATE DATABASE $database" in text


def write_db_env(local: Path, **extra: str) -> None:
    local.mkdir(parents=True, exist_ok=True)
    pairs = {
        "KOTAKU_PG_PORT": "5432",
        **{f"KOTAKU_PG_PASSWORD_{s}": "pw" for s in ("REGISTRATION", "TRAINING", "REPORTING", "TEST")},
        **extra,
    }
    (local / "db.env").write_text("".join(f"{k}={v}\n" for k, v in pairs.items()))


def test_devstack_uses_the_database_named_in_db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_LOCAL_DIR", str(tmp_path))
    write_db_env(tmp_path, KOTAKU_PG_DATABASE="kotaku_0123abcd")
    assert devstack.local_database() == "kotaku_0123abcd"
    proc = devstack.service_process("training", port=18002)
    assert proc.env["KOTAKU_DATABASE_URL"] == (
        "postgresql://kotaku_training:pw@127.0.0.1:5432/kotaku_0123abcd?sslmode=disable"
    )
    # the tests' throwaway databases are still given explicitly
    other = devstack.service_process("training", port=18002, database="kotaku_t0000000000")
    assert other.env["KOTAKU_DATABASE_URL"].endswith("/kotaku_t0000000000?sslmode=disable")


def test_devstack_refuses_a_db_env_without_a_database_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_LOCAL_DIR", str(tmp_path))
    write_db_env(tmp_path)
    with pytest.raises(SystemExit, match=r"names no database .*postgres\.sh start"):
        devstack.service_process("reporting", port=18003)
