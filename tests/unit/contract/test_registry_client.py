"""Schema Registry wiring: settings, the missing extra, registration errors, id lookups."""

from __future__ import annotations

import importlib
import logging
import socket
import sys
from typing import Any

import pytest

from riskseal.contract import AccessRequest, Actor, EventCodec, EventType, Resource, SourceStamp
from riskseal.contract.registry import (
    INSTALL_HINT,
    RegistrySchemaLookup,
    RegistrySerializer,
    registry_client,
)
from riskseal.errors import ConfigError, RegistryError, UnknownSchemaError
from riskseal.sdk import AuditClient
from riskseal.settings import Settings
from tests.unit.contract.test_registry_codec import mock_registry

REQUEST = AccessRequest(
    event_id="0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70",
    time=1_790_000_000_123,
    source=SourceStamp("app-1", 1_790_000_000_000, 3),
    actor=Actor("alice"),
    action="data.read",
    resource=Resource("document", "q3"),
)
TOPICS = {EventType.ACCESS_REQUEST: "access.requests"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _schema(text: str) -> Any:
    return importlib.import_module("confluent_kafka.schema_registry").Schema(text, "AVRO")


# --- settings and the optional extra ----------------------------------------------------------
def test_no_url_means_no_registry() -> None:
    assert registry_client(Settings.local()) is None


def test_client_gets_the_url_and_basic_auth() -> None:
    settings = Settings.local(
        schema_registry_url="https://sr.example:8081",
        schema_registry_username="key",
        schema_registry_password="pw-3f9a",
    )
    client = registry_client(settings)
    assert client is not None
    assert client.config() == {
        "url": "https://sr.example:8081",
        "basic.auth.user.info": "key:pw-3f9a",
    }
    assert "pw-3f9a" not in repr(settings)


def test_username_without_password_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="RISKSEAL_SCHEMA_REGISTRY_PASSWORD"):
        Settings.local(schema_registry_url="http://sr:8081", schema_registry_username="key")


def test_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="http:// or https://"):
        Settings.local(schema_registry_url="sr.example:8081")


def test_auto_register_defaults_to_true() -> None:
    assert Settings.local().schema_registry_auto_register is True


@pytest.fixture
def without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """confluent-kafka installed without its ``schemaregistry`` and ``avro`` extras."""
    for name in list(sys.modules):
        if name.startswith("confluent_kafka.schema_registry"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "confluent_kafka.schema_registry", None)


@pytest.mark.usefixtures("without_the_extra")
def test_url_without_the_extra_says_what_to_install() -> None:
    with pytest.raises(ConfigError) as refused:
        registry_client(Settings.local(schema_registry_url="http://sr:8081"))
    assert INSTALL_HINT in str(refused.value)
    assert "RISKSEAL_SCHEMA_REGISTRY_URL" in str(refused.value)


@pytest.mark.usefixtures("without_the_extra")
def test_sdk_refuses_to_start_without_the_extra_before_touching_kafka() -> None:
    settings = Settings.local(
        schema_registry_url="http://sr:8081",
        kafka_bootstrap=f"127.0.0.1:{_closed_port()}",
        sdk_connect_timeout_s=1.0,
    )
    with pytest.raises(ConfigError, match="riskseal\\[registry\\]"):
        AuditClient(settings)


@pytest.mark.usefixtures("without_the_extra")
def test_reading_needs_no_extra() -> None:
    """Auditors decode registry-framed events with riskseal alone."""
    framed = b"\x00\x00\x00\x00\x07" + EventCodec().encode_event(REQUEST)[10:]
    assert EventCodec().decode(framed, EventType.ACCESS_REQUEST).record == REQUEST.to_record()


# --- registering at start ---------------------------------------------------------------------
def test_auto_register_off_and_schema_missing_is_a_registry_error() -> None:
    with pytest.raises(RegistryError) as refused:
        RegistrySerializer(mock_registry(), TOPICS, auto_register=False)
    assert "subject access.requests-value" in str(refused.value)
    assert "auto-registration is off" in str(refused.value)


