"""The one place where Kafka clients are built: the services' FastStream broker and every plain
aiokafka client (dead-letter producer, rebuild, DLQ tool, lag monitor, topic admin, bench), all with
the security (TLS, SASL/SCRAM) of :class:`shared.kernel.settings.KafkaSettings`.

A tool given only a bootstrap string (``--bootstrap``) connects there, with the security settings
of the environment (``KOTAKU_KAFKA_*``), so it works against a secured cluster too."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.kernel.settings import KafkaSettings, load_kafka_settings

Kafka = KafkaSettings | str


def kafka_settings(kafka: Kafka) -> KafkaSettings:
    return load_kafka_settings(kafka) if isinstance(kafka, str) else kafka


def _ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    return ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)


def client_options(kafka: Kafka) -> dict[str, Any]:
    """Connection and security keyword arguments for any aiokafka client."""
    settings = kafka_settings(kafka)
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_servers, "security_protocol": protocol}
    if (context := _ssl_context(settings)) is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def faststream_security(kafka: Kafka) -> BaseSecurity | None:
    """FastStream's form of the same security: TLS and/or SASL (SCRAM or PLAIN)."""
    settings = kafka_settings(kafka)
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings)
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    sasl = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    return sasl[settings.kafka_sasl_mechanism](
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=context is not None,
    )


def broker(kafka: Kafka, client_id: str, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """A service's FastStream broker: every publish waits for all in-sync replicas, idempotent."""
    settings = kafka_settings(kafka)
    return KafkaBroker(
        settings.kafka_servers,
        security=faststream_security(settings),
        acks="all",
        enable_idempotence=True,
        client_id=client_id,
        graceful_timeout=15.0,
        middlewares=tuple(middlewares),
        log_level=logging.DEBUG,  # FastStream logs every message at this level; keep INFO readable
        # Handlers take the message itself (``consumer.as_message``): nothing to inject. With
        # FastDepends on, every batch's message was looked up in FastStream's context on a worker
        # thread (a synchronous dependency), a thread hop per batch.
        apply_types=False,
    )


def reliable_producer(kafka: Kafka, client_id: str, **options: Any) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica and never duplicates on retry."""
    return AIOKafkaProducer(
        **client_options(kafka), client_id=client_id, acks="all", enable_idempotence=True, **options
    )


def producer(kafka: Kafka, client_id: str, **options: Any) -> AIOKafkaProducer:
    """A producer with the caller's own trade-offs (the bench's baselines)."""
    return AIOKafkaProducer(**client_options(kafka), client_id=client_id, **options)


def consumer(kafka: Kafka, *topics: str, client_id: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **client_options(kafka), client_id=client_id, **options)


def admin(kafka: Kafka, client_id: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(kafka), client_id=client_id)
