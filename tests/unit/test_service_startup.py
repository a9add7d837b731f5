"""What a service needs of its settings before it starts: registration refuses, in one line,
to start without a NIK hash key of at least 32 characters; the other services never need one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.registration.app import DEFINITION as REGISTRATION
from services.registration.entrypoints.wiring import MIN_NIK_HASH_KEY_LENGTH, nik_hash_key_problem
from services.reporting.app import DEFINITION as REPORTING
from services.training.app import DEFINITION as TRAINING
from shared.bootstrap.service import UnusableSettings, check_settings, create_app
from shared.kernel.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * MIN_NIK_HASH_KEY_LENGTH


def settings(key: str) -> Settings:
    return load_settings(database_url="postgresql://nobody@127.0.0.1:1/none", nik_hash_key=key)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "KOTAKU_NIK_HASH_KEY is not set"),
        (" " * 40, "KOTAKU_NIK_HASH_KEY is not set"),
        ("k" * 31, "KOTAKU_NIK_HASH_KEY has 31 characters, at least 32 are needed"),
    ],
)
def test_registration_refuses_a_missing_or_short_key(key: str, problem: str) -> None:
    found = nik_hash_key_problem(settings(key))
    assert found is not None
    assert found.startswith(problem)
    assert "\n" not in found
    assert key.strip() == "" or key not in found  # the key itself is never shown
    with pytest.raises(UnusableSettings, match=f"^registration cannot start: {problem}"):
        check_settings(REGISTRATION, settings(key))
    with pytest.raises(UnusableSettings):
        create_app(REGISTRATION, settings(key))


def test_a_key_of_32_characters_will_do() -> None:
    assert nik_hash_key_problem(settings(GOOD_KEY)) is None
    create_app(REGISTRATION, settings(GOOD_KEY))


@pytest.mark.parametrize("definition", [TRAINING, REPORTING], ids=["training", "reporting"])
def test_the_other_services_do_not_need_the_key(definition: Any) -> None:
    check_settings(definition, settings(""))
    create_app(definition, settings(""))


def test_serving_without_a_key_stops_at_once_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")}
    env |= {"KOTAKU_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "KOTAKU_NIK_HASH_KEY": "too-short"}
    done = subprocess.run(
        [sys.executable, "-m", "services.registration", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "registration cannot start: KOTAKU_NIK_HASH_KEY has 9 characters, at least 32 are needed "
        "(generate one with `openssl rand -base64 48` and keep it in a secret)"
    ]


def test_deployments_give_the_key_to_registration_only_and_from_a_secret() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    holders = {name for name, s in compose["services"].items() if "KOTAKU_NIK_HASH_KEY" in s.get("environment", {})}
    assert holders == {"registration"}
    assert compose["services"]["registration"]["environment"]["KOTAKU_NIK_HASH_KEY"].startswith(
        "${KOTAKU_NIK_HASH_KEY:?"
    )
    found = []
    for path in sorted((ROOT / "deploy" / "k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            for container in _containers(doc):
                for env in container.get("env", []):
                    if env.get("name") == "KOTAKU_NIK_HASH_KEY":
                        found.append((path.name, container["name"], env.get("value"), env.get("valueFrom")))
    assert found == [
        ("registration.yaml", "registration", None, {"secretKeyRef": {"name": "kotaku-nik-hash-key", "key": "key"}})
    ]


def _containers(doc: Any) -> list[dict[str, Any]]:
    spec = (((doc or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def test_what_a_service_built_at_start_is_kept_out_of_full_collections() -> None:
    """A full collection that walks the modules, the app and its clients held a consumer process's
    event loop 100-180 ms every two seconds; once started, a service freezes them (in a process of
    its own here: freezing is for the life of the process)."""
    script = (
        "import gc\n"
        "import services.reporting.app\n"
        "from shared.bootstrap.service import GC_THRESHOLDS, keep_out_of_full_collections\n"
        "keep_out_of_full_collections()\n"
        "print(gc.get_freeze_count(), len(gc.get_objects(2)),\n"
        "      gc.get_threshold() == GC_THRESHOLDS, GC_THRESHOLDS[0] > 700)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    frozen, oldest, thresholds, larger = out.stdout.split()
    assert int(frozen) > 50_000  # everything imported and built so far
    assert int(oldest) < 1_000  # next to nothing left for a full collection to walk
    assert thresholds == "True"
    assert larger == "True"  # young objects collected in larger steps than CPython's default