def test_auto_register_off_uses_the_registered_schema() -> None:
    registry = mock_registry()
    first = RegistrySerializer(registry, TOPICS)  # someone registered it before
    second = RegistrySerializer(registry, TOPICS, auto_register=False)
    assert second.ids == first.ids
    assert second.encode(EventType.ACCESS_REQUEST, REQUEST.to_record())[1:5] == (
        first.ids[EventType.ACCESS_REQUEST].to_bytes(4, "big")
    )


def test_unreachable_registry_is_a_registry_error_at_start() -> None:
    module = importlib.import_module("confluent_kafka.schema_registry")
    client = module.SchemaRegistryClient(
        {"url": f"http://127.0.0.1:{_closed_port()}", "max.retries": 0}
    )
    with pytest.raises(RegistryError, match=r"access\.requests-value"):
        RegistrySerializer(client, TOPICS)


# --- resolving ids through a registry ---------------------------------------------------------
class CountingRegistry:
    """A mock registry that counts get_schema calls (to see the lookup's cache)."""

    def __init__(self) -> None:
        self.inner = mock_registry()
        self.calls = 0

    def get_schema(self, schema_id: int) -> Any:
        self.calls += 1
        return self.inner.get_schema(schema_id)


def test_registry_ids_are_resolved_once() -> None:
    registry = CountingRegistry()
    data = RegistrySerializer(registry.inner, TOPICS).encode(
        EventType.ACCESS_REQUEST, REQUEST.to_record()
    )
    codec = EventCodec(registry=RegistrySchemaLookup(registry))
    for _ in range(3):
        assert codec.decode(data).record == REQUEST.to_record()
    assert registry.calls == 1


def test_an_id_of_a_foreign_schema_is_unknown() -> None:
    registry = CountingRegistry()
    foreign = '{"type": "record", "name": "Payment", "fields": [{"name": "cents", "type": "long"}]}'
    schema_id = registry.inner.register_schema("payments-value", _schema(foreign))
    codec = EventCodec(registry=RegistrySchemaLookup(registry))
    # A body this reader could decode offline: the registry's answer still wins.
    data = b"\x00" + schema_id.to_bytes(4, "big") + EventCodec().encode_event(REQUEST)[10:]
    for _ in range(2):
        with pytest.raises(UnknownSchemaError) as refused:
            codec.decode(data)
        assert refused.value.raw == data
        assert f"schema id {schema_id} in the Schema Registry has fingerprint" in str(refused.value)
    assert registry.calls == 1


def test_an_id_the_registry_does_not_know_is_resolved_offline() -> None:
    codec = EventCodec(registry=RegistrySchemaLookup(mock_registry()))
    data = b"\x00\x00\x00\x30\x39" + EventCodec().encode_event(REQUEST)[10:]
    decoded = codec.decode(data, EventType.ACCESS_REQUEST)
    assert decoded.registry_id == 12345
    assert decoded.record == REQUEST.to_record()


def test_unreachable_registry_falls_back_to_offline_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    module = importlib.import_module("confluent_kafka.schema_registry")
    client = module.SchemaRegistryClient(
        {"url": f"http://127.0.0.1:{_closed_port()}", "max.retries": 0}
    )
    codec = EventCodec(registry=RegistrySchemaLookup(client))
    data = b"\x00\x00\x00\x00\x01" + EventCodec().encode_event(REQUEST)[10:]
    with caplog.at_level(logging.WARNING, logger="riskseal.contract.registry"):
        assert codec.decode(data, EventType.ACCESS_REQUEST).record == REQUEST.to_record()
        assert codec.decode(data, EventType.ACCESS_REQUEST).record == REQUEST.to_record()
    warnings = [r for r in caplog.records if "resolving the event offline" in r.getMessage()]
    assert len(warnings) == 1  # asked once, then offline until MISS_RETRY_S has passed
