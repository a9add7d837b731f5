"""docker-compose.yml and the image, checked offline: the Compose specification's JSON Schema
(check-jsonschema's vendored copy), and consistency with the local stack and the settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import yaml

from shared.kernel.settings import RetentionSettings, Settings
from shared.kernel.topics import DEFAULT_INTAKE_RETENTION_DAYS, DEFAULT_REJECTIONS_RETENTION_DAYS
from shared.tools.devstack import SERVICES, SPLIT
from tests.ops.conftest import REPO, run, tool

COMPOSE = REPO / "docker-compose.yml"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
INTERPOLATED = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def validate(path: Path) -> tuple[int, str]:
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", path)
    return done.returncode, done.stdout + done.stderr


def test_compose_file_follows_the_compose_specification() -> None:
    code, out = validate(COMPOSE)
    assert code == 0, out
    assert "ok -- validation done" in out


def test_the_validator_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    broken = COMPOSE.read_text().replace("condition: service_completed_successfully", "condition: finished", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    code, out = validate(tmp_path / "docker-compose.yml")
    assert code != 0
    assert "finished" in out


def test_services_match_the_local_stack() -> None:
    services = compose()["services"]
    settings_vars = {f"KOTAKU_{name.upper()}" for name in Settings.model_fields}
    for name, port in SERVICES.items():
        svc = services[name]
        env = svc["environment"]
        assert svc["command"] == ["python", "-m", f"services.{name}", "serve"]
        assert env["KOTAKU_HTTP_PORT"] == str(port)
        assert env["KOTAKU_HTTP_HOST"] == "0.0.0.0"  # noqa: S104
        assert env["KOTAKU_KAFKA_BOOTSTRAP"] == "kafka:29092"
        assert env["KOTAKU_REGIONS"].startswith("${KOTAKU_REGIONS")
        assert set(env) <= settings_vars, f"{name}: unknown settings {set(env) - settings_vars}"
        assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert "/ready" in " ".join(svc["healthcheck"]["test"])
        assert str(port) in " ".join(svc["healthcheck"]["test"])
        assert env["KOTAKU_DATABASE_URL"].startswith(f"postgresql://kotaku_{name}:${{KOTAKU_PG_PASSWORD_{name.upper()}")
        # migrations run first, as a separate one-shot container of the same image
        migrate = services[f"{name}-migrate"]
        assert migrate["command"] == ["python", "-m", f"services.{name}", "migrate"]
        assert migrate["image"] == svc["image"]
        assert migrate["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert migrate["environment"]["KOTAKU_DATABASE_URL"] == env["KOTAKU_DATABASE_URL"]
        assert svc["depends_on"][f"{name}-migrate"] == {"condition": "service_completed_successfully"}
        assert svc["depends_on"]["kafka-topics"] == {"condition": "service_completed_successfully"}
    assert "KOTAKU_NIK_HASH_KEY" in services["registration"]["environment"]


def test_split_services_run_an_api_and_a_consumer_process() -> None:
    """Reporting as the local stack runs it (shared/tools/devstack.py): the API process on its port
    and, in Compose, one consumer process for every region of the file."""
    services = compose()["services"]
    roles = set(get_args(Settings.model_fields["process_role"].annotation))
    assert {"all", "api", "consumers"} == roles
    assert SPLIT == ("reporting",)
    for name in SERVICES:
        serve = ["python", "-m", f"services.{name}", "serve"]
        processes = {n: svc for n, svc in services.items() if svc.get("command") == serve}
        if name not in SPLIT:
            assert list(processes) == [name]
            assert processes[name]["environment"].get("KOTAKU_PROCESS_ROLE", "all") == "all"
            continue
        assert set(processes) == {name, f"{name}-consumers"}
        api, consumers = services[name], services[f"{name}-consumers"]
        assert api["environment"]["KOTAKU_PROCESS_ROLE"] == "api"
        assert consumers["environment"]["KOTAKU_PROCESS_ROLE"] == "consumers"
        # the same settings but the role: every region, the same database, broker and port inside the container
        assert {k: v for k, v in consumers["environment"].items() if k != "KOTAKU_PROCESS_ROLE"} == {
            k: v for k, v in api["environment"].items() if k != "KOTAKU_PROCESS_ROLE"
        }
        assert consumers["environment"]["KOTAKU_REGIONS"] == "${KOTAKU_REGIONS:-oc02}"
        assert "ports" not in consumers  # nothing to call on it from the host but /metrics
        assert consumers["image"] == api["image"]
        assert consumers["depends_on"] == api["depends_on"]
        assert f"{name}-migrate" in consumers["depends_on"]
        probe = " ".join(consumers["healthcheck"]["test"])
        assert "/ready" in probe
        assert consumers["environment"]["KOTAKU_HTTP_PORT"] in probe


def test_the_topic_job_creates_topics_with_the_retention_of_their_class() -> None:
    services = compose()["services"]
    job = services["kafka-topics"]
    assert job["command"] == ["python", "-m", "shared.tools.kafka_admin"]
    assert job["depends_on"]["kafka"] == {"condition": "service_healthy"}
    env = job["environment"]
    assert env["KOTAKU_KAFKA_BOOTSTRAP"] == "kafka:29092"
    assert env["KOTAKU_REGIONS"] == "${KOTAKU_REGIONS:-oc02}"
    # the short-lived classes are configurable, with the code's defaults; canonical is not a setting
    defaults = {
        "KOTAKU_INTAKE_RETENTION_DAYS": DEFAULT_INTAKE_RETENTION_DAYS,
        "KOTAKU_REJECTIONS_RETENTION_DAYS": DEFAULT_REJECTIONS_RETENTION_DAYS,
    }
    assert {k: v for k, v in env.items() if "RETENTION" in k} == {k: f"${{{k}:-{d}}}" for k, d in defaults.items()}
    assert set(defaults) == {f"KOTAKU_{name.upper()}" for name in RetentionSettings.model_fields}


def test_infrastructure_images_and_healthchecks() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "127.0.0.1:9092:9092" in services["kafka"]["ports"]
    assert services["postgres"]["image"] == "postgres:15"
    for name in (
        "kafka",
        "postgres",
        "registration",
        "training",
        "reporting",
        "reporting-consumers",
        "prometheus",
        "grafana",
    ):
        assert services[name]["healthcheck"]["test"], name
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    init = services["postgres"]["volumes"][1].split(":")[0]
    done = run("bash", "-n", REPO / init)
    assert done.returncode == 0, done.stderr
    assert all(f"{svc}" in (REPO / init).read_text() for svc in SERVICES)


def test_no_literal_secret_in_the_compose_file() -> None:
    found = 0
    for name, svc in compose()["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                found += 1
                assert INTERPOLATED.match(str(value)), f"{name}.{key} must come from the environment: ${{{key}:?...}}"
            if "://" in str(value) and "@" in str(value):
                password = str(value).split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
                assert INTERPOLATED.match(password), f"{name}.{key} carries a literal password"
    assert found >= 6


def test_the_image_runs_as_a_non_root_user_and_never_gets_local_secrets() -> None:
    dockerfile = (REPO / "deploy" / "docker" / "Dockerfile").read_text()
    assert dockerfile.startswith("#")
    assert "FROM python:3.11" in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.M)
    assert "KOTAKU_HTTP_HOST=0.0.0.0" in dockerfile
    ignored = (REPO / "deploy" / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert {".local", ".venv", ".git"} <= set(ignored)
    for copied in re.findall(r"^COPY (\S+)", dockerfile, re.M):
        assert (REPO / copied).exists(), copied
