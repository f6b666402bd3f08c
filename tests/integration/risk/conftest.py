"""Risk workers as subprocesses on the session stack: fresh topics and app id per test.

A worker is ``python -m riskseal risk worker`` with the test's settings in its environment;
it is ready when its ``/risk/ready/`` page answers 200 (joined, tables recovered, streams
resumed). Outputs are read from the beginning of the test's own topics with plain
confluent-kafka consumers, counting what was read (the local broker's end offsets are too
low to decide completeness from).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import Decision
from riskseal.risk.state import UserState
from riskseal.risk.worker import provision_topics
from riskseal.settings import Settings
from tests.integration.conftest import RealStack, on_fresh_topics

CODEC = EventCodec()
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s until it holds; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class WorkerProcess:
    """One ``riskseal risk worker`` subprocess."""

    settings: Settings
    name: str
    log: Path
    store: str
    data_dir: Path
    web_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Start the worker (not waiting for it)."""
        env = {**os.environ, **self.settings.to_env()}
        command = [
            sys.executable,
            "-m",
            "riskseal",
            "risk",
            "worker",
            "--web-port",
            str(self.web_port),
            "--store",
            self.store,
            "--data-dir",
            str(self.data_dir),
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _get(self, path: str) -> tuple[int, bytes] | None:
        url = f"http://127.0.0.1:{self.web_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def readiness(self) -> dict[str, Any] | None:
        """The ready page's body when the worker is ready, else None."""
        answer = self._get("/risk/ready/")
        if answer is None or answer[0] != 200:
            return None
        body: dict[str, Any] = json.loads(answer[1])
        return body

    def partitions(self) -> set[int]:
        """The request partitions this worker processes (empty when not ready)."""
        ready = self.readiness()
        if ready is None:
            return set()
        return set(ready["partitions"].get(self.settings.topic_requests, []))

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the worker is ready; fail fast with its log if it exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive():
                raise AssertionError(f"worker {self.name} exited:\n{self.log_tail()}")
            ready = self.readiness()
            if ready is not None:
                return ready
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.name} not ready:\n{self.log_tail()}")
            time.sleep(0.1)

    def user_state(self, user_id: str) -> UserState | None:
        """The user's state in this worker's table (None when it does not hold the user)."""
        answer = self._get(f"/risk/users/{user_id}/state/")
        if answer is None or answer[0] == 404:
            return None
        assert answer[0] == 200, answer
        return UserState.from_bytes(answer[1])

    def kill(self) -> None:
        """SIGKILL the worker's process group."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def terminate(self, timeout_s: float = 30) -> int:
        """SIGTERM and wait: the graceful stop; returns the exit code."""
        assert self.process is not None
        os.killpg(self.pid, signal.SIGTERM)
        return self.process.wait(timeout_s)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class RiskWorld:
    """Settings with fresh topics and app id, and the workers started for one test."""

    settings: Settings
    tmp: Path
    local: bool
    """True on the local stack (Tansu), False against external endpoints."""
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(
        self, name: str, store: str = "memory", data_dir: Path | None = None
    ) -> WorkerProcess:
        """A started worker; it is killed at the end of the test if still running."""
        worker = WorkerProcess(
            self.settings,
            name,
            self.tmp / f"{name}.log",
            store,
            data_dir or self.tmp / f"{name}-data",
        ).start()
        self.workers.append(worker)
        return worker

    def consumer(self, topic: str, partitions: int) -> Consumer:
        """A consumer assigned to every partition of ``topic`` from the beginning."""
        consumer = Consumer(
            {
                **self.settings.kafka_config(),
                "group.id": f"reader-{uuid.uuid4()}",  # never joined: assign()
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        return consumer

    def read(
        self, topic: str, partitions: int, done: Callable[[list[Message]], bool], timeout_s: float
    ) -> list[Message]:
        """Read ``topic`` from the start until ``done(messages)``; fail on timeout."""
        consumer = self.consumer(topic, partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout_s
        try:
            while not done(messages):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"read {len(messages)} records from {topic} in {timeout_s:g} s, not enough"
                    )
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    messages.append(message)
        finally:
            consumer.close()
        return messages

    def dead_letter(self, timeout_s: float = 30) -> tuple[Message, list[tuple[str, bytes]]]:
        """The first record of the dead-letter topic, and its headers that have a value."""
        settings = self.settings
        [dead] = self.read(
            settings.topic_deadletter, settings.partitions_deadletter, lambda m: len(m) >= 1,
            timeout_s,
        )  # fmt: skip
        raw_headers = dead.headers()
        assert isinstance(raw_headers, list)
        return dead, [(name, value) for name, value in raw_headers if isinstance(value, bytes)]

    def committed(self, topic: str, partitions: int) -> dict[int, int | None]:
        """The workers' committed offset of each partition of ``topic`` (None: none yet)."""
        consumer = Consumer(
            {
                **self.settings.kafka_config(),
                "group.id": self.settings.risk_app_id,  # the workers' group; never joined
                "enable.auto.commit": False,
            }
        )
        try:
            answer = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
        finally:
            consumer.close()
        return {tp.partition: tp.offset if tp.offset >= 0 else None for tp in answer}

    def decisions(self, done: Callable[[list[Decision]], bool], timeout_s: float) -> list[Decision]:
        """Decisions read from the start of the decisions topic until ``done``."""
        seen: list[Decision] = []

        def enough(messages: list[Message]) -> bool:
            while len(seen) < len(messages):
                value = messages[len(seen)].value()
                assert value is not None
                event = typed_event(CODEC.decode(value))
                assert isinstance(event, Decision)
                seen.append(event)
            return done(seen)

        self.read(
            self.settings.topic_decisions, self.settings.partitions_decisions, enough, timeout_s
        )
        return seen


