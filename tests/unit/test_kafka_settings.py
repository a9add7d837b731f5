from __future__ import annotations

import pytest
from faststream.security import SASLScram512

from shared.kernel.kafka import client_options, faststream_security
from shared.kernel.settings import load_settings


@pytest.fixture(autouse=True)
def _database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_DATABASE_URL", "postgresql://x@localhost/db")


def test_a_bootstrap_list_is_split_into_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_KAFKA_BOOTSTRAP", "10.0.0.1:9092, 10.0.0.2:9092,")
    assert load_settings().kafka_servers == ["10.0.0.1:9092", "10.0.0.2:9092"]


def test_plaintext_needs_no_security() -> None:
    assert faststream_security(load_settings()) is None


def test_scram_over_tls_uses_the_configured_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KOTAKU_KAFKA_SASL_USERNAME", "oc02-registration")
    monkeypatch.setenv("KOTAKU_KAFKA_SASL_PASSWORD", "not-a-real-password")
    security = faststream_security(load_settings())
    assert isinstance(security, SASLScram512)
    assert security.username == "oc02-registration"
    assert security.use_ssl
    assert security.ssl_context is not None


def test_plain_clients_get_the_same_security(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KOTAKU_KAFKA_SASL_USERNAME", "reporting")
    monkeypatch.setenv("KOTAKU_KAFKA_SASL_PASSWORD", "not-a-real-password")
    options = client_options("broker-1:9093")  # a tool's --bootstrap keeps the environment's security
    assert options["bootstrap_servers"] == ["broker-1:9093"]
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "reporting"
    assert options["ssl_context"] is not None
