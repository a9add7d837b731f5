"""Topic names. Regional streams are prefixed with the OC region code, so that each region is
consumed by its own consumer groups and scales on its own: ``oc02.registration.facilitator.v1``.
A breaking contract change gets a new ``.v2`` topic; an added optional field does not."""

from __future__ import annotations

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Stream:
    """A regional stream: ``<region>.<name>.v<version>``."""

    name: str
    version: int = 1

    def topic(self, region: str, prefix: str = "") -> str:
        return f"{prefix}{region}.{self.name}.v{self.version}"


# Canonical events, published by their owning service through its outbox.
ORGUNIT = Stream("registration.orgunit")
FACILITATOR = Stream("registration.facilitator")
ENROLLMENT = Stream("registration.enrollment")
TRAINING = Stream("training.training")
PARTICIPATION = Stream("training.participation")
# Intake from regional systems (documented JSON messages) and the rejections sent back to them.
REGISTRATION_INTAKE = Stream("registration.intake")
TRAINING_INTAKE = Stream("training.intake")
REJECTIONS = Stream("rejections")

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
    """Every topic the services use for these regions, dead-letter topics included."""
    topics = regional_topics(regions, prefix)
    return topics + [dlq_topic(t) for t in topics]
