"""deploy/k8s rendered with kustomize (kubectl's) and validated offline: core kinds with
kubernetes-validate, Strimzi resources against JSON Schemas generated from Strimzi's own CRDs,
KEDA resources against hand-written schemas of the fields we use; plus consistency with the code
(topic names, consumer groups, regions)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.registration.app import DEFINITION as REGISTRATION
from services.reporting.app import DEFINITION as REPORTING
from services.training.app import DEFINITION as TRAINING
from shared.kernel.topics import TopicClass, all_topics, national_topics, topic_class
from shared.tools import kafka_acls
from shared.tools.devstack import APART, READ_MODELS
from tests.ops.conftest import REPO, run, tool

K8S = REPO / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
REGIONS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
CR_SCHEMAS = {
    "Kafka": "kafka-kafka-strimzi-io-v1.json",
    "KafkaNodePool": "kafkanodepool-kafka-strimzi-io-v1.json",
    "KafkaTopic": "kafkatopic-kafka-strimzi-io-v1.json",
    "KafkaUser": "kafkauser-kafka-strimzi-io-v1.json",
    "ScaledObject": "scaledobject-keda-sh-v1alpha1.json",
    "TriggerAuthentication": "triggerauthentication-keda-sh-v1alpha1.json",
}
CORE_API_VERSIONS = {"v1", "apps/v1"}

Docs = list[dict[str, Any]]


def render(path: Path) -> Docs:
    done = run(tool("kubectl"), "kustomize", path)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def docs() -> Docs:
    return render(K8S)


def by_kind(docs: Docs) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for d in docs:
        found[d["kind"]][d["metadata"]["name"]] = d
    return found


def validate_core(docs: Docs, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    done = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", "1.37.0", path)
    return done.returncode, done.stdout + done.stderr


def validate_custom(docs: Docs, tmp_path: Path) -> tuple[int, str]:
    out, worst = "", 0
    for kind, schema in CR_SCHEMAS.items():
        files = []
        for i, d in enumerate(x for x in docs if x["kind"] == kind):
            files.append(tmp_path / f"{kind}-{i}.json")
            files[-1].write_text(json.dumps(d))
        if files:
            done = run(tool("check-jsonschema"), "--schemafile", SCHEMAS / schema, *files)
            out += done.stdout + done.stderr
            worst = max(worst, done.returncode)
    return worst, out


def test_generated_region_files_are_up_to_date() -> None:
    done = run(tool("python"), K8S / "regions.py", "check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_kind_is_validated_and_nothing_is_left_unrendered(docs: Docs) -> None:
    kinds = {d["kind"] for d in docs}
    core = {d["kind"] for d in docs if d["apiVersion"] in CORE_API_VERSIONS}
    assert kinds == core | set(CR_SCHEMAS), f"no validator for {kinds - core - set(CR_SCHEMAS)}"
    text = yaml.safe_dump_all(docs)
    for placeholder in ("KAFKA_USER", "=REGION", ": REGION"):
        assert placeholder not in text
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"kotaku"}


def test_core_resources_pass_kubernetes_validate(docs: Docs, tmp_path: Path) -> None:
    core = [d for d in docs if d["apiVersion"] in CORE_API_VERSIONS]
    code, out = validate_core(core, tmp_path)
    assert code == 0, out
    assert out.count(" passed for resource ") == len(core), out


def test_custom_resources_pass_their_schemas(docs: Docs, tmp_path: Path) -> None:
    code, out = validate_custom(docs, tmp_path)
    assert code == 0, out
    assert out.count("ok -- validation done") == len({d["kind"] for d in docs if d["kind"] in CR_SCHEMAS})


@pytest.mark.parametrize(
    ("kind", "path", "value", "core"),
    [
        ("KafkaTopic", ("spec", "replicas"), "three", False),
        ("KafkaUser", ("spec", "authorization", "acls", 0, "resource", "patternType"), "prefixed", False),
        ("Kafka", ("spec", "kafka", "listenerz"), [], False),
        ("KafkaNodePool", ("spec", "roles"), ["leader"], False),
        ("ScaledObject", ("spec", "maxReplicas"), 3, False),
        ("ScaledObject", ("spec", "triggers", 0, "metadata", "lagThreshold"), "0", False),
        ("TriggerAuthentication", ("spec", "secretTargetRef", 0, "secret"), "x", False),
        ("Deployment", ("spec", "template", "spec", "containers", 0, "readinessProbe", "periodSecond"), 5, True),
        ("Service", ("spec", "ports", 0, "port"), "http", True),
    ],
)
def test_the_validators_reject_a_broken_resource(
    docs: Docs, tmp_path: Path, kind: str, path: tuple[Any, ...], value: Any, core: bool
) -> None:
    doc = json.loads(json.dumps(next(d for d in docs if d["kind"] == kind)))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    code, out = validate_core([doc], tmp_path) if core else validate_custom([doc], tmp_path)
    assert code != 0, f"{kind} with {path} = {value!r} was accepted:\n{out}"


def test_kafka_cluster_has_three_brokers_three_controllers_rf3_min_isr2(docs: Docs) -> None:
    k = by_kind(docs)
    pools = k["KafkaNodePool"].values()
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) == 3
    assert sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"]) == 3
    (cluster,) = k["Kafka"].values()
    config = cluster["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False
    listeners = cluster["spec"]["kafka"]["listeners"]
    assert [(li["tls"], li["authentication"]["type"]) for li in listeners] == [(True, "scram-sha-512")]
    assert cluster["spec"]["kafka"]["authorization"]["type"] == "simple"
    for pool in pools:
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"]


def test_topics_are_the_code_s_topics_with_rf3(docs: Docs) -> None:
    assert REGIONS[:1] == ["oc02"]
    assert len(REGIONS) >= 2
    topics = by_kind(docs)["KafkaTopic"]
    assert set(topics) == set(all_topics(REGIONS))
    for name, topic in topics.items():
        assert topic["spec"]["replicas"] == 3, name
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, name
        assert topic["spec"]["partitions"] >= 3, name
    assert any(name.endswith(".dlq") for name in topics)


# retention.ms per topic class, written out here rather than taken from shared/kernel/topics.py
RETENTION_BY_CLASS = {
    TopicClass.CANONICAL: -1,  # rebuilds replay canonical streams from the beginning
    TopicClass.INTAKE: 7 * 24 * 3600 * 1000,  # raw NIKs: days, not forever
    TopicClass.REJECTIONS: 30 * 24 * 3600 * 1000,
}


def test_topics_keep_their_messages_as_long_as_their_class_says(docs: Docs) -> None:
    topics = by_kind(docs)["KafkaTopic"]
    seen: dict[TopicClass | None, set[str]] = defaultdict(set)
    for name, topic in topics.items():
        kind = topic_class(name)
        seen[kind].add(name)
        assert kind is not None, f"{name} has no topic class"
        assert topic["spec"]["config"]["retention.ms"] == RETENTION_BY_CLASS[kind], name
    for region in REGIONS:
        for stream in ("registration.facilitator", "training.participation"):
            assert f"{region}.{stream}.v1.dlq" in seen[TopicClass.CANONICAL]
        for stream in ("registration.intake", "training.intake"):
            assert {f"{region}.{stream}.v1", f"{region}.{stream}.v1.dlq"} <= seen[TopicClass.INTAKE]
        assert {f"{region}.rejections.v1", f"{region}.rejections.v1.dlq"} <= seen[TopicClass.REJECTIONS]
    assert len(seen[TopicClass.CANONICAL]) == 10 * len(REGIONS)


def rules(user: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) of every ACL of a rendered KafkaUser."""
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    return {
        (a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], operation)
        for a in user["spec"]["authorization"]["acls"]
        for operation in a["operations"]
    }


