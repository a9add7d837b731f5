"""Prometheus configuration and alert rules, checked with promtool; and the live /metrics output of
a running service checked with ``promtool check metrics``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.tools.devstack import SERVICES
from tests.integration.conftest import Stack
from tests.ops.conftest import REPO, run, tool
from tests.ops.metric_names import EXTERNAL, kotaku_series, series_in

PROM = REPO / "deploy" / "prometheus"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load(PROM / "alerts.yml")["groups"] for rule in group["rules"] if "alert" in rule]


def test_prometheus_config_and_rules_are_valid() -> None:
    done = run(tool("promtool"), "check", "config", PROM / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout + done.stderr


def test_alert_rules_pass_their_unit_tests() -> None:
    done = run(tool("promtool"), "test", "rules", PROM / "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_catch_a_rule_that_misses_the_first_dead_letter(tmp_path: Path) -> None:
    """Without the new-series branch, the first dead letter of a process (a counter that appears at
    1) never shows in increase(); the unit tests must notice."""
    rules = (PROM / "alerts.yml").read_text()
    broken = re.sub(r"\n\s+or\n\s+\(\n.*?offset 15m\)\n\s+\)", "", rules, flags=re.S)
    assert broken != rules
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(PROM / "alerts_test.yml", tmp_path / "alerts_test.yml")
    done = run(tool("promtool"), "test", "rules", tmp_path / "alerts_test.yml")
    assert done.returncode != 0
    assert "KotakuDeadLetters" in done.stdout + done.stderr


def test_every_alert_is_unit_tested_and_has_a_runbook_entry() -> None:
    tested = {t["alertname"] for case in load(PROM / "alerts_test.yml")["tests"] for t in case["alert_rule_test"]}
    runbook = (REPO / "docs" / "operations.md").read_text().lower()
    for rule in alert_rules():
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool unit test"
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f"### {anchor}" in runbook, f"docs/operations.md has no section for {anchor}"
        assert rule["labels"]["severity"] in {"warning", "critical"}


def test_alerts_use_only_series_that_exist() -> None:
    known = kotaku_series() | EXTERNAL
    for rule in alert_rules():
        used = series_in(rule["expr"])
        assert used, rule["alert"]
        assert used <= known, f"{rule['alert']} uses unknown series {used - known}"
    names = {n for rule in alert_rules() for n in series_in(rule["expr"])}
    for required in ("kotaku_dead_letters_total", "kotaku_outbox_oldest_unsent_age_seconds", "up"):
        assert required in names


def test_scrape_config_covers_the_three_services_on_their_ports() -> None:
    config = load(PROM / "prometheus.yml")
    targets = {
        job["job_name"]: (
            job.get("metrics_path", "/metrics"),
            [t for sc in job["static_configs"] for t in sc["targets"]],
        )
        for job in config["scrape_configs"]
    }
    for name, port in SERVICES.items():
        assert targets[f"kotaku-{name}"] == ("/metrics", [f"{name}:{port}"])
    # reporting's consumers run in their own process, which has the consumer metrics
    assert targets["kotaku-reporting-consumers"] == ("/metrics", ["reporting-consumers:8003"])


@pytest.mark.real
async def test_live_metrics_of_a_running_service_pass_promtool(stack: Stack) -> None:
    stack.start("registration")
    url = stack.url("registration")
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{url}/ready")).status_code == 200
        assert (await http.get(f"{url}/api/v1/facilitators/not-a-uuid")).status_code in {400, 401, 404, 422}
        response = await http.get(f"{url}/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'kotaku_http_requests_total{method="GET",route="/ready",service="registration",status="200"}' in text
    assert "faststream_" in text  # the broker middleware's series share the registry
    done = run(tool("promtool"), "check", "metrics", stdin=text)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "", f"promtool check metrics found problems:\n{done.stdout}"
