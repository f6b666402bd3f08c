"""AuditClient and AsyncAuditClient refuse bad input before sending, and never leave a
waiter for a decision behind; no broker needed (produce() only queues)."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from riskseal.contract import (
    Actor,
    Decision,
    Outcome,
    Resource,
    RiskLevel,
    SourceStamp,
    Verdict,
    Versions,
)
from riskseal.contract.events import now_ms
from riskseal.errors import ClientClosedError, InvalidEventError, SdkError
from riskseal.sdk import AsyncAuditClient, AuditClient
from riskseal.sdk.replies import PendingReply, ReplyListener
from riskseal.settings import Settings

DOC = Resource("document", "q3")
EVENT_ID = "0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70"


class ObservedEvent(threading.Event):
    """The event a waiter blocks on, which says when someone starts waiting on it."""

    def __init__(self, started: threading.Event, interrupt: bool) -> None:
        super().__init__()
        self.started = started
        self.interrupt = interrupt

    def wait(self, timeout: float | None = None) -> bool:
        self.started.set()
        if self.interrupt:
            raise KeyboardInterrupt
        return super().wait(timeout)


class OfflineListener(ReplyListener):
    """The waiter table of a ReplyListener, without its Kafka consumer."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingReply] = {}
        self._lock = threading.Lock()
        self.wait_started = threading.Event()
        self.interrupt = False

    def expect(self, request_id: str) -> PendingReply:
        pending = super().expect(request_id)
        pending.event = ObservedEvent(self.wait_started, self.interrupt)
        return pending

    @property
    def waiting(self) -> list[str]:
        with self._lock:
            return list(self._pending)

    def answer(self, request_id: str) -> None:
        """Resolve ``request_id`` as the listener thread does when its decision arrives."""
        with self._lock:
            pending = self._pending.pop(request_id)
        pending.resolve(_decision(request_id))

    def _stop_consuming(self) -> None:
        pass


class _FlushHook:
    """A producer whose flush runs a hook (confluent-kafka's Producer cannot be patched)."""

    def __init__(self, producer: Any, flush: Any) -> None:
        self._producer, self.flush = producer, flush

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)

    def __len__(self) -> int:
        return len(self._producer)