class Decided:
    """A ``done`` condition: every request in ``request_ids`` has a decision.

    ``undecided`` keeps what was still missing at the last check, for failure reports.
    """

    def __init__(self, request_ids: set[str]) -> None:
        self.request_ids = request_ids
        self.undecided = set(request_ids)

    def __call__(self, decisions: list[Decision]) -> bool:
        self.undecided = self.request_ids - {d.request_id for d in decisions}
        return not self.undecided


def locate_requests(world: RiskWorld, request_ids: set[str]) -> dict[str, tuple[int, int]]:
    """The (partition, offset) of each request of ``request_ids`` in the requests topic."""
    found: dict[str, tuple[int, int]] = {}
    checked = 0

    def all_found(messages: list[Message]) -> bool:
        nonlocal checked
        for message in messages[checked:]:
            value = message.value()
            assert value is not None
            event_id = typed_event(CODEC.decode(value)).event_id
            if event_id in request_ids:
                found[event_id] = (cast(int, message.partition()), cast(int, message.offset()))
        checked = len(messages)
        return len(found) == len(request_ids)

    settings = world.settings
    world.read(settings.topic_requests, settings.partitions_access, all_found, 30)
    return found


def describe_offsets(located: dict[str, tuple[int, int]]) -> str:
    """``partition P: offsets [...]`` lines for :func:`locate_requests`' answer."""
    by_partition: dict[int, list[int]] = {}
    for partition, offset in located.values():
        by_partition.setdefault(partition, []).append(offset)
    return "\n".join(f"partition {p}: offsets {sorted(o)}" for p, o in sorted(by_partition.items()))


@pytest.fixture
def risk_world(real_stack: RealStack, tmp_path: Path) -> Iterator[RiskWorld]:
    """Fresh topics and app id on the session stack; workers killed afterwards."""
    tag = uuid.uuid4().hex[:10]
    settings = on_fresh_topics(
        real_stack.settings,
        f"r{tag}",
        partitions_access=4,
        partitions_decisions=2,
        risk_app_id=f"risk-{tag}",
        risk_reload_interval_s=2.0,
    )
    provision_topics(settings)
    world = RiskWorld(settings, tmp_path, local=real_stack.local is not None)
    try:
        yield world
    finally:
        for worker in world.workers:
            worker.kill()
