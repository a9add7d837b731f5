"""The provisioned Grafana dashboard: every panel's PromQL parses (promql-parser, and promtool as a
second opinion with Prometheus' own parser), uses only series that exist, and filters by the
service and region template variables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.ops.conftest import REPO, run, tool
from tests.ops.metric_names import EXTERNAL, kotaku_series, series_in

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "kotaku.json"
# Series with a region label: a panel on them must honour the region variable.
REGIONAL = {"kotaku_events_consumed_total", "kotaku_dead_letters_total", "kotaku_consumer_retries_total",
            "kotaku_events_emitted_total", "kafka_consumergroup_lag"}  # fmt: skip


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in panels(dashboard()["panels"]) for t in p.get("targets", [])]


def concrete(expr: str, service: str = "registration", region: str = "oc02") -> str:
    """The query as Grafana sends it: built-in intervals and template variables substituted."""
    values = {"__rate_interval": "1m", "__interval": "15s", "__range": "6h", "service": service, "region": region}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


def test_every_panel_query_parses_with_promql_parser() -> None:
    found = queries()
    assert len(found) >= 20
    for title, expr in found:
        for service, region in (("registration", "oc02"), (".+", ".+"), ("(registration|training)", "(oc02|oc05)")):
            try:
                promql_parser.parse(concrete(expr, service, region))
            except ValueError as exc:
                pytest.fail(f"panel {title!r}: {exc}\n{expr}")


def test_the_parser_rejects_a_broken_query() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        promql_parser.parse(concrete('sum(rate(kotaku_http_requests_total{service=~"$service"}[$__rate_interval])'))
    with pytest.raises(ValueError, match="matrix"):
        promql_parser.parse("rate(kotaku_http_requests_total)")


def test_every_panel_query_passes_promtool(tmp_path: Path) -> None:
    """Prometheus' own parser and type checker (the version Debian ships), through a rules file."""
    rules = [{"record": f"kotaku:panel_{i}", "expr": concrete(expr)} for i, (_, expr) in enumerate(queries())]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    done = run(tool("promtool"), "check", "rules", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_queries_use_existing_series_and_the_template_variables() -> None:
    known = kotaku_series() | EXTERNAL
    for title, expr in queries():
        used = series_in(expr)
        assert used, title
        assert used <= known, f"panel {title!r} uses unknown series {used - known}"
        if any(n.startswith("kotaku_") for n in used):
            assert "$service" in expr, f"panel {title!r} ignores the service variable"
        if used & REGIONAL:
            assert "$region" in expr, f"panel {title!r} ignores the region variable"


def test_the_dashboard_covers_what_operations_needs() -> None:
    exprs = [e for _, e in queries()]

    def has(pattern: str) -> bool:
        return any(re.search(pattern, e) for e in exprs)

    assert has(r"sum by \(outcome\) \(rate\(kotaku_events_consumed_total")
    assert has(r"kotaku_dead_letters_total")
    assert has(r"kotaku_outbox_backlog")
    assert has(r"kotaku_outbox_oldest_unsent_age_seconds")
    for q in ("0.5", "0.95", "0.99"):
        assert has(
            rf"histogram_quantile\({q}, sum by \(le, consumer\) \(rate\(kotaku_event_pipeline_latency_seconds_bucket"
        )
    assert has(r"rate\(kotaku_http_requests_total")
    assert has(r"kotaku_http_request_duration_seconds_bucket")
    assert has(r"kafka_consumergroup_lag")


def test_dashboard_structure_and_provisioning() -> None:
    d = dashboard()
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert {"datasource", "service", "region"} <= set(variables)
    for name in ("service", "region"):
        assert variables[name]["multi"]
        assert variables[name]["includeAll"]
        assert variables[name]["allValue"] == ".+"
    ids = [p["id"] for p in panels(d["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels(d["panels"]):
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
            assert p["gridPos"]["w"] > 0
            assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24

    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "kotaku.yml").read_text())["providers"][0]
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert provider["type"] == "file"
    assert datasource["datasources"][0]["uid"] == variables["datasource"]["current"]["value"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
