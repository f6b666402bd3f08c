"""``AuditClient``: publish access requests and actions, and ask for decisions.

Example::

    from riskseal import Settings
    from riskseal.sdk import AuditClient
    from riskseal.contract import Actor, Resource, Outcome, Sensitivity

    with AuditClient(Settings.from_env()) as client:
        client.emit_action(Actor("alice"), "auth.login", Resource("app", "crm"), Outcome.SUCCESS)
        decision = client.authorize(
            Actor("alice", roles=("sales",)),
            "data.export",
            Resource("report", "q3-pipeline", sensitivity=Sensitivity.CONFIDENTIAL),
        )
        if decision.verdict is Verdict.STEP_UP:
            ...  # ask for MFA

Every event is validated before anything reaches Kafka (InvalidEventError names the field),
stamped with (source id, epoch, seq) without gaps, and produced with ``acks=all`` by an
idempotent producer. Values are Avro single-object encoded, or, when a Schema Registry is
configured (``schema_registry_url``, or a client passed as ``schema_registry``), written by
confluent-kafka's AvroSerializer in the registry's framing (see ``docs/events.md``).
Delivery failures are never silent: they reach the ``on_delivery`` callback and are
returned by :meth:`AuditClient.flush` and :meth:`AuditClient.close`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from confluent_kafka import KafkaError, KafkaException, Producer

from riskseal.contract.codec import EventCodec
from riskseal.contract.events import (
    NO_AUTH,
    NO_ENDPOINT,
    AccessAction,
    AccessRequest,
    Actor,
    AuthContext,
    Decision,
    Endpoint,
    Outcome,
    Reason,
    Resource,
    RiskLevel,
    SourceStamp,
    Verdict,
    Versions,
    new_event_id,
    now_ms,
)
from riskseal.contract.fastpath import FastEncoder
from riskseal.contract.registry import (
    RegistryClient,
    RegistrySchemaLookup,
    RegistrySerializer,
    registry_client,
)
from riskseal.contract.schemas_set import EventType
from riskseal.errors import (
    BackpressureError,
    BrokerUnavailableError,
    ClientClosedError,
    InvalidEventError,
    SdkError,
)
from riskseal.sdk.delivery import DeliveryCallback, DeliveryFailure, DeliveryTracker
from riskseal.sdk.replies import PendingReply, ReplyListener
from riskseal.settings import Settings

Headers = Mapping[str, str | bytes]
SentEvent = TypeVar("SentEvent", bound=AccessRequest | AccessAction)
SDK_VERSION = "riskseal-sdk 0.1.0"
# librdkafka's own log lines (connection refused, ...) go to logging, not to stderr.
KAFKA_LOG = logging.getLogger("riskseal.sdk.kafka")


def default_source_id() -> str:
    """``<hostname>/<pid>``: distinct for every process of an application."""
    return f"{socket.gethostname()}/{os.getpid()}"


class AuditClient:
    """Publishes events to Kafka and waits for decisions; thread-safe."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_delivery: DeliveryCallback | None = None,
        producer_config: Mapping[str, Any] | None = None,
        schema_registry: RegistryClient | None = None,
    ) -> None:
        """Connect to Kafka (BrokerUnavailableError if no broker answers).

        ``schema_registry`` is a confluent-kafka SchemaRegistryClient to publish in registry
        framing with; by default one is made from ``settings.schema_registry_url`` when set
        (ConfigError if the ``registry`` extra is missing, RegistryError if the registry
        refuses the schemas or does not answer).
        """
        self.settings = settings
        registry = schema_registry if schema_registry is not None else registry_client(settings)
        self._registry: RegistrySerializer | None = None
        if registry is not None:
            self._registry = RegistrySerializer(
                registry,
                {
                    EventType.ACCESS_REQUEST: settings.topic_requests,
                    EventType.ACCESS_ACTION: settings.topic_actions,
                },
                auto_register=settings.schema_registry_auto_register,
            )
        self.codec = EventCodec(
            max_event_bytes=settings.max_event_bytes,
            registry=None if registry is None else RegistrySchemaLookup(registry),
        )
        self.source_id = settings.source_id or default_source_id()
        self.epoch = time.time_ns() // 1_000_000
        self._encoder = FastEncoder(self.source_id, self.epoch, settings.max_event_bytes)
        self._seq = 0
        self._send_lock = threading.Lock()
        self._tracker = DeliveryTracker(on_delivery)
        self._placeholder = SourceStamp(self.source_id, self.epoch, 0)
        self._closed = False
        self._replies: ReplyListener | None = None
        self._replies_lock = threading.Lock()
        self._producer = Producer(
            {
                **settings.kafka_config(),
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "queue.buffering.max.messages": settings.sdk_buffer_max_messages,
                "logger": KAFKA_LOG,
                "on_delivery": self._tracker.on_delivery,
                "delivery.report.only.error": not self._tracker.reports_successes,
                **(producer_config or {}),
            }
        )
        self._check_broker()
        self._poller_stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="riskseal-delivery", daemon=True)
        self._poller.start()

    # --- public API ------------------------------------------------------------------------
    def request_access(
        self,
        actor: Actor | str,
        action: str,
        resource: Resource,
        *,
        src_endpoint: Endpoint = NO_ENDPOINT,
        auth: AuthContext = NO_AUTH,
        time_ms: int | None = None,
        event_id: str | None = None,
        session_id: str | None = None,
        device_id: str | None = None,
        trace_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        headers: Headers | None = None,
    ) -> AccessRequest:
        """Publish an access request to ``access.requests`` and return it as sent.

        Raises InvalidEventError or EventTooLargeError before anything is sent, and
        BackpressureError when the in-memory buffer is full.
        """
        request = AccessRequest(
            event_id=event_id or new_event_id(),
            time=now_ms() if time_ms is None else time_ms,
            source=self._placeholder,
            actor=Actor(actor) if isinstance(actor, str) else actor,
            action=action,
            resource=resource,
            src_endpoint=src_endpoint,
            auth=auth,
            session_id=session_id,
            device_id=device_id,
            trace_id=trace_id,
            attributes=attributes or {},
        )
        return self._send(request, headers, trusted_id=event_id is None, owned=True)

    def emit_action(
        self,
        actor: Actor | str,
        action: str,
        resource: Resource,
        outcome: Outcome,
        *,
        src_endpoint: Endpoint = NO_ENDPOINT,
        auth: AuthContext = NO_AUTH,
        status_detail: str | None = None,
        request_id: str | None = None,
        time_ms: int | None = None,
        event_id: str | None = None,
        session_id: str | None = None,
        device_id: str | None = None,
        trace_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        headers: Headers | None = None,
    ) -> AccessAction:
        """Publish something a user did, with its outcome, to ``access.actions``."""
        action_event = AccessAction(
            event_id=event_id or new_event_id(),
            time=now_ms() if time_ms is None else time_ms,
            source=self._placeholder,
            actor=Actor(actor) if isinstance(actor, str) else actor,
            action=action,
            resource=resource,
            outcome=outcome,
            src_endpoint=src_endpoint,
            auth=auth,
            status_detail=status_detail,
            request_id=request_id,
            session_id=session_id,
            device_id=device_id,
            trace_id=trace_id,
            attributes=attributes or {},
        )
        return self._send(action_event, headers, trusted_id=event_id is None, owned=True)

    def publish(self, event: SentEvent, headers: Headers | None = None) -> SentEvent:
        """Publish a prepared AccessRequest or AccessAction; return it as sent.

        Its source stamp is replaced by this client's (source id, epoch, next seq).
        InvalidEventError when ``event`` is anything else.
        """
        if not isinstance(event, AccessRequest | AccessAction):
            raise InvalidEventError(
                type(event).__name__,
                "(event)",
                "only an AccessRequest or an AccessAction can be published "
                f"(got {type(event).__module__}.{type(event).__qualname__})",
            )
        return self._send(event, headers, trusted_id=False, owned=False)

    def authorize(
        self,
        actor: Actor | str,
        action: str,
        resource: Resource,
        *,
        timeout: float | None = None,
        **request_fields: Any,
    ) -> Decision:
        """Publish an access request and wait for its decision on ``risk.decisions``.

        Takes the arguments of :meth:`request_access`. When no decision arrives within
        ``timeout`` (default ``authorize_timeout_s``) the configured fallback applies:
        DENY (fail closed, the default) or ALLOW (fail open), with ``fallback=True``.
        ``timeout`` is a number of seconds, zero or more; ``math.inf`` waits without limit.
        A ValueError is raised, before anything is sent, for any other timeout, and an
        InvalidEventError when ``event_id`` is already waiting for a decision. A call still
        waiting when the client is closed raises ClientClosedError.
        """
        wait_s = authorize_wait_s(timeout, self.settings.authorize_timeout_s)
        listener = self._reply_listener()
        event_id = request_fields.pop("event_id", None) or new_event_id()
        pending = listener.expect(event_id)
        try:
            request = self.request_access(
                actor, action, resource, event_id=event_id, **request_fields
            )
            if pending.event.wait(wait_limit(wait_s)) and pending.decision is not None:
                return pending.decision
            if pending.closed:
                raise pending.closed_error()
        except BaseException:  # an error, KeyboardInterrupt...: nobody waits any more
            listener.forget(event_id)
            raise
        listener.forget(event_id)
        return self.fallback_decision(request, wait_s)

    def start_replies(self) -> None:
        """Start consuming decisions now (the first :meth:`authorize` does otherwise): it
        reads the decisions topic's metadata and end offsets, which may take up to
        ``sdk_connect_timeout_s``. BrokerUnavailableError when no broker answers."""
        self._reply_listener()

    def expect_decision(self, request_id: str) -> PendingReply:
        """Register for the decision of a request you are about to send (async callers).

        InvalidEventError when ``request_id`` is not a string or is already registered.
        """
        return self._reply_listener().expect(request_id)

    def forget_decision(self, request_id: str) -> None:
        """Stop waiting for the decision of ``request_id``."""
        self._reply_listener().forget(request_id)

    def fallback_decision(self, request: AccessRequest, waited_s: float) -> Decision:
        """The decision used when none arrived in time; it is never published."""
        verdict = Verdict.DENY if self.settings.authorize_fallback == "deny" else Verdict.ALLOW
        return Decision(
            event_id=new_event_id(),
            time=request.time,
            source=request.source,
            request_id=request.event_id,
            user_id=request.user_id,
            verdict=verdict,
            request_risk=0,
            user_risk=0,
            risk_level=RiskLevel.LOW,
            versions=Versions(SDK_VERSION, "fallback", "fallback", "fallback"),
            reasons=(
                Reason(
                    code="decision_timeout",
                    value=f"no decision within {waited_s:g} s",
                    points=0,
                    threshold=f"fallback={self.settings.authorize_fallback}",
                ),
            ),
            fallback=True,
        )

    def flush(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        """Wait until every event is acknowledged or ``timeout``; return what failed.

        Each failure is returned once (with an ``on_delivery`` callback, which gets each
        one, only the newest 10,000 are kept for here). Events still queued after the
        timeout are counted by :attr:`in_flight`; :meth:`close` reports them one by one.
        """
        if self._closed:
            raise ClientClosedError("this AuditClient is closed: close() returned its failures")
        self._producer.flush(timeout)
        return self._tracker.collect()

    @property
    def in_flight(self) -> int:
        """Events handed to Kafka and not yet acknowledged or failed."""
        return len(self._producer)

    @property
    def next_seq(self) -> int:
        """The sequence number the next event of this client will carry."""
        return self._seq

    def close(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        """Flush, stop the background threads and return what failed. Idempotent.

        An event sent by another thread once closing has begun raises ClientClosedError:
        it is either flushed here or refused, never left behind."""
        with self._send_lock:
            if self._closed:
                return []
            self._closed = True
        self._producer.flush(timeout)
        self._poller_stop.set()
        self._poller.join(timeout=5)
        # Whatever is still queued is purged: librdkafka reports each purged event as a
        # failure (_PURGE_QUEUE / _PURGE_INFLIGHT), and poll() hands those reports over.
        self._producer.purge()
        deadline = time.monotonic() + 5
        while len(self._producer) > 0 and time.monotonic() < deadline:
            self._producer.poll(0.05)
        failures = self._tracker.collect()
        self._producer.close()
        with self._replies_lock:
            if self._replies is not None:
                self._replies.close()
                self._replies = None
        return failures

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"AuditClient(bootstrap={self.settings.kafka_bootstrap!r}, "
            f"source={self.source_id!r}/{self.epoch}, next_seq={self._seq})"
        )

    # --- internals -------------------------------------------------------------------------
    def _check_broker(self) -> None:
        timeout = self.settings.sdk_connect_timeout_s
        try:
            metadata = self._producer.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise BrokerUnavailableError(
                f"no Kafka broker answered at {self.settings.kafka_bootstrap} within "
                f"{timeout:g} s ({exc.args[0]}); start it (`riskseal stack up`) or fix "
                "RISKSEAL_KAFKA_BOOTSTRAP"
            ) from exc
        missing = [
            topic
            for topic in (self.settings.topic_requests, self.settings.topic_actions)
            if topic not in metadata.topics
        ]
        if missing:
            raise BrokerUnavailableError(
                f"topic(s) {', '.join(missing)} do not exist on {self.settings.kafka_bootstrap};"
                " create them with their partition counts (`riskseal stack up` does) instead "
                "of letting the broker auto-create them"
            )

    def _send(
        self, draft: SentEvent, headers: Headers | None, trusted_id: bool, owned: bool
    ) -> SentEvent:
        if self._closed:
            raise ClientClosedError("this AuditClient is closed; create a new one")
        self._check_not_in_future(draft)
        # Validate and encode everything but the sequence number outside the lock, so a bad
        # event never consumes a sequence number and the lock is held only to produce.
        if isinstance(draft, AccessRequest):
            parts = self._encoder.encode_request(draft, trusted_id)
            topic, kind = self.settings.topic_requests, EventType.ACCESS_REQUEST
        else:
            parts = self._encoder.encode_action(draft, trusted_id)
            topic, kind = self.settings.topic_actions, EventType.ACCESS_ACTION
        # With a registry the fast encoder has validated the event; AvroSerializer writes it.
        record = None if self._registry is None else draft.to_record()
        key = draft.actor.uid.encode()
        header_list = _header_list(draft, headers) if headers else None
        deadline = None
        while True:
            with self._send_lock:
                if self._closed:  # checked again: close() may have begun meanwhile
                    raise ClientClosedError("this AuditClient is closed; create a new one")
                seq = self._seq
                value = parts.with_seq(seq) if record is None else self._framed(kind, record, seq)
                try:
                    self._producer.produce(topic, value=value, key=key, headers=header_list)
                except BufferError:
                    pass
                except KafkaException as exc:  # refused at once: the event goes nowhere
                    raise _refused(draft, exc) from exc
                else:
                    self._seq = seq + 1
                    break
            deadline = self._wait_for_space(deadline)
        stamp = SourceStamp(self.source_id, self.epoch, seq)
        if not owned:
            return dataclasses.replace(draft, source=stamp)
        # The draft was made by request_access/emit_action and nobody else has seen it yet:
        # setting its stamp in place saves a copy on the hot path.
        object.__setattr__(draft, "source", stamp)
        return draft

    def _check_not_in_future(self, draft: SentEvent) -> None:
        """InvalidEventError when ``draft`` is dated beyond the allowed clock skew."""
        if type(draft.time) is not int:
            return  # not a time at all: validation names what is wrong with it
        limit_s = self.settings.sdk_max_future_skew_s
        ahead_ms = draft.time - now_ms()
        if ahead_ms > limit_s * 1000:
            raise InvalidEventError(
                type(draft).__name__,
                "time",
                f"{draft.time} is {ahead_ms / 1000:,.0f} s ahead of this host's clock (limit "
                f"{limit_s:g} s, RISKSEAL_SDK_MAX_FUTURE_SKEW_S): the risk engine runs on event "
                "time, and an event from the future would make its user's next events look "
                "old. Give milliseconds since the epoch, and check this host's clock",
            )

    def _framed(self, kind: EventType, record: dict[str, Any], seq: int) -> bytes:
        """``record`` stamped with this client's source and ``seq``, in registry framing."""
        if self._registry is None:  # pragma: no cover - only called with a registry
            raise TypeError("no Schema Registry configured")
        source = {"source_id": self.source_id, "epoch": self.epoch, "seq": seq}
        return self._registry.encode(kind, {**record, "source": source})

    def _wait_for_space(self, deadline: float | None) -> float:
        limit = self.settings.sdk_buffer_max_messages
        if self.settings.sdk_on_buffer_full == "raise":
            raise BackpressureError(
                f"the client's buffer of {limit} events is full: the broker is slower than "
                "the application or unreachable; retry later, raise "
                "RISKSEAL_SDK_BUFFER_MAX_MESSAGES, or set RISKSEAL_SDK_ON_BUFFER_FULL=block"
            )
        now = time.monotonic()
        if deadline is None:
            deadline = now + self.settings.sdk_block_timeout_s
        if now >= deadline:
            raise BackpressureError(
                f"the client's buffer of {limit} events stayed full for "
                f"{self.settings.sdk_block_timeout_s:g} s (RISKSEAL_SDK_BLOCK_TIMEOUT_S); "
                "the broker is slow or unreachable"
            )
        self._producer.poll(0.05)
        return deadline

    def _reply_listener(self) -> ReplyListener:
        with self._replies_lock:
            if self._closed:
                raise ClientClosedError("this AuditClient is closed; create a new one")
            if self._replies is None:
                self._replies = ReplyListener(
                    self.settings.kafka_config(),
                    self.settings.topic_decisions,
                    self.codec,
                    self.settings.sdk_connect_timeout_s,
                )
            return self._replies

    def _poll(self) -> None:
        while not self._poller_stop.is_set():
            self._producer.poll(0.1)


def _refused(draft: SentEvent, exc: KafkaException) -> SdkError:
    """The error for an event librdkafka refused to queue."""
    error = exc.args[0]
    what = f"{type(draft).__name__} {draft.event_id} was not sent"
    if isinstance(error, KafkaError) and error.code() == KafkaError.MSG_SIZE_TOO_LARGE:
        return SdkError(
            f"{what}: with its key and headers it is larger than the producer's "
            "message.max.bytes (1 MB by default); send less in the headers"
        )
    return SdkError(f"{what}: Kafka refused it ({error})")


HeaderList = list[tuple[str, str | bytes | None]]


def _header_list(event: AccessRequest | AccessAction, headers: Headers) -> HeaderList:
    kind = type(event).__name__
    if not isinstance(headers, Mapping):
        reason = f"expected a mapping of header names to str or bytes, got {type(headers).__name__}"
        raise InvalidEventError(kind, "headers", reason)
    result: HeaderList = []
    for name, value in headers.items():
        if not isinstance(name, str) or not name:
            raise InvalidEventError(kind, "headers", f"bad header name {name!r}")
        problem = None if name.isascii() else _utf8_problem(name)
        if problem is not None:
            reason = f"bad header name {name!r}: {problem}"
            raise InvalidEventError(kind, "headers", reason)
        if isinstance(value, str):
            problem = _utf8_problem(value)
            if problem is not None:
                raise InvalidEventError(kind, f"headers[{name!r}]", problem)
            value = value.encode("utf-8")
        elif not isinstance(value, bytes):
            reason = f"expected str or bytes, got {type(value).__name__}"
            raise InvalidEventError(kind, f"headers[{name!r}]", reason)
        result.append((name, value))
    return result


def _utf8_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid UTF-8: {exc.reason} at character {exc.start}"
    return None


def authorize_wait_s(timeout: float | None, default: float) -> float:
    """The seconds ``authorize`` waits: ``timeout``, or ``default`` when it is None.

    ValueError, naming the argument, unless it is a number of seconds, zero or more
    (``math.inf`` to wait without limit).
    """
    wait_s = default if timeout is None else timeout
    if isinstance(wait_s, bool) or not isinstance(wait_s, int | float):
        raise ValueError(
            f"authorize(timeout=...) must be a number of seconds or None, "
            f"got {type(wait_s).__name__}"
        )
    if math.isnan(wait_s) or wait_s < 0:
        raise ValueError(
            f"authorize(timeout={wait_s!r}) must be zero or more seconds (math.inf to wait "
            "without limit)"
        )
    return float(wait_s)


def wait_limit(wait_s: float) -> float | None:
    """``wait_s`` for Event.wait and asyncio.wait_for: None (no limit) when it is too long
    for them (``threading.TIMEOUT_MAX``, about 292 years, raises OverflowError)."""
    return None if wait_s >= threading.TIMEOUT_MAX else wait_s
