"""Confluent Schema Registry: the SDK's serializer, and id lookups for readers.

When ``schema_registry_url`` is set, the SDK publishes events in the registry's wire format,
written by confluent-kafka's own ``AvroSerializer``: ``00`` ‖ 4-byte big-endian schema id ‖
Avro binary body. Each event type's schema is the expanded schema of ``schemas/`` (the one
riskseal fingerprints), registered under the subject ``<topic>-value`` (TopicNameStrategy).

Readers do not need any of this: :class:`~riskseal.contract.codec.EventCodec` decodes
registry-framed events offline, by content. A reader that has a registry client can hand it a
:class:`RegistrySchemaLookup`, which resolves ids through the registry (cached) and maps them
to the fingerprints of the schemas riskseal knows.

Needs the optional extra ``riskseal[registry]`` (confluent-kafka's ``avro`` and
``schemaregistry`` extras); it is imported only when a registry is used.

Example::

    client = registry_client(settings)          # None when no URL is configured
    serializer = RegistrySerializer(client, {EventType.ACCESS_REQUEST: "access.requests"})
    value = serializer.encode(EventType.ACCESS_REQUEST, request.to_record())
    assert EventCodec().decode(value).record == request.to_record()
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from fastavro.schema import SchemaParseException

from riskseal.contract.codec import (
    CONFLUENT_MAGIC,
    known_writer_schemas,
    schema_fingerprint,
)
from riskseal.contract.schemas_set import EventSchema, EventType, SchemaSet, default_schemas
from riskseal.errors import ConfigError, InvalidEventError, RegistryError, UnknownSchemaError
from riskseal.settings import Settings

INSTALL_HINT = "pip install 'riskseal[registry]'"
MISS_RETRY_S = 30.0
"""How long an id the registry could not resolve is resolved offline before asking again."""

RegistryClient = Any
"""``confluent_kafka.schema_registry.SchemaRegistryClient`` (or its in-library mock)."""

LOG = logging.getLogger(__name__)


def schema_registry_module() -> Any:
    """``confluent_kafka.schema_registry`` with its Avro support; ConfigError when missing."""
    try:
        module = importlib.import_module("confluent_kafka.schema_registry")
        importlib.import_module("confluent_kafka.schema_registry.avro")
    except ImportError as exc:
        raise ConfigError(
            "a Schema Registry is configured (RISKSEAL_SCHEMA_REGISTRY_URL) but confluent-kafka's "
            f"Schema Registry support is not installed ({exc}); install it with "
            f"`{INSTALL_HINT}`"
        ) from exc
    return module


def registry_client(settings: Settings) -> RegistryClient | None:
    """A SchemaRegistryClient for ``settings``, or None when no URL is configured."""
    if settings.schema_registry_url is None:
        return None
    module = schema_registry_module()
    config: dict[str, str] = {"url": settings.schema_registry_url}
    if settings.schema_registry_username is not None:
        password = settings.schema_registry_password
        secret = password.get_secret_value() if password is not None else ""
        config["basic.auth.user.info"] = f"{settings.schema_registry_username}:{secret}"
    try:
        return module.SchemaRegistryClient(config)
    except (ValueError, TypeError) as exc:
        # Not chained and not echoed: the configuration holds the password.
        raise ConfigError(
            f"cannot configure the Schema Registry client: {type(exc).__name__}"
        ) from None


def subject_of(topic: str) -> str:
    """The subject of a topic's values under TopicNameStrategy: ``<topic>-value``."""
    return f"{topic}-value"


def registry_errors() -> tuple[type[BaseException], ...]:
    """What a registry call raises when the registry refuses or cannot be reached."""
    errors: list[type[BaseException]] = [schema_registry_module().SchemaRegistryError, OSError]
    for name in ("httpx2", "httpx"):  # confluent-kafka uses whichever is installed
        try:
            errors.append(importlib.import_module(name).HTTPError)
        except ImportError:
            continue
    return tuple(errors)