def test_the_kafka_users_are_the_acl_table(docs: Docs) -> None:
    users = by_kind(docs)["KafkaUser"]
    table = kafka_acls.principals([REGISTRATION, TRAINING], REPORTING, REGIONS)
    assert sorted(users) == sorted(p.user for p in table)
    for principal in table:
        assert rules(users[principal.user]) == {
            (a.resource.value, a.name, a.pattern.value, a.operation.value) for a in principal.acls
        }


def test_each_kafka_user_writes_only_its_own_topics(docs: Docs) -> None:
    """Read from the rendered manifests, independently of how the table is built."""
    users = {name: rules(user) for name, user in by_kind(docs)["KafkaUser"].items()}

    def topics(user: str, operation: str) -> set[str]:
        return {name for kind, name, _, op in users[user] if kind == "topic" and op == operation}

    for found in users.values():  # no prefix on topics, no operation beyond reading and writing
        assert {(kind, pattern) for kind, _, pattern, _ in found} <= {
            ("topic", "literal"), ("group", "literal"), ("group", "prefix")
        }  # fmt: skip
        assert {op for *_, op in found} <= {"Read", "Write"}
    for region in REGIONS:
        sender = f"kotaku-{region}-sender"
        assert topics(sender, "Write") == {f"{region}.registration.intake.v1", f"{region}.training.intake.v1"}
        assert topics(sender, "Read") == {f"{region}.rejections.v1"}
        canonical = {t for t in all_topics([region]) if topic_class(t) is TopicClass.CANONICAL and ".dlq" not in t}
        for service in ("registration", "training"):
            user = f"kotaku-{region}-{service}"
            # its own canonical streams and the rejections of its intake, then the dead letters of what it reads
            own = {t for t in topics(user, "Write") if not t.endswith(".dlq")}
            assert own == {t for t in canonical if t.startswith(f"{region}.{service}.")} | {f"{region}.rejections.v1"}
            assert {t.removesuffix(".dlq") for t in topics(user, "Write") - own} == topics(user, "Read")
            assert all(t.startswith(f"{region}.") for t in topics(user, "Read"))
            groups = {name for kind, name, _, _ in users[user] if kind == "group"}
            assert groups
            assert all(g.startswith(f"{service}.") and g.endswith(f".{region}") for g in groups), groups
    reporting = "kotaku-reporting"
    # besides its consumers' dead letters, reporting publishes the national xAPI statements
    published = topics(reporting, "Write") - {t for t in topics(reporting, "Write") if t.endswith(".dlq")}
    assert published == {t for t in national_topics() if not t.endswith(".dlq")}
    assert {t.removesuffix(".dlq") for t in topics(reporting, "Write") - published} == topics(reporting, "Read")
    assert {topic_class(t) for t in topics(reporting, "Read")} == {TopicClass.CANONICAL}
    assert len(topics(reporting, "Read")) == 5 * len(REGIONS)


