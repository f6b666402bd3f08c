"""Risk workers as subprocesses: ``riskseal risk worker`` on the demo's stack and temp dir.

Each worker gets its own web port (a free one) and data directory, and is ready when its
``GET /risk/ready/`` page answers 200 (joined, tables recovered, streams resumed). Workers
run in sessions of their own, so the whole process group is signalled when they stop:
SIGTERM first (Faust commits and leaves the group), SIGKILL after a grace period.
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
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from riskseal.demo.report import DemoFailed
from riskseal.settings import Settings

READY_PATH = "/risk/ready/"
"""The worker's readiness page (``riskseal.risk.web``; not imported: it pulls in Faust)."""
STOP_GRACE_S = 20.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RiskWorker:
    """One ``riskseal risk worker`` subprocess."""

    name: str
    settings: Settings
    workdir: Path
    store: str = "memory"
    web_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        """Where the worker's output goes."""
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        """The worker's pid once started."""
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        """Start the worker, not waiting for it."""
        command = [
            sys.executable, "-m", "riskseal", "risk", "worker",
            "--web-port", str(self.web_port),
            "--store", self.store,
            "--data-dir", str(self.workdir / f"{self.name}-data"),
            "--loglevel", "warning",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env={**os.environ, **self.settings.to_env()},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def readiness(self) -> dict[str, Any] | None:
        """The ready page's body when the worker is ready, else None."""
        url = f"http://127.0.0.1:{self.web_port}{READY_PATH}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: dict[str, Any] = json.loads(response.read())
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return None  # not listening yet, or 503 while joining / rebalancing

    def partitions(self) -> list[int]:
        """The request partitions this worker processes (empty when not ready)."""
        ready = self.readiness()
        if ready is None:
            return []
        found: list[int] = ready.get("partitions", {}).get(self.settings.topic_requests, [])
        return found

    def terminate(self) -> None:
        """Ask the worker to stop (SIGTERM to its process group); do not wait."""
        if self.alive() and self.process is not None:
            _signal_group(self.process.pid, signal.SIGTERM)

    def wait(self, timeout_s: float) -> int | None:
        """Wait up to ``timeout_s`` for the process to exit; SIGKILL it if it has not."""
        process = self.process
        if process is None:
            return None
        try:
            return process.wait(max(timeout_s, 0.0))
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            return process.wait(10)

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the worker's output, for error messages."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


class WorkerPool:
    """Workers of one app id, started together (the broker holds each group join a while)."""

    def __init__(self, settings: Settings, workdir: Path, count: int, store: str) -> None:
        self.settings = settings
        self.workers = [
            RiskWorker(f"risk-worker-{i + 1}", settings, workdir, store) for i in range(count)
        ]

    def __enter__(self) -> Self:
        try:
            for worker in self.workers:
                worker.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the started workers."""
        return tuple(worker.pid for worker in self.workers if worker.pid is not None)

    def wait_ready(self, timeout_s: float) -> dict[str, list[int]]:
        """Wait until every worker is ready and together they own every request partition."""
        wanted = set(range(self.settings.partitions_access))
        deadline = time.monotonic() + timeout_s
        while True:
            for worker in self.workers:
                if not worker.alive():
                    raise DemoFailed(f"{worker.name} exited:\n{worker.log_tail()}")
            owned = {worker.name: worker.partitions() for worker in self.workers}
            union = {p for partitions in owned.values() for p in partitions}
            if union == wanted and all(owned.values()):
                return owned
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {w.name}\n{w.log_tail(10)}" for w in self.workers)
                raise DemoFailed(
                    f"risk workers not ready in {timeout_s:g} s (partitions {owned}):\n{tails}"
                )
            time.sleep(0.2)

    def check_alive(self) -> None:
        """Raise DemoFailed when a worker has exited."""
        for worker in self.workers:
            if not worker.alive():
                raise DemoFailed(f"{worker.name} exited:\n{worker.log_tail()}")

    def stop(self, grace_s: float = STOP_GRACE_S) -> list[int | None]:
        """Stop every worker: SIGTERM all, wait, SIGKILL stragglers; their exit codes.

        Runs to the end even when interrupted (a second Ctrl-C): the workers still left
        are killed before the interruption goes on.
        """
        for worker in self.workers:
            worker.terminate()
        deadline = time.monotonic() + grace_s
        codes: list[int | None] = []
        try:
            for worker in self.workers:
                codes.append(worker.wait(deadline - time.monotonic()))
        except BaseException:
            for worker in self.workers:
                if worker.alive() and worker.process is not None:
                    _signal_group(worker.process.pid, signal.SIGKILL)
                    worker.process.wait(10)
            raise
        return codes


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
