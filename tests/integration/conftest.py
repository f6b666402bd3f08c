"""The real stack the integration tests run against.

By default a session fixture starts the local real stack (Tansu + SeaweedFS) on free ports
in a temporary directory and stops it at the end. When ``RISKSEAL_KAFKA_BOOTSTRAP`` or
``RISKSEAL_S3_ENDPOINT`` is set, the tests use those endpoints instead (Apache Kafka, AWS S3,
MinIO), with credentials from the usual ``RISKSEAL_*`` variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from riskseal.s3client import s3_client_for
from riskseal.settings import Settings
from riskseal.stack.local import LocalStack
from riskseal.stack.ports import find_free_ports
from riskseal.stack.process import pid_is_alive

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

EXTERNAL_ENV = ("RISKSEAL_KAFKA_BOOTSTRAP", "RISKSEAL_S3_ENDPOINT")
TOPIC_ROLES = ("requests", "actions", "decisions", "alerts", "deadletter")


def on_fresh_topics(settings: Settings, name: str, **changes: Any) -> Settings:
    """``settings`` with topics of a test's own (``{name}.requests``, ``{name}.actions``, ...)
    and ``changes``: the test reads only what it produced, whatever ran before it."""
    topics = {f"topic_{role}": f"{name}.{role}" for role in TOPIC_ROLES}
    return settings.model_copy(update={**topics, **changes})


@dataclass(frozen=True)
class RealStack:
    """Settings of the stack under test, and who may administer its bucket."""

    settings: Settings
    local: LocalStack | None
    env: dict[str, str]
    """RISKSEAL_* variables that point the CLI at this stack (empty: already in os.environ)."""

    def writer(self) -> S3Client:
        """The sealer's client."""
        return s3_client_for(self.settings, "writer")

    def reader(self) -> S3Client:
        """The auditor's read-only client."""
        return s3_client_for(self.settings, "reader")

    def admin(self) -> S3Client:
        """The most privileged client available (admin locally, the writer elsewhere)."""
        return self.local.admin_s3_client() if self.local else self.writer()


def start_local_stack(data_dir: Path, **overrides: object) -> LocalStack:
    """A LocalStack on free ports in ``data_dir`` (not started)."""
    settings = Settings.local(data_dir=data_dir, **overrides)
    return LocalStack(settings, ports=find_free_ports(settings.stack_host))


def stop_and_check(stack: LocalStack) -> None:
    """Stop ``stack`` and fail if any of its servers is still alive."""
    records = [server.recorded() for server in (stack.weed, stack.tansu)]
    pids = [record.pid for record in records if record is not None]
    stack.down()
    survivors = [pid for pid in pids if pid_is_alive(pid)]
    assert not survivors, f"servers still running after down: {survivors}"


@pytest.fixture
def cli_env(real_stack: RealStack, monkeypatch: pytest.MonkeyPatch) -> RealStack:
    """The session stack, with its RISKSEAL_* variables set for in-process CLI runs."""
    for name, value in real_stack.env.items():
        monkeypatch.setenv(name, value)
    return real_stack


@pytest.fixture(scope="session")
def real_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStack]:
    """The stack for the whole session: external endpoints, or a fresh local stack."""
    if any(os.environ.get(name) for name in EXTERNAL_ENV):
        yield RealStack(settings=Settings.from_env(), local=None, env={})
        return
    stack = start_local_stack(tmp_path_factory.mktemp("stack"))
    endpoints = stack.up()
    try:
        yield RealStack(settings=endpoints.settings(), local=stack, env=endpoints.env())
    finally:
        stop_and_check(stack)