def _decision(request_id: str) -> Decision:
    return Decision(
        event_id=EVENT_ID,
        time=0,
        source=SourceStamp("risk", 1, 0),
        request_id=request_id,
        user_id="alice",
        verdict=Verdict.ALLOW,
        request_risk=0,
        user_risk=0,
        risk_level=RiskLevel.LOW,
        versions=Versions("e", "r", "p", "n"),
    )


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(AuditClient, "_check_broker", lambda self: None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return Settings.local(kafka_bootstrap=f"127.0.0.1:{port}", source_id="app/1")


@pytest.fixture
def listener() -> OfflineListener:
    return OfflineListener()


@pytest.fixture
def client(settings: Settings, listener: OfflineListener) -> Iterator[AuditClient]:
    audit = AuditClient(settings)
    audit._replies = listener
    yield audit
    audit.close(timeout=0)


def _nothing_sent(client: AuditClient) -> bool:
    # Every event produced takes a sequence number; len(producer) also counts librdkafka's
    # own requests, so it is not used here.
    return client.next_seq == 0


@pytest.mark.parametrize(
    ("headers", "path", "reason"),
    [
        ({"x": 5}, "headers['x']", "expected str or bytes, got int"),
        ({"x": None}, "headers['x']", "expected str or bytes, got NoneType"),
        ({"x": "a\udc80"}, "headers['x']", "not valid UTF-8"),
        ({"\udc80": "a"}, "headers", "bad header name"),
        ([("x", "y")], "headers", "expected a mapping of header names to str or bytes, got list"),
    ],
)
def test_bad_header_is_refused_before_sending(
    client: AuditClient, headers: Any, path: str, reason: str
) -> None:
    with pytest.raises(InvalidEventError) as refused:
        client.request_access("alice", "data.read", DOC, headers=headers)
    assert (refused.value.field_path, refused.value.reason[: len(reason)]) == (path, reason)
    assert _nothing_sent(client)


def test_an_event_dated_beyond_the_clock_skew_is_refused_before_sending(
    client: AuditClient,
) -> None:
    limit_ms = int(client.settings.sdk_max_future_skew_s * 1000)
    ahead = now_ms() + limit_ms + 60_000
    with pytest.raises(InvalidEventError) as refused:
        client.request_access("alice", "data.read", DOC, time_ms=ahead)
    assert refused.value.field_path == "time"
    assert "ahead of this host's clock" in refused.value.reason
    with pytest.raises(InvalidEventError, match="ahead of this host's clock"):
        client.emit_action("alice", "auth.login", DOC, Outcome.SUCCESS, time_ms=now_ms() * 1000)
    assert _nothing_sent(client)
    client.request_access("alice", "data.read", DOC, time_ms=now_ms() + limit_ms // 2)
    client.request_access("alice", "data.read", DOC, time_ms=now_ms() - 86_400_000)
    assert client.next_seq == 2


def test_an_event_too_large_for_kafka_with_its_headers_is_a_typed_error(
    client: AuditClient,
) -> None:
    with pytest.raises(SdkError, match=r"larger than the producer's message\.max\.bytes"):
        client.request_access("alice", "data.read", DOC, headers={"blob": bytes(2_000_000)})
    assert _nothing_sent(client)


def test_header_values_of_str_and_bytes_are_sent(client: AuditClient) -> None:
    client.request_access("alice", "data.read", DOC, headers={"a": "é", "b": b"\xff"})
    assert client.next_seq == 1


def test_roles_as_a_list_are_refused_before_sending(client: AuditClient) -> None:
    with pytest.raises(InvalidEventError) as refused:
        client.request_access(Actor("alice", roles=["sales"]), "data.read", DOC)  # type: ignore[arg-type]
    assert refused.value.field_path == "actor.roles"
    assert _nothing_sent(client)


@pytest.mark.parametrize("event", [_decision(EVENT_ID), "an event", None])
def test_publish_refuses_what_is_not_a_request_or_an_action(
    client: AuditClient, event: Any
) -> None:
    with pytest.raises(InvalidEventError) as refused:
        client.publish(event)
    assert refused.value.event_type == type(event).__name__
    assert refused.value.field_path == "(event)"
    assert "only an AccessRequest or an AccessAction can be published" in refused.value.reason
    assert _nothing_sent(client)


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (-1.0, "authorize(timeout=-1.0) must be zero or more seconds"),
        (math.nan, "authorize(timeout=nan) must be zero or more seconds"),
        ("5", "authorize(timeout=...) must be a number of seconds or None, got str"),
        (True, "authorize(timeout=...) must be a number of seconds or None, got bool"),
    ],
)
def test_bad_authorize_timeout_is_refused_before_sending(
    client: AuditClient, listener: OfflineListener, timeout: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        client.authorize("alice", "data.read", DOC, timeout=timeout)
    assert _nothing_sent(client)
    assert listener.waiting == []


def test_authorize_timeout_falls_back_and_forgets_its_waiter(
    client: AuditClient, listener: OfflineListener
) -> None:
    decision = client.authorize("alice", "data.read", DOC, timeout=0)
    assert decision.fallback and decision.verdict is Verdict.DENY
    assert listener.waiting == []


def test_authorize_with_an_infinite_timeout_waits_for_the_decision(
    client: AuditClient, listener: OfflineListener
) -> None:
    def answer_when_waiting() -> None:
        assert listener.wait_started.wait(10)
        listener.answer(EVENT_ID)

    answering = threading.Thread(target=answer_when_waiting)
    answering.start()
    decision = client.authorize("alice", "data.read", DOC, timeout=math.inf, event_id=EVENT_ID)
    answering.join()
    assert (decision.fallback, decision.request_id) == (False, EVENT_ID)
    assert listener.waiting == []


def test_closing_wakes_an_authorize_still_waiting_with_client_closed_error(
    client: AuditClient, listener: OfflineListener
) -> None:
    raised: list[BaseException] = []

    def wait_forever() -> None:
        try:
            client.authorize("alice", "data.read", DOC, timeout=math.inf, event_id=EVENT_ID)
        except BaseException as exc:
            raised.append(exc)

    waiting = threading.Thread(target=wait_forever)
    waiting.start()
    assert listener.wait_started.wait(10)
    listener.close()
    waiting.join(10)
    assert not waiting.is_alive()
    assert [type(exc) for exc in raised] == [ClientClosedError]
    assert listener.waiting == []


def test_closing_wakes_an_async_authorize_still_waiting(
    async_client: AsyncAuditClient, listener: OfflineListener
) -> None:
    async def body() -> None:
        task = asyncio.create_task(
            async_client.authorize("alice", "data.read", DOC, timeout=math.inf, event_id=EVENT_ID)
        )
        await _until_sent(async_client, 1)
        listener.close()
        with pytest.raises(ClientClosedError, match=EVENT_ID):
            await task

    asyncio.run(body())
    assert listener.waiting == []


def test_an_event_sent_while_the_client_closes_is_refused_not_left_behind(
    client: AuditClient,
) -> None:
    # Another thread sends while close() flushes: the event would never be flushed.
    refused: list[BaseException] = []
    flush = client._producer.flush

    def flush_while_another_thread_sends(timeout: float) -> int:
        def send() -> None:
            try:
                client.request_access("alice", "data.read", DOC)
            except ClientClosedError as exc:
                refused.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        sender.join(10)
        return flush(timeout)

    client._producer = cast(Any, _FlushHook(client._producer, flush_while_another_thread_sends))
    client.close(timeout=0)
    assert len(refused) == 1 and _nothing_sent(client)
    with pytest.raises(ClientClosedError, match="close"):
        client.flush(0)


def test_interrupted_authorize_forgets_its_waiter(
    client: AuditClient, listener: OfflineListener
) -> None:
    listener.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        client.authorize("alice", "data.read", DOC, timeout=5)
    assert client.next_seq == 1
    assert listener.waiting == []


def test_authorize_that_cannot_send_forgets_its_waiter(
    client: AuditClient, listener: OfflineListener
) -> None:
    with pytest.raises(InvalidEventError):
        client.authorize("alice", "", DOC)
    assert listener.waiting == []


def test_authorize_refuses_an_event_id_already_waiting_and_keeps_the_first(
    client: AuditClient, listener: OfflineListener
) -> None:
    first = client.expect_decision(EVENT_ID)
    with pytest.raises(InvalidEventError) as refused:
        client.authorize("alice", "data.read", DOC, event_id=EVENT_ID)
    assert refused.value.field_path == "event_id"
    assert "is already waiting for a decision" in refused.value.reason
    assert _nothing_sent(client)
    listener.answer(EVENT_ID)
    assert first.decision is not None and first.decision.request_id == EVENT_ID


def test_authorize_refuses_an_event_id_that_is_not_a_string(
    client: AuditClient, listener: OfflineListener
) -> None:
    with pytest.raises(InvalidEventError) as refused:
        client.authorize("alice", "data.read", DOC, event_id=[EVENT_ID])
    assert (refused.value.field_path, refused.value.reason) == (
        "event_id",
        "expected a string, got list",
    )
    assert _nothing_sent(client)
    assert listener.waiting == []


def test_event_id_can_wait_again_once_answered(listener: OfflineListener) -> None:
    listener.expect(EVENT_ID)
    listener.answer(EVENT_ID)
    assert listener.expect(EVENT_ID).request_id == EVENT_ID


# --- AsyncAuditClient ----------------------------------------------------------------------
@pytest.fixture
def async_client(settings: Settings, listener: OfflineListener) -> Iterator[AsyncAuditClient]:
    audit = AsyncAuditClient(settings)
    audit.sync._replies = listener
    yield audit
    audit.sync.close(timeout=0)


async def _until_sent(client: AsyncAuditClient, count: int) -> None:
    while client.sync.next_seq < count:
        await asyncio.sleep(0)


def test_cancelled_async_authorize_forgets_its_waiter(
    async_client: AsyncAuditClient, listener: OfflineListener
) -> None:
    async def body() -> None:
        tasks = [
            asyncio.create_task(async_client.authorize("alice", "data.read", DOC, timeout=60))
            for _ in range(20)
        ]
        await _until_sent(async_client, 20)
        assert len(listener.waiting) == 20
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(result, asyncio.CancelledError) for result in results)

    asyncio.run(body())
    assert listener.waiting == []