class RegistrySerializer:
    """confluent-kafka ``AvroSerializer`` per event type, subject ``<topic>-value``.

    The schemas are registered (or, with ``auto_register=False``, looked up) when the
    serializer is created, so a registry that refuses them or does not answer is reported
    once, at start, as RegistryError, before any event is sent.
    """

    def __init__(
        self,
        client: RegistryClient,
        topics: Mapping[EventType, str],
        *,
        auto_register: bool = True,
        schemas: SchemaSet | None = None,
    ) -> None:
        module = schema_registry_module()
        avro = importlib.import_module("confluent_kafka.schema_registry.avro")
        serialization = importlib.import_module("confluent_kafka.serialization")
        self._errors = registry_errors()
        self._serialization_error: type[Exception] = serialization.SerializationError
        schemas = schemas or default_schemas()
        self.ids: dict[EventType, int] = {}
        """The registry id of each event type's schema, as written in byte 1..4 of its events."""
        self._serializers: dict[EventType, Any] = {}
        self._contexts: dict[EventType, Any] = {}
        for event_type, topic in topics.items():
            schema_str = json.dumps(schemas[event_type].declared)
            subject = subject_of(topic)
            self.ids[event_type] = self._register(
                client, module.Schema(schema_str, "AVRO"), subject, auto_register
            )
            self._serializers[event_type] = avro.AvroSerializer(
                client,
                schema_str,
                conf={
                    "auto.register.schemas": auto_register,
                    "subject.name.strategy": module.topic_subject_name_strategy,
                },
            )
            self._contexts[event_type] = serialization.SerializationContext(
                topic, serialization.MessageField.VALUE
            )

    def _register(self, client: RegistryClient, schema: Any, subject: str, auto: bool) -> int:
        try:
            if auto:
                return int(client.register_schema(subject, schema))
            return int(client.lookup_schema(subject, schema).schema_id)
        except self._errors as exc:
            what = "register" if auto else "find (auto-registration is off)"
            raise RegistryError(
                f"the Schema Registry did not {what} the schema of subject {subject}: "
                f"{type(exc).__name__}: {exc}; check RISKSEAL_SCHEMA_REGISTRY_URL and its "
                "credentials, the subject's compatibility setting, or register the schema "
                "from schemas/"
            ) from exc

    def encode(self, event_type: EventType, record: dict[str, Any]) -> bytes:
        """``record`` (already validated) in registry framing."""
        try:
            data = self._serializers[event_type](record, self._contexts[event_type])
        except self._errors as exc:
            raise RegistryError(
                f"the Schema Registry failed while encoding a {event_type.value}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # The SDK validates first; this is the safety net, as in EventCodec.encode_valid.
            raise InvalidEventError(event_type.value, "(event)", f"cannot encode: {exc}") from exc
        except self._serialization_error as exc:
            raise InvalidEventError(event_type.value, "(event)", f"cannot encode: {exc}") from exc
        if not isinstance(data, bytes) or data[:1] != CONFLUENT_MAGIC:  # pragma: no cover
            raise RegistryError(f"the AvroSerializer wrote no registry framing: {data!r:.40}")
        return data


class RegistrySchemaLookup:
    """Resolves registry ids to the schemas riskseal knows (cached); a ``SchemaLookup``.

    An id whose schema is one of ours (current or released) maps to that schema; an id whose
    schema is not raises UnknownSchemaError; an id the registry does not know, or a registry
    that does not answer, gives None and the codec resolves the event offline (logged, and
    asked again after ``MISS_RETRY_S``).
    """

    def __init__(self, client: RegistryClient, schemas: SchemaSet | None = None) -> None:
        self.client = client
        self._errors = registry_errors()
        self._known = known_writer_schemas(schemas or default_schemas())
        self._by_fingerprint = {schema.fingerprint: schema for schema in self._known}
        self._lock = threading.Lock()
        self._found: dict[int, EventSchema | str] = {}
        """Ids are never reused, so both answers are kept: our schema, or why it is foreign."""
        self._missed: dict[int, float] = {}

    def writer_schema(self, schema_id: int) -> EventSchema | None:
        """See :class:`riskseal.contract.codec.SchemaLookup`."""
        with self._lock:
            found = self._found.get(schema_id)
            missed = self._missed.get(schema_id)
        if found is None:
            if missed is not None and time.monotonic() - missed < MISS_RETRY_S:
                return None
            try:
                registered = self.client.get_schema(schema_id)
            except self._errors as exc:
                LOG.warning(
                    "Schema Registry lookup of schema id %d failed (%s: %s); resolving the "
                    "event offline",
                    schema_id,
                    type(exc).__name__,
                    exc,
                )
                with self._lock:
                    self._missed[schema_id] = time.monotonic()
                return None
            found = self._match(schema_id, registered)
            with self._lock:
                self._found[schema_id] = found
                self._missed.pop(schema_id, None)
        if isinstance(found, str):
            raise UnknownSchemaError(found)
        return found

    def _match(self, schema_id: int, registered: Any) -> EventSchema | str:
        where = f"schema id {schema_id} in the Schema Registry"
        kind = getattr(registered, "schema_type", None) or "AVRO"
        if kind != "AVRO":
            return f"{where} is a {kind} schema, not an Avro schema of riskseal"
        if getattr(registered, "references", None):
            return f"{where} uses schema references; riskseal's schemas are self-contained"
        try:
            fingerprint = schema_fingerprint(registered.schema_str)
        except (ValueError, TypeError, KeyError, SchemaParseException) as exc:
            return f"{where} does not parse as an Avro schema ({type(exc).__name__}: {exc})"
        schema = self._by_fingerprint.get(fingerprint)
        if schema is None:
            known = ", ".join(f"{s.event_type.value}={s.fingerprint.hex()}" for s in self._known)
            return (
                f"{where} has fingerprint {fingerprint.hex()} (CRC-64-AVRO, wire order), "
                f"which is none of the schemas this reader knows ({known}): not a riskseal "
                "event, or a schema version this reader does not have"
            )
        return schema
