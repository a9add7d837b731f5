"""The operations scripts parse, say how to use them, and the tool installer finds its tools."""

from __future__ import annotations

import pytest

from tests.ops.conftest import REPO, run

SCRIPTS = [
    "deploy/local/tools.sh",
    "deploy/local/kafka-cluster.sh",
    "deploy/docker/postgres-init.sh",
    "deploy/k8s/schemas/generate.sh",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_parses(script: str) -> None:
    done = run("bash", "-n", REPO / script)
    assert done.returncode == 0, done.stderr


def test_tools_are_installed_by_the_project_script() -> None:
    done = run("bash", REPO / "deploy/local/tools.sh", "install")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "promtool: promtool, version" in done.stdout


def test_cluster_script_explains_its_usage_and_refuses_bad_nodes() -> None:
    done = run("bash", REPO / "deploy/local/kafka-cluster.sh")
    assert done.returncode == 2
    assert "start|stop|status|reset|bootstrap|stop-node N" in done.stderr
    done = run("bash", REPO / "deploy/local/kafka-cluster.sh", "stop-node", "4")
    assert done.returncode == 1
    assert "node must be 1, 2 or 3" in done.stderr
    assert run("bash", REPO / "deploy/local/kafka-cluster.sh", "bootstrap").stdout.strip() == (
        "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    )