def test_async_authorize_starts_the_decisions_consumer_off_the_event_loop(
    async_client: AsyncAuditClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starting it asks the broker for metadata and offsets: seconds, when it is slow.
    threads: list[threading.Thread] = []
    start = AuditClient.start_replies

    def recorded(self: AuditClient) -> None:
        threads.append(threading.current_thread())
        start(self)

    monkeypatch.setattr(AuditClient, "start_replies", recorded)

    async def twice() -> None:
        for _ in range(2):
            await async_client.authorize("alice", "data.read", DOC, timeout=0)

    asyncio.run(twice())
    assert len(threads) == 1 and threads[0] is not threading.main_thread()


def test_async_authorize_timeout_falls_back_and_forgets_its_waiter(
    async_client: AsyncAuditClient, listener: OfflineListener
) -> None:
    decision = asyncio.run(async_client.authorize("alice", "data.read", DOC, timeout=0))
    assert decision.fallback
    assert listener.waiting == []


@pytest.mark.parametrize("timeout", [-1.0, math.nan])
def test_bad_async_authorize_timeout_is_refused_before_sending(
    async_client: AsyncAuditClient, listener: OfflineListener, timeout: float
) -> None:
    with pytest.raises(ValueError, match="must be zero or more seconds"):
        asyncio.run(async_client.authorize("alice", "data.read", DOC, timeout=timeout))
    assert _nothing_sent(async_client.sync)
    assert listener.waiting == []


def test_async_authorize_with_an_infinite_timeout_waits_for_the_decision(
    async_client: AsyncAuditClient, listener: OfflineListener
) -> None:
    async def body() -> Decision:
        task = asyncio.create_task(
            async_client.authorize("alice", "data.read", DOC, timeout=math.inf, event_id=EVENT_ID)
        )
        await _until_sent(async_client, 1)
        listener.answer(EVENT_ID)
        return await task

    decision = asyncio.run(body())
    assert (decision.fallback, decision.request_id) == (False, EVENT_ID)
    assert listener.waiting == []


def test_async_authorize_refuses_an_event_id_already_waiting(
    async_client: AsyncAuditClient, listener: OfflineListener
) -> None:
    async_client.sync.expect_decision(EVENT_ID)
    with pytest.raises(InvalidEventError, match="already waiting for a decision"):
        asyncio.run(async_client.authorize("alice", "data.read", DOC, event_id=EVENT_ID))
    assert listener.waiting == [EVENT_ID]
    assert _nothing_sent(async_client.sync)
