"""Two clones on one machine share the PostgreSQL cluster's roles, and so their passwords: starting
one clone must never change the password another clone is using. Runs deploy/local/postgres.sh
start for two throwaway clones against the machine's cluster and then connects with this clone's
credentials."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import asyncpg

from shared.tools.localenv import read_env_file
from tests.ops.conftest import REPO, run

SCRIPT = Path("deploy") / "local" / "postgres.sh"
ROLES_FILE = Path(os.environ.get("KOTAKU_PG_ROLES_FILE", "/var/lib/postgresql/kotaku-roles.env"))


def start(root: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"KOTAKU_PG_DATABASE", "KOTAKU_LOCAL_DIR"}}
    done = run("bash", root / SCRIPT, "start", env=clean)
    assert done.returncode == 0, done.stdout + done.stderr
    return read_env_file(root / ".local" / "db.env")


def passwords(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("KOTAKU_PG_PASSWORD_")}


async def connects(env: dict[str, str]) -> int:
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=int(env["KOTAKU_PG_PORT"]),
        user="kotaku_test",
        password=env["KOTAKU_PG_PASSWORD_TEST"],
        database="postgres",
    )
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


def test_starting_other_clones_leaves_this_clone_s_credentials_working(tmp_path: Path) -> None:
    assert ROLES_FILE.exists(), "no role passwords beside the cluster yet: run `make infra` first"
    ours = read_env_file(REPO / ".local" / "db.env")
    clones = []
    for name in ("first", "second"):
        root = tmp_path / name / "kotaku-ops"
        (root / SCRIPT).parent.mkdir(parents=True)
        shutil.copy(REPO / SCRIPT, root / SCRIPT)
        clones.append(root)
    try:
        first, second, first_again = start(clones[0]), start(clones[1]), start(clones[0])
        assert passwords(first) == passwords(second) == passwords(first_again) == passwords(ours)
        assert first["KOTAKU_PG_DATABASE"] != second["KOTAKU_PG_DATABASE"] != ours["KOTAKU_PG_DATABASE"]
        assert asyncio.run(connects(ours)) == 1
        assert asyncio.run(connects(second)) == 1
    finally:
        for root in clones:
            database = read_env_file(root / ".local" / "db.env").get("KOTAKU_PG_DATABASE")
            if database:
                run("runuser", "-u", "postgres", "--", "dropdb", "--if-exists", "-p", ours["KOTAKU_PG_PORT"], database)
