"""Who may do what on Kafka: one table of principals and their ACLs, derived from the topics
(``shared.kernel.topics``) and from the services' definitions (the topics their consumers read and
the streams they publish), never written by hand.

- ``kotaku-<region>-<service>``, one per regional service (registration, training) and region:
  writes the canonical streams the service publishes through its outbox (and the rejections, if it
  runs an intake), and the dead-letter topics of its own consumers; reads what its consumers read;
  uses only its own consumer groups (``<prefix><consumer>.<region>``).
- ``kotaku-reporting``, national, the same rule over every region: it publishes nothing, so it
  reads the canonical topics and writes only the dead-letter topics of its own consumers.
- ``kotaku-<region>-sender``, one per regional system: writes only its region's intake topics,
  reads only its region's rejections, with consumer groups named ``kotaku-<region>-sender...``.

Every ACL allows; nothing else is allowed (the broker runs with ``allow.everyone.if.no.acl.found``
false). Read and Write imply Describe, so no Describe ACL is listed. The idempotent producers (the
outbox relay, the dead-letter producers) need no ``IdempotentWrite`` on the cluster: since Kafka 3.0
(KIP-679) Write on any topic allows it. No client uses transactions.

``deploy/k8s/regions.py`` renders the table as Strimzi KafkaUsers; ``tests/ops/test_kafka_acls.py``
applies it to a secured broker with :func:`create_acls` and shows with real clients that every
write it does not list is refused. The tool itself knows no service: callers pass the definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest_v1
from aiokafka.protocol.api import Request

from shared.kernel import kafka as kafka_clients
from shared.kernel.kafka import Kafka
from shared.kernel.runtime import ServiceDefinition
from shared.kernel.topics import REJECTIONS, Stream, TopicClass, dlq_topic
from shared.tools.contracts import _consumers, _published_streams  # the rule of the AsyncAPI documents

REPORTING_USER = "kotaku-reporting"


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIX = "prefix"


class Operation(StrEnum):
    READ = "Read"
    WRITE = "Write"


@dataclass(frozen=True)
class Acl:
    """One allowed operation on a resource (a name, or every name with that prefix), from any host."""

    resource: Resource
    name: str
    operation: Operation
    pattern: Pattern = Pattern.LITERAL


@dataclass(frozen=True)
class Principal:
    """A SCRAM user (also the name of its Strimzi KafkaUser and of the secret with its password)."""

    user: str
    acls: tuple[Acl, ...]

    def topics(self, operation: Operation) -> list[str]:
        """The topics it may read or write (every topic ACL of the table is literal)."""
        return [a.name for a in self.acls if a.resource is Resource.TOPIC and a.operation is operation]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def service_principal(user: str, definition: ServiceDefinition, regions: Sequence[str], prefix: str = "") -> Principal:
    """What one service's deployment for ``regions`` does on Kafka, as its code does it: the outbox
    relay writes the streams the service publishes; each consumer reads its streams in its group
    ``<prefix><consumer>.<region>`` and dead-letters to ``<topic>.dlq``."""
    consumers = _consumers(definition)
    published = _published_streams(definition, consumers)
    writes: list[str] = []
    reads: list[str] = []
    groups: list[str] = []
    for region in regions:
        consumed = _unique(s.topic(region, prefix) for c in consumers for s in c.streams)
        writes += [s.topic(region, prefix) for s in published] + [dlq_topic(t) for t in consumed]
        reads += consumed
        groups += [f"{prefix}{c.name}.{region}" for c in consumers]
    acls = (
        [Acl(Resource.TOPIC, t, Operation.WRITE) for t in _unique(writes)]
        + [Acl(Resource.TOPIC, t, Operation.READ) for t in _unique(reads)]
        + [Acl(Resource.GROUP, g, Operation.READ) for g in _unique(groups)]
    )
    return Principal(user, tuple(acls))


def intake_streams(definitions: Sequence[ServiceDefinition]) -> list[Stream]:
    """The intake streams the services consume: what regional systems send."""
    found = {s for d in definitions for c in _consumers(d) for s in c.streams if s.topic_class is TopicClass.INTAKE}
    return sorted(found, key=lambda s: (s.name, s.version))


def sender_user(region: str) -> str:
    return f"kotaku-{region}-sender"


def sender_principal(region: str, definitions: Sequence[ServiceDefinition], prefix: str = "") -> Principal:
    """A regional system: sends commands to its region's intake topics and reads back the
    rejections, in consumer groups of its own (``<prefix>kotaku-<region>-sender`` and longer)."""
    acls = [Acl(Resource.TOPIC, s.topic(region, prefix), Operation.WRITE) for s in intake_streams(definitions)]
    acls.append(Acl(Resource.TOPIC, REJECTIONS.topic(region, prefix), Operation.READ))
    acls.append(Acl(Resource.GROUP, f"{prefix}{sender_user(region)}", Operation.READ, Pattern.PREFIX))
    return Principal(sender_user(region), tuple(acls))


def regional_user(region: str, definition: ServiceDefinition) -> str:
    return f"kotaku-{region}-{definition.name}"


def regional_principals(region: str, regional: Sequence[ServiceDefinition], prefix: str = "") -> list[Principal]:
    """The principals of one region: one per regional service, and the region's sender."""
    found = [service_principal(regional_user(region, d), d, [region], prefix) for d in regional]
    return [*found, sender_principal(region, regional, prefix)]


