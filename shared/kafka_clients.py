"""Plain aiokafka clients built from a service's settings, with the same security (TLS, SASL) as the
FastStream broker. Used where the broker's publisher cannot do the job: dead letters must keep a
record's header bytes and timestamp exactly, which FastStream's string headers cannot."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaProducer

from shared.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection and security keyword arguments for any aiokafka client."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_servers, "security_protocol": protocol}
    if protocol.endswith("SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def reliable_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica and never duplicates on retry."""
    return AIOKafkaProducer(**client_options(settings), client_id=client_id, acks="all", enable_idempotence=True)
