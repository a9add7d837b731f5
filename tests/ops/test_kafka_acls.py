"""Least privilege on Kafka, shown with real clients on a real secured broker.

``deploy/local/kafka.sh`` starts a single KRaft node of this test's own (free ports, a temporary
directory) with ``KAFKA_SECURITY=sasl_ssl``: SCRAM-SHA-512 over TLS (a CA and a broker certificate
made with openssl at start), the StandardAuthorizer with ``allow.everyone.if.no.acl.found=false``
and a super user ``admin``. The SCRAM users are the principals of ``shared/tools/kafka_acls.py``
for oc02 and oc05, stored when the storage is formatted; the admin creates the topics of both
regions and the ACLs of the table. Every client below is built by ``shared/kernel/kafka.py`` from
``KafkaSettings`` holding one principal's credentials and the CA file, as the services build theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from services.registration.app import DEFINITION as REGISTRATION
from services.reporting.app import DEFINITION as REPORTING
from services.reporting.entrypoints.consumers import CONSUMERS as REPORTING_CONSUMERS
from services.reporting.entrypoints.kafka import partitions_of
from services.reporting.entrypoints.lag import measure_lag
from services.training.app import DEFINITION as TRAINING
from shared.kernel import kafka as kafka_clients
from shared.kernel.contracts import CertificateIssued, FacilitatorRegistered
from shared.kernel.settings import KafkaSettings
from shared.kernel.topics import TopicClass, all_topics, national_topics, topic_class
from shared.tools.dlq import list_dead_letters
from shared.tools.kafka_acls import Operation, Pattern, Principal, Resource, create_acls, describe_acls, principals
from shared.tools.kafka_admin import ensure_topics
from shared.tools.localenv import read_env_file
from tests.ops.conftest import REPO, run

pytestmark = [pytest.mark.real, pytest.mark.timeout(240)]

SCRIPT = REPO / "deploy" / "local" / "kafka.sh"
JARS = REPO / ".local" / "kafka" / "libs"
REGIONS = ["oc02", "oc05"]
TABLE = principals([REGISTRATION, TRAINING], REPORTING, REGIONS)
BY_USER = {p.user: p for p in TABLE}
TOPICS = all_topics(REGIONS) + national_topics()
# a topic name that does not exist: refused for lack of rights, not reported missing
UNKNOWN = "oc02.registration.facilitator.v9"


@dataclass(frozen=True)
class Secured:
    admin: KafkaSettings
    passwords: dict[str, str]

    def as_user(self, user: str, password: str | None = None) -> KafkaSettings:
        secret = SecretStr(password if password is not None else self.passwords[user])
        return self.admin.model_copy(update={"kafka_sasl_username": user, "kafka_sasl_password": secret})


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def kafka_sh(env: dict[str, str], command: str) -> str:
    done = run("bash", SCRIPT, command, env=env, timeout=180)
    assert done.returncode == 0, f"kafka.sh {command} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """A secured broker for this module only, stopped afterwards (its directory is temporary)."""
    local = tmp_path_factory.mktemp("secured-kafka")
    if (JARS / ".complete").exists():  # the jars this clone resolved; else the script resolves them
        (local / "kafka").mkdir()
        (local / "kafka" / "libs").symlink_to(JARS)
    passwords = {p.user: secrets.token_hex(16) for p in TABLE}
    users = local / "scram-users"
    users.touch(mode=0o600)
    users.write_text("".join(f"{user} {password}\n" for user, password in passwords.items()))
    port, controller_port = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")} | {
        "KOTAKU_LOCAL_DIR": str(local),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_HEAP": "256M",
        "KAFKA_SECURITY": "sasl_ssl",
        "KAFKA_SCRAM_USERS": str(users),
        "PYTHON": sys.executable,
    }
    try:
        started = kafka_sh(env, "start")
        assert f"starting broker on 127.0.0.1:{port} (sasl_ssl;" in started
        admin_env = read_env_file(local / "kafka" / "admin.env")
        admin = KafkaSettings.model_validate({k.removeprefix("KOTAKU_").lower(): v for k, v in admin_env.items()})
        assert admin.kafka_security_protocol == "SASL_SSL"
        assert admin.kafka_ssl_cafile == local / "kafka" / "tls" / "ca.crt"
        yield Secured(admin, passwords)
    finally:
        kafka_sh(env, "stop")


@pytest.fixture(scope="module")
async def secured(broker: Secured) -> Secured:
    """The topics of both regions, the ACLs of the table, and one record in every topic (so that
    a read either returns it or is refused), all done by the admin."""
    assert await ensure_topics(broker.admin, TOPICS, partitions=1) == TOPICS
    assert await create_acls(broker.admin, TABLE) == sum(len(p.acls) for p in TABLE)
    producer = kafka_clients.reliable_producer(broker.admin, "kotaku-acl-test-admin")
    await producer.start()
    try:
        await asyncio.gather(*(producer.send_and_wait(t, b"seed", key=b"seed") for t in TOPICS))
    finally:
        await producer.stop()
    return broker


async def stop_quietly(client: Any) -> None:
    """Stop or close a client whose start may have failed halfway."""
    closing = getattr(client, "stop", None) or client.close
    with contextlib.suppress(KafkaError):
        await closing()


async def test_the_broker_holds_exactly_the_acls_of_the_table(secured: Secured) -> None:
    assert await describe_acls(secured.admin) == {p.user: set(p.acls) for p in TABLE}


async def writes(secured: Secured, principal: Principal) -> set[str]:
    """The topics this principal's idempotent producer could write; every other attempt must be
    refused for lack of rights (not time out, not fail otherwise)."""
    producer = kafka_clients.reliable_producer(secured.as_user(principal.user), f"kotaku-acl-test-{principal.user}")
    await producer.start()
    written = set()
    try:
        for topic in [*TOPICS, UNKNOWN]:
            try:
                await asyncio.wait_for(producer.send_and_wait(topic, b"probe", key=b"probe"), 20)
            except TopicAuthorizationFailedError:
                continue
            written.add(topic)
    finally:
        await producer.stop()
    return written


async def test_each_principal_writes_exactly_what_the_table_allows(secured: Secured) -> None:
    written = dict(zip(BY_USER, await asyncio.gather(*(writes(secured, p) for p in TABLE)), strict=True))
    for principal in TABLE:
        assert written[principal.user] == set(principal.topics(Operation.WRITE)), principal.user
    # the cases of the issue, by name
    for region in REGIONS:
        sender = written[f"kotaku-{region}-sender"]
        assert sender == {f"{region}.registration.intake.v1", f"{region}.training.intake.v1"}
        for canonical in (FacilitatorRegistered.stream.topic(region), CertificateIssued.stream.topic(region)):
            assert canonical not in sender
        assert not any(t.startswith("oc05.") for t in written["kotaku-oc02-sender"])
    registration = written["kotaku-oc02-registration"]
    assert FacilitatorRegistered.stream.topic("oc02") in registration
    assert not any(t.startswith("oc05.") for t in registration)
    assert not {t for t in registration if t.startswith("oc02.training.") and not t.endswith(".dlq")}
    assert CertificateIssued.stream.topic("oc02") in written["kotaku-oc02-training"]
    assert not any(
        t.startswith("oc02.registration.") and not t.endswith(".dlq") for t in written["kotaku-oc02-training"]
    )
    # reporting writes the dead letters of its own consumers and the national xAPI statements, nothing else
    assert written["kotaku-reporting"]
    national = {t for t in national_topics() if not t.endswith(".dlq")}
    assert national <= written["kotaku-reporting"]
    assert all(
        t.endswith(".dlq") and topic_class(t) is TopicClass.CANONICAL for t in written["kotaku-reporting"] - national
    )
    assert UNKNOWN not in set().union(*written.values())


async def reads(secured: Secured, principal: Principal) -> tuple[set[str], set[str]]:
    """(the topics this principal may see, the topics it could fetch records from). A topic it may
    not see (no Describe, which Read and Write imply) it cannot fetch either; every topic it sees
    is fetched from the beginning, and each must give its record or be refused."""
    settings = secured.as_user(principal.user)
    admin = kafka_clients.admin(settings, "kotaku-acl-test")
    await admin.start()
    try:
        visible = set(await admin.list_topics())
    finally:
        await admin.close()
    consumer = kafka_clients.consumer(
        settings, client_id="kotaku-acl-test", group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    fetched = set()
    try:
        for topic in sorted(visible):
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            try:
                batch = await consumer.getmany(tp, timeout_ms=10_000)
            except TopicAuthorizationFailedError:
                continue
            assert batch.get(tp), f"{principal.user}: {topic} neither refused nor read"
            fetched.add(topic)
    finally:
        await consumer.stop()
    return visible, fetched


async def test_each_principal_reads_exactly_what_the_table_allows(secured: Secured) -> None:
    found = dict(zip(BY_USER, await asyncio.gather(*(reads(secured, p) for p in TABLE)), strict=True))
    for principal in TABLE:
        visible, fetched = found[principal.user]
        assert visible == set(principal.topics(Operation.READ)) | set(principal.topics(Operation.WRITE))
        assert fetched == set(principal.topics(Operation.READ)), principal.user
    assert found["kotaku-oc02-sender"][1] == {"oc02.rejections.v1"}
    # reporting reads every canonical topic of every region, and no intake (raw NIKs) nor rejection;
    # the national statements it writes are read by the xAPI forwarder
    assert found["kotaku-reporting"][1] == {t for t in TOPICS if topic_class(t) is TopicClass.CANONICAL} - {
        t for t in TOPICS if t.endswith(".dlq")
    } - set(national_topics())


async def joins(settings: KafkaSettings, group: str, topic: str) -> int:
    """Records read (and offsets committed) as a member of ``group``."""
    consumer = kafka_clients.consumer(
        settings,
        topic,
        client_id="kotaku-acl-test",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
        batch = await consumer.getmany(timeout_ms=10_000)
        await consumer.commit()
    finally:
        await stop_quietly(consumer)
    return sum(len(records) for records in batch.values())


def groups_of(principal: Principal) -> list[str]:
    """The consumer groups a principal may use (under a prefix: one name with that prefix)."""
    return [
        a.name + (".rejections" if a.pattern is Pattern.PREFIX else "")
        for a in principal.acls
        if a.resource is Resource.GROUP
    ]


@pytest.mark.parametrize("user", sorted(BY_USER))
async def test_each_principal_uses_only_its_own_consumer_groups(secured: Secured, user: str) -> None:
    principal = BY_USER[user]
    settings = secured.as_user(user)
    topic = principal.topics(Operation.READ)[0]
    assert await joins(settings, groups_of(principal)[0], topic) >= 1
    foreign = [g for p in TABLE if p is not principal for g in groups_of(p)]
    outcomes = await asyncio.gather(*(joins(settings, g, topic) for g in foreign), return_exceptions=True)
    assert [type(o) for o in outcomes] == [GroupAuthorizationFailedError] * len(foreign), dict(
        zip(foreign, outcomes, strict=True)
    )


async def refused(settings: KafkaSettings, caplog: pytest.LogCaptureFixture, reason: str) -> None:
    caplog.clear()
    admin = kafka_clients.admin(settings, "kotaku-acl-test")
    try:
        with caplog.at_level(logging.WARNING, logger="aiokafka"), pytest.raises(KafkaConnectionError):
            await admin.start()
    finally:
        await stop_quietly(admin)
    assert reason in caplog.text, caplog.text


async def test_strangers_are_refused(secured: Secured, caplog: pytest.LogCaptureFixture) -> None:
    sender = secured.as_user("kotaku-oc02-sender")
    await refused(sender.model_copy(update={"kafka_security_protocol": "PLAINTEXT"}), caplog, "closed")
    await refused(sender.model_copy(update={"kafka_security_protocol": "SSL"}), caplog, "closed")
    await refused(sender.model_copy(update={"kafka_security_protocol": "SASL_PLAINTEXT"}), caplog, "closed")
    await refused(secured.as_user("kotaku-oc02-sender", "not-the-password"), caplog, "SaslAuthenticationFailed")
    await refused(secured.as_user("kotaku-oc09-sender", "no-such-user"), caplog, "SaslAuthenticationFailed")
    # a client that does not trust the broker's CA never sends its password
    await refused(sender.model_copy(update={"kafka_ssl_cafile": None}), caplog, "CERTIFICATE_VERIFY_FAILED")


async def test_the_service_broker_publishes_as_its_service_only(secured: Secured) -> None:
    """The FastStream broker the services run (``kafka.broker``: acks=all, idempotent), as
    registration in oc02, publishes its own events, and nothing of training or of oc05."""
    broker = kafka_clients.broker(secured.as_user("kotaku-oc02-registration"), "kotaku-registration")
    await broker.start()
    key = secrets.token_hex(8).encode()
    try:
        await broker.publish(b'{"probe": true}', topic=FacilitatorRegistered.stream.topic("oc02"), key=key)
        for topic in (CertificateIssued.stream.topic("oc02"), FacilitatorRegistered.stream.topic("oc05")):
            with pytest.raises(TopicAuthorizationFailedError):
                await broker.publish(b'{"probe": true}', topic=topic, key=key)
    finally:
        await broker.stop()
    # reporting reads it back in its own consumer group
    reporting = kafka_clients.consumer(
        secured.as_user("kotaku-reporting"),
        FacilitatorRegistered.stream.topic("oc02"),
        client_id="kotaku-acl-test",
        group_id="reporting.facilitators.oc02",
        auto_offset_reset="earliest",
    )
    await reporting.start()
    try:
        keys: set[bytes] = set()
        for _ in range(10):
            batch = await reporting.getmany(timeout_ms=2000)
            keys |= {r.key for records in batch.values() for r in records if r.key}
            if key in keys:
                break
        assert key in keys
    finally:
        await reporting.stop()


async def test_the_tools_work_with_the_rights_of_their_user(secured: Secured) -> None:
    reporting = secured.as_user("kotaku-reporting")
    # reporting's lag monitor (admin and consumer clients): committed offsets of its own groups
    lag = await measure_lag(reporting, REPORTING_CONSUMERS, REGIONS, "")
    assert set(lag) == set(REGIONS)
    assert all(n > 0 for n in lag.values())  # records its groups have not consumed: the seeds at least
    # the rebuild's look-up of the partitions it replays
    admin = kafka_clients.admin(reporting, "kotaku-rebuild")
    await admin.start()
    try:
        canonical = [t for t in TOPICS if topic_class(t) is TopicClass.CANONICAL and not t.endswith(".dlq")]
        assert len(await partitions_of(admin, canonical)) == len(canonical)
        assert await partitions_of(admin, [t for t in TOPICS if ".intake." in t]) == []  # not even seen
    finally:
        await admin.close()
    # the dead-letter tool, as the operator (admin)
    letters = await list_dead_letters(secured.admin, "oc02.registration.intake.v1.dlq")
    assert len(letters) >= 1
    # no principal of the table may create topics
    with pytest.raises(TopicAuthorizationFailedError):
        await ensure_topics(secured.as_user("kotaku-oc02-registration"), [UNKNOWN], partitions=1)