def principals(
    regional: Sequence[ServiceDefinition],
    national: ServiceDefinition,
    regions: Sequence[str],
    prefix: str = "",
) -> list[Principal]:
    """The whole table: every region's principals, then the national reporting user."""
    found = [p for region in regions for p in regional_principals(region, regional, prefix)]
    return [*found, service_principal(REPORTING_USER, national, regions, prefix)]


# --- applying the table to a cluster (one without Strimzi: the tests' secured broker) -------------
# aiokafka has no ACL API; its protocol module has the CreateAcls and DescribeAcls requests.

_RESOURCE_CODES = {Resource.TOPIC: 2, Resource.GROUP: 3}
_PATTERN_CODES = {Pattern.LITERAL: 3, Pattern.PREFIX: 4}
_OPERATION_CODES = {Operation.READ: 3, Operation.WRITE: 4}
_ANY = 1
_ALLOW = 3


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, creations: list[tuple[Any, ...]]) -> None:
        self.creations = creations

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(self.creations)


class _DescribeAllAcls(Request[DescribeAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 29

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(_ANY, None, _ANY, None, None, _ANY, _ANY)


async def _send(kafka: Kafka, request: Any) -> Any:
    client = AIOKafkaClient(**kafka_clients.client_options(kafka), client_id="kotaku-acls")
    await client.bootstrap()
    try:
        return await client.send(client.get_random_node(), request)
    finally:
        await client.close()


async def create_acls(kafka: Kafka, table: Sequence[Principal]) -> int:
    """Create every ACL of ``table`` (as a super user); returns how many. Creating one that exists
    changes nothing, so this can run again."""
    creations = [
        (
            _RESOURCE_CODES[a.resource],
            a.name,
            _PATTERN_CODES[a.pattern],
            f"User:{p.user}",
            "*",
            _OPERATION_CODES[a.operation],
            _ALLOW,
        )
        for p in table
        for a in p.acls
    ]
    response = await _send(kafka, _CreateAcls(creations))
    refused = [(c, *answer) for c, answer in zip(creations, response.creation_responses, strict=True) if answer[0]]
    if refused:
        creation, code, message = refused[0]
        raise for_code(code)(f"{len(refused)} ACLs refused, the first {creation}: {message}")
    return len(creations)


async def describe_acls(kafka: Kafka) -> dict[str, set[Acl]]:
    """Every allowing ACL the cluster holds, per user (ACLs this module cannot express are left out)."""
    response = await _send(kafka, _DescribeAllAcls())
    if response.error_code:
        raise for_code(response.error_code)(response.error_message)
    resources = {code: r for r, code in _RESOURCE_CODES.items()}
    patterns = {code: p for p, code in _PATTERN_CODES.items()}
    operations = {code: o for o, code in _OPERATION_CODES.items()}
    found: dict[str, set[Acl]] = {}
    for resource_type, name, pattern, acls in response.resources:
        for principal, _host, operation, permission in acls:
            if resource_type in resources and pattern in patterns and operation in operations and permission == _ALLOW:
                acl = Acl(resources[resource_type], name, operations[operation], patterns[pattern])
                found.setdefault(principal.removeprefix("User:"), set()).add(acl)
    return found