def env_of(deployment: dict[str, Any], config_maps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for item in container["env"]:
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env


def test_regional_deployments_scale_on_their_own_region_s_lag(docs: Docs) -> None:
    k = by_kind(docs)
    for region in REGIONS:
        for service, port in (("registration", "8001"), ("training", "8002")):
            deployment = k["Deployment"][f"{region}-{service}"]
            env = env_of(deployment, k["ConfigMap"])
            assert env["KOTAKU_REGIONS"] == region
            assert env["KOTAKU_HTTP_PORT"] == port
            assert env["KOTAKU_HTTP_HOST"] == "0.0.0.0"  # noqa: S104
            assert env["KOTAKU_KAFKA_SASL_USERNAME"] == f"kotaku-{region}-{service}"
            assert env["KOTAKU_KAFKA_SASL_PASSWORD"]["secretKeyRef"]["name"] == f"kotaku-{region}-{service}"
            (init,) = deployment["spec"]["template"]["spec"]["initContainers"]
            assert init["command"] == ["python", "-m", f"services.{service}", "migrate"]
            assert deployment["spec"]["selector"]["matchLabels"]["kotaku.go.id/region"] == region
            scaled = k["ScaledObject"][f"{region}-{service}"]
            assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
            assert scaled["spec"]["maxReplicaCount"] <= min(t["spec"]["partitions"] for t in k["KafkaTopic"].values())
            for trigger in scaled["spec"]["triggers"]:
                meta = trigger["metadata"]
                assert trigger["type"] == "kafka"
                assert meta["consumerGroup"].startswith(f"{service}.")
                assert meta["consumerGroup"].endswith(f".{region}")
                assert meta["topic"] in k["KafkaTopic"]
                assert meta["topic"].startswith(f"{region}.")
                auth = k["TriggerAuthentication"][trigger["authenticationRef"]["name"]]
                (password,) = [r for r in auth["spec"]["secretTargetRef"] if r["parameter"] == "password"]
                assert password["name"] == f"kotaku-{region}-{service}"  # KEDA reads the lag as the service
        assert k["ScaledObject"][f"{region}-training"]["spec"]["triggers"][0]["metadata"]["consumerGroup"] == (
            f"training.roster.{region}"
        )
    assert REPORTING_API not in {s["spec"]["scaleTargetRef"]["name"] for s in k["ScaledObject"].values()}


# National reporting: one API Deployment (every region, behind the Service) and one consumer
# Deployment per region (KOTAKU_PROCESS_ROLE, KOTAKU_REGIONS; shared/bootstrap/service.py).
REPORTING_API = "reporting-api"
REPORTING_SERVE = ["python", "-m", "services.reporting", "serve"]
REPORTING_MIGRATE = ["python", "-m", "services.reporting", "migrate"]
# what differs between the API and a consumer Deployment's environment; the rest must not
PER_ROLE = {"KOTAKU_PROCESS_ROLE", "KOTAKU_REGIONS", "KOTAKU_CONSUMERS"}
# which of reporting's consumers each per-region Deployment runs: the same split as the local stack
RUNS = {
    "consumers": ",".join(READ_MODELS["reporting"]),
    "xapi": ",".join(APART["reporting"][1]),
}


def consumers_of(region: str) -> str:
    return f"reporting-consumers-{region}"


def xapi_of(region: str) -> str:
    return f"reporting-xapi-{region}"


def per_region(region: str) -> dict[str, str]:
    """A region's reporting Deployments, by what they run."""
    return {"consumers": consumers_of(region), "xapi": xapi_of(region)}


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = container
    return found


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def probe_problems(name: str, deployment: dict[str, Any]) -> list[str]:
    container = container_of(deployment)
    port = {p["name"]: str(p["containerPort"]) for p in container["ports"]}.get("http", "")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    problems = []
    if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ready":
        problems.append(f"{name}: no readiness probe on /ready")
    if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/health":
        problems.append(f"{name}: no liveness probe on /health")
    scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"}
    if not port or not selects(scrape, annotations):
        problems.append(f"{name}: Prometheus scrape annotations {annotations} are not {scrape}")
    if pod_labels(deployment).get("app.kubernetes.io/name") != "reporting":
        problems.append(f"{name}: pods not labelled app.kubernetes.io/name=reporting")
    return problems


def _consumer_problems(
    name: str,
    consumer: dict[str, Any],
    api: dict[str, Any],
    api_env: dict[str, str],
    config_maps: dict[str, Any],
    region: str,
    runs: str,
) -> list[str]:
    problems = []
    env = env_of(consumer, config_maps)
    if env.get("KOTAKU_PROCESS_ROLE") != "consumers":
        problems.append(f"{name}: KOTAKU_PROCESS_ROLE={env.get('KOTAKU_PROCESS_ROLE')}")
    if env.get("KOTAKU_REGIONS") != region:
        problems.append(f"{name}: KOTAKU_REGIONS={env.get('KOTAKU_REGIONS')}")
    if env.get("KOTAKU_CONSUMERS") != RUNS[runs]:
        problems.append(f"{name}: KOTAKU_CONSUMERS={env.get('KOTAKU_CONSUMERS')}, not {RUNS[runs]}")
    if pod_labels(consumer).get("kotaku.go.id/region") != region:
        problems.append(f"{name}: pods not labelled with their region")
    problems += probe_problems(name, consumer)
    # the same database, Kafka user, secrets and mounts as the API
    shared = {key: value for key, value in env.items() if key not in PER_ROLE}
    if shared != {key: value for key, value in api_env.items() if key not in PER_ROLE}:
        problems.append(f"{name}: environment differs from {REPORTING_API}'s beyond {sorted(PER_ROLE)}")
    for key in ("image", "volumeMounts"):
        if container_of(consumer).get(key) != container_of(api).get(key):
            problems.append(f"{name}: {key} differs from {REPORTING_API}'s")
    if consumer["spec"]["template"]["spec"].get("volumes") != api["spec"]["template"]["spec"].get("volumes"):
        problems.append(f"{name}: volumes differ from {REPORTING_API}'s")
    return problems


def reporting_problems(docs: Docs) -> list[str]:
    """What is wrong with the rendered shape of national reporting (empty: nothing)."""
    k = by_kind(docs)
    deployments, config_maps = k["Deployment"], k["ConfigMap"]
    reporting = {n: d for n, d in deployments.items() if container_of(d)["command"] == REPORTING_SERVE}
    wanted = {REPORTING_API, *(name for region in REGIONS for name in per_region(region).values())}
    if set(reporting) != wanted:
        return [f"reporting Deployments are {sorted(reporting)}, not {sorted(wanted)}"]
    problems: list[str] = []
    api = reporting[REPORTING_API]
    api_env = env_of(api, config_maps)
    if api_env.get("KOTAKU_PROCESS_ROLE") != "api":
        problems.append(f"{REPORTING_API}: KOTAKU_PROCESS_ROLE={api_env.get('KOTAKU_PROCESS_ROLE')}")
    if api_env.get("KOTAKU_REGIONS") != ",".join(REGIONS):
        problems.append(f"{REPORTING_API}: KOTAKU_REGIONS={api_env.get('KOTAKU_REGIONS')}")
    problems += probe_problems(REPORTING_API, api)
    if "KOTAKU_CONSUMERS" in api_env:
        problems.append(f"{REPORTING_API}: KOTAKU_CONSUMERS={api_env['KOTAKU_CONSUMERS']}")
    for region in REGIONS:
        for runs, name in per_region(region).items():
            problems += _consumer_problems(name, reporting[name], api, api_env, config_maps, region, runs)
    # migrations run once, before the API serves: in the API's init container and nowhere else
    migrating = [
        n
        for n, d in deployments.items()
        for init in d["spec"]["template"]["spec"].get("initContainers", [])
        if init["command"] == REPORTING_MIGRATE
    ]
    if migrating != [REPORTING_API]:
        problems.append(f"reporting's migrate init container is in {migrating}, not only in {REPORTING_API}")
    # the Service sends requests to the API pods only
    selector = k["Service"]["reporting"]["spec"]["selector"]
    selected = sorted(n for n, d in deployments.items() if selects(selector, pod_labels(d)))
    if selected != [REPORTING_API]:
        problems.append(f"the reporting Service selects the pods of {selected}, not only {REPORTING_API}'s")
    # no Deployment claims another one's pods
    for name, deployment in reporting.items():
        claimed = [
            other
            for other, d in deployments.items()
            if other != name and selects(deployment["spec"]["selector"]["matchLabels"], pod_labels(d))
        ]
        if claimed:
            problems.append(f"{name}'s selector also selects the pods of {claimed}")
    # lag-based scaling, where there is any, scales a region's consumers on that region's lag
    for scaled in k["ScaledObject"].values():
        target = scaled["spec"]["scaleTargetRef"]["name"]
        if target == REPORTING_API:
            problems.append(f"{scaled['metadata']['name']} scales {REPORTING_API}, which consumes nothing")
        for region in REGIONS:
            if target == consumers_of(region) and any(
                not t["metadata"]["consumerGroup"].endswith(f".{region}") for t in scaled["spec"]["triggers"]
            ):
                problems.append(f"{scaled['metadata']['name']} scales {target} on another region's lag")
    return problems


def test_reporting_runs_one_api_and_per_region_read_model_and_xapi_deployments(docs: Docs) -> None:
    assert reporting_problems(docs) == []
    k = by_kind(docs)
    assert k["Deployment"][REPORTING_API]["spec"]["replicas"] >= 2
    assert k["Service"]["reporting"]["spec"]["ports"][0]["targetPort"] == "http"


def _doc(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _set_env(docs: Docs, deployment: str, name: str, value: str) -> None:
    env = container_of(_doc(docs, "Deployment", deployment))["env"]
    env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]


def _consumer(docs: Docs, n: int = 0) -> dict[str, Any]:
    return _doc(docs, "Deployment", consumers_of(REGIONS[n]))


REPORTING_BREAKAGES: dict[str, Callable[[Docs], object]] = {
    "consumer runs everything": lambda docs: _set_env(docs, consumers_of(REGIONS[0]), "KOTAKU_PROCESS_ROLE", "all"),
    "consumer of every region": lambda docs: _set_env(
        docs, consumers_of(REGIONS[0]), "KOTAKU_REGIONS", ",".join(REGIONS)
    ),
    "consumer of another region": lambda docs: _set_env(docs, consumers_of(REGIONS[0]), "KOTAKU_REGIONS", REGIONS[1]),
    "api runs consumers": lambda docs: _set_env(docs, REPORTING_API, "KOTAKU_PROCESS_ROLE", "all"),
    "api misses a region": lambda docs: _set_env(docs, REPORTING_API, "KOTAKU_REGIONS", REGIONS[0]),
    "a region without consumers": lambda docs: docs.remove(_consumer(docs, 1)),
    "a region without xapi": lambda docs: docs.remove(_doc(docs, "Deployment", xapi_of(REGIONS[1]))),
    "xapi with the read models": lambda docs: _set_env(
        docs, consumers_of(REGIONS[0]), "KOTAKU_CONSUMERS", f"{RUNS['consumers']},{RUNS['xapi']}"
    ),
    "xapi pod runs every consumer": lambda docs: container_of(_doc(docs, "Deployment", xapi_of(REGIONS[0])))[
        "env"
    ].remove({"name": "KOTAKU_CONSUMERS", "value": RUNS["xapi"]}),
    "service selects consumers": lambda docs: _doc(docs, "Service", "reporting")["spec"]["selector"].pop(
        "app.kubernetes.io/component"
    ),
    "migrations in a consumer": lambda docs: _consumer(docs)["spec"]["template"]["spec"].update(
        initContainers=_doc(docs, "Deployment", REPORTING_API)["spec"]["template"]["spec"]["initContainers"]
    ),
    "consumer not ready-probed": lambda docs: container_of(_consumer(docs)).pop("readinessProbe"),
    "consumer not scraped": lambda docs: _consumer(docs)["spec"]["template"]["metadata"].pop("annotations"),
    "consumer on another database": lambda docs: _set_env(
        docs, consumers_of(REGIONS[0]), "KOTAKU_DATABASE_URL", "postgresql://elsewhere/kotaku"
    ),
    "overlapping selectors": lambda docs: _consumer(docs)["spec"]["selector"]["matchLabels"].pop("kotaku.go.id/region"),
    "api scaled on lag": lambda docs: next(d for d in docs if d["kind"] == "ScaledObject")["spec"][
        "scaleTargetRef"
    ].update(name=REPORTING_API),
}


@pytest.mark.parametrize("breakage", sorted(REPORTING_BREAKAGES))
def test_the_reporting_checks_catch_a_wrong_shape(docs: Docs, breakage: str) -> None:
    broken = json.loads(json.dumps(docs))
    REPORTING_BREAKAGES[breakage](broken)
    assert reporting_problems(broken), f"{breakage}: not noticed"


def test_each_overlay_renders_on_its_own() -> None:
    for region in REGIONS:
        names = {(d["kind"], d["metadata"]["name"]) for d in render(K8S / "overlays" / region)}
        assert ("Deployment", f"{region}-training") in names
        assert ("KafkaTopic", f"{region}.registration.facilitator.v1.dlq") in names
        consumers = render(K8S / "national" / "reporting-consumers" / region)
        assert [(d["kind"], d["metadata"]["name"]) for d in consumers if d["kind"] != "ConfigMap"] == [
            ("Deployment", consumers_of(region)),
            ("Deployment", xapi_of(region)),
        ]
