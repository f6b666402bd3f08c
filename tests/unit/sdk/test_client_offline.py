"""AuditClient behaviour that needs no broker: refusing to start, fallbacks, headers."""

from __future__ import annotations

import socket

import pytest

from riskseal.errors import BrokerUnavailableError
from riskseal.sdk import AuditClient
from riskseal.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_broker_down_at_start_is_a_clear_error() -> None:
    port = _closed_port()
    settings = Settings.local(kafka_bootstrap=f"127.0.0.1:{port}", sdk_connect_timeout_s=1.0)
    with pytest.raises(BrokerUnavailableError) as refused:
        AuditClient(settings)
    message = str(refused.value)
    assert f"no Kafka broker answered at 127.0.0.1:{port} within 1 s" in message
    assert "RISKSEAL_KAFKA_BOOTSTRAP" in message
