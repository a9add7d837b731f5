"""Topic names and how long each class of topic keeps its messages.

Regional streams are prefixed with the OC region code, so that each region is consumed by its own
consumer groups and scales on its own: ``oc02.registration.facilitator.v1``. A breaking contract
change gets a new ``.v2`` topic; an added optional field does not.

A national stream has one topic for the whole country instead of one per region, named
``national.<name>.v<version>`` (``national.xapi.statements.v1``); it is published by the service
that owns it (reporting, which reads every region) and is not among the regional topics.

Every stream belongs to one :class:`TopicClass`, and its dead-letter twin belongs to the same class.
The class decides the topic's ``retention.ms`` (:class:`RetentionPolicy`), wherever topics are made:
``shared.tools.kafka_admin`` (local stack, tests, Compose) and the KafkaTopics of ``deploy/k8s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DLQ_SUFFIX = ".dlq"
NATIONAL = "national"  # the first segment of a national stream's topic, where a region code stands otherwise

DAY_MS = 24 * 60 * 60 * 1000
FOREVER = -1  # retention.ms that keeps every message
DEFAULT_INTAKE_RETENTION_DAYS = 7
DEFAULT_REJECTIONS_RETENTION_DAYS = 30


class TopicClass(StrEnum):
    """What a topic carries, which decides how long it keeps it."""

    # Events owned by a service and published through its outbox: the record every read model is
    # rebuilt from. Kept forever, dead letters included (they must survive until replayed).
    CANONICAL = "canonical"
    # Commands from regional systems. They carry raw NIKs, so they are kept only a few days: long
    # enough to be consumed (or replayed from the dead-letter topic after a fix), not longer.
    INTAKE = "intake"
    # Answers to the regional systems about commands that were refused; short as well.
    REJECTIONS = "rejections"


@dataclass(frozen=True)
class Stream:
    """A regional stream: ``<region>.<name>.v<version>``, of one topic class; or a national one
    (``national=True``): ``national.<name>.v<version>``, whatever the region of its events."""

    name: str
    topic_class: TopicClass
    version: int = 1
    national: bool = False
    # The service that publishes it; by default the first segment of the name (registration.facilitator).
    owner: str = ""

    def topic(self, region: str, prefix: str = "") -> str:
        return f"{prefix}{NATIONAL if self.national else region}.{self.name}.v{self.version}"

    @property
    def publisher(self) -> str:
        return self.owner or self.name.split(".", 1)[0]


# Canonical events, published by their owning service through its outbox.
ORGUNIT = Stream("registration.orgunit", TopicClass.CANONICAL)
FACILITATOR = Stream("registration.facilitator", TopicClass.CANONICAL)
ENROLLMENT = Stream("registration.enrollment", TopicClass.CANONICAL)
TRAINING = Stream("training.training", TopicClass.CANONICAL)
PARTICIPATION = Stream("training.participation", TopicClass.CANONICAL)
# Intake from regional systems (documented JSON messages) and the rejections sent back to them.
REGISTRATION_INTAKE = Stream("registration.intake", TopicClass.INTAKE)
TRAINING_INTAKE = Stream("training.intake", TopicClass.INTAKE)
REJECTIONS = Stream("rejections", TopicClass.REJECTIONS)
# National: every region's learning facts as xAPI statements, published by reporting (docs/xapi.md).
XAPI_STATEMENTS = Stream("xapi.statements", TopicClass.CANONICAL, national=True, owner="reporting")

ALL_STREAMS: tuple[Stream, ...] = (
    ORGUNIT,
    FACILITATOR,
    ENROLLMENT,
    TRAINING,
    PARTICIPATION,
    REGISTRATION_INTAKE,
    TRAINING_INTAKE,
    REJECTIONS,
)


NATIONAL_STREAMS: tuple[Stream, ...] = (XAPI_STATEMENTS,)


def national_topics(prefix: str = "") -> list[str]:
    """The national topics, dead-letter topics included (one set for the whole country)."""
    topics = [stream.topic(NATIONAL, prefix) for stream in NATIONAL_STREAMS]
    return topics + [dlq_topic(t) for t in topics]


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def region_of(topic: str, prefix: str = "") -> str:
    """The region code a regional topic belongs to (its first segment after the prefix)."""
    if prefix and topic.startswith(prefix):
        topic = topic[len(prefix) :]
    return topic.split(".", 1)[0]


def regional_topics(regions: list[str], prefix: str = "", streams: tuple[Stream, ...] = ALL_STREAMS) -> list[str]:
    return [stream.topic(region, prefix) for region in regions for stream in streams]


def all_topics(regions: list[str], prefix: str = "") -> list[str]:
    """Every regional topic the services use for these regions, dead-letter topics included (the
    national ones are :func:`national_topics`)."""
    topics = regional_topics(regions, prefix)
    return topics + [dlq_topic(t) for t in topics]


def stream_of(topic: str) -> Stream | None:
    """The stream a topic name (with any prefix and region, dead-letter twin or not) belongs to;
    None for a topic that is not one of ours."""
    base = topic.removesuffix(DLQ_SUFFIX)
    for stream in ALL_STREAMS + NATIONAL_STREAMS:
        if base.endswith(f".{stream.name}.v{stream.version}"):
            return stream
    return None


def topic_class(topic: str) -> TopicClass | None:
    stream = stream_of(topic)
    return stream.topic_class if stream else None


@dataclass(frozen=True)
class RetentionPolicy:
    """``retention.ms`` per topic class. Canonical topics are always kept forever (rebuilding a
    read model replays them from the beginning); the short-lived classes are configurable
    (``KOTAKU_INTAKE_RETENTION_DAYS``, ``KOTAKU_REJECTIONS_RETENTION_DAYS``: see
    ``shared.kernel.settings.RetentionSettings``)."""

    intake_ms: int = DEFAULT_INTAKE_RETENTION_DAYS * DAY_MS
    rejections_ms: int = DEFAULT_REJECTIONS_RETENTION_DAYS * DAY_MS

    def __post_init__(self) -> None:
        for name in ("intake_ms", "rejections_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number of milliseconds, not {getattr(self, name)}")

    @classmethod
    def of_days(cls, intake: int, rejections: int) -> RetentionPolicy:
        return cls(intake_ms=intake * DAY_MS, rejections_ms=rejections * DAY_MS)

    def retention_ms(self, kind: TopicClass) -> int:
        if kind is TopicClass.CANONICAL:
            return FOREVER
        if kind is TopicClass.INTAKE:
            return self.intake_ms
        return self.rejections_ms

    def for_topic(self, topic: str) -> int | None:
        """The topic's ``retention.ms``; None for a topic that is not one of ours."""
        kind = topic_class(topic)
        return None if kind is None else self.retention_ms(kind)
