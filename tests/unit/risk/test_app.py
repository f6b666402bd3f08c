"""Settings → Faust app configuration, topics and tables."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import faust
import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from pydantic import SecretStr

from riskseal.risk.alignment import Lane
from riskseal.risk.app import (
    PRODUCER_LINGER_S,
    PRODUCER_MAX_BATCH_BYTES,
    WEB_HOST,
    ConsumerPositions,
    broker_credentials,
    build_app,
    faust_settings,
)
from riskseal.risk.tables import build_tables, changelog_topic
from riskseal.risk.topics import build_topics, ip_failures_topic, worker_topic_partitions
from riskseal.settings import Settings


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "kafka_bootstrap": "10.1.2.3:9092,10.1.2.4:9093",
        "risk_app_id": "risk-test",
        "risk_store": "memory",
        "risk_data_dir": Path("/tmp/risk-data"),
        "risk_web_port": 7001,
        "partitions_access": 6,
    }
    return Settings.local(**{**values, **overrides})


def test_local_profile_timings_keep_tansu_group_joins_short() -> None:
    config = faust_settings(_settings())
    assert config["broker_session_timeout"] == 6.0
    assert config["broker_rebalance_timeout"] == 6.0
    assert config["broker_heartbeat_interval"] == 1.0
    assert config["broker_request_timeout"] >= config["broker_session_timeout"]
    assert config["broker_commit_interval"] == 2.8


def test_production_profile_timings_follow_the_settings() -> None:
    config = faust_settings(Settings.production(risk_app_id="p"))
    assert config["broker_session_timeout"] == 45.0
    assert config["broker_heartbeat_interval"] == 3.0
    assert config["broker_request_timeout"] >= 90.0
    assert config["topic_replication_factor"] == 3


def test_the_app_is_configured_from_the_settings() -> None:
    async def body() -> None:
        conf: Any = build_app(_settings()).conf  # Faust types its settings loosely
        assert conf.id == "risk-test"
        assert [str(url) for url in conf.broker] == [
            "kafka://10.1.2.3:9092",
            "kafka://10.1.2.4:9093",
        ]
        assert str(conf.store) == "memory:"
        assert conf.datadir == Path("/tmp/risk-data")
        assert conf.topic_partitions == 6
        assert conf.topic_replication_factor == 1
        assert conf.producer_acks == -1
        # A user's state (tens of KB) must not travel alone in its own produce request.
        assert conf.producer_linger == PRODUCER_LINGER_S > 0
        assert conf.producer_max_batch_size == PRODUCER_MAX_BATCH_BYTES >= 1 << 20
        assert conf.producer_max_request_size >= conf.producer_max_batch_size
        assert conf.processing_guarantee.value == "at_least_once"
        assert conf.table_standby_replicas == 1
        assert conf.web_host == WEB_HOST == "127.0.0.1"
        assert conf.web_bind == "127.0.0.1"
        assert conf.web_port == 7001
        assert conf.broker_session_timeout == 6.0
        assert conf.broker_credentials is None

    asyncio.run(body())


def test_rocksdb_store_url() -> None:
    assert faust_settings(_settings(risk_store="rocksdb"))["store"] == "rocksdb://"


def test_sasl_settings_become_faust_credentials() -> None:
    settings = _settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="worker",
        kafka_sasl_password=SecretStr("s3cret"),
    )
    credentials = broker_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.username == "worker"
    assert credentials.password == "s3cret"
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.ssl_context is None
    assert isinstance(faust_settings(settings)["broker_credentials"], SASLCredentials)


def test_ssl_settings_become_an_ssl_context() -> None:
    credentials = broker_credentials(_settings(kafka_security_protocol="SSL"))
    assert isinstance(credentials, SSLCredentials)


def test_plaintext_has_no_credentials() -> None:
    assert broker_credentials(_settings()) is None
    assert "broker_credentials" not in faust_settings(_settings())


def test_topics_are_raw_bytes_with_their_partition_counts() -> None:
    async def body() -> None:
        settings = _settings()
        app = build_app(settings)
        topics = build_topics(app, settings)
        assert topics.requests.get_topic_name() == "access.requests"
        assert topics.requests.partitions == 6
        assert topics.actions.partitions == 6
        assert topics.ip_failures.get_topic_name() == "risk-test-auth-failures-by-ip"
        assert topics.ip_failures.partitions == 6
        assert topics.decisions.partitions == settings.partitions_decisions
        declared: list[Any] = [topics.requests, topics.decisions, topics.deadletter]
        for topic in [*declared, topics.ip_failures]:
            assert topic.key_serializer == "raw"
            assert topic.value_serializer == "raw"

    asyncio.run(body())


def test_worker_topics_include_the_internal_per_ip_topic() -> None:
    settings = _settings()
    partitions = worker_topic_partitions(settings)
    assert partitions[ip_failures_topic(settings)] == 6
    assert partitions["access.requests"] == partitions["access.actions"] == 6
    assert set(settings.topic_partitions) <= set(partitions)


def test_tables_are_plain_raw_tables_co_partitioned_with_the_access_topics() -> None:
    async def body() -> None:
        settings = _settings()
        app = build_app(settings)
        tables = build_tables(app, settings)
        pairs: list[tuple[Any, str]] = [(tables.users, "users"), (tables.ips, "ips")]
        for table, name in pairs:
            assert table.window is None
            assert table.partitions == 6
            assert table.key_serializer == "raw"
            assert table.value_serializer == "raw"
            assert table.changelog_topic.get_topic_name() == changelog_topic(settings, name)

    asyncio.run(body())


def test_the_worker_command_runs_a_worker_with_its_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import riskseal.risk.worker
    from riskseal.cli import main

    started: list[tuple[Settings, str]] = []
    monkeypatch.setattr(
        riskseal.risk.worker,
        "run_worker",
        lambda settings, loglevel: started.append((settings, loglevel)),
    )
    monkeypatch.setenv("RISKSEAL_RISK_APP_ID", "from-env")
    args = ["--web-port", "7007", "--store", "memory", "--data-dir", str(tmp_path)]
    assert main(["risk", "worker", *args, "--loglevel", "warning"]) == 0
    [(settings, loglevel)] = started
    assert (settings.risk_web_port, settings.risk_store) == (7007, "memory")
    assert settings.risk_data_dir == tmp_path
    assert settings.risk_app_id == "from-env"
    assert loglevel == "warning"


class _Consumer:
    """What ConsumerPositions reads of Faust's consumer."""

    def __init__(self, highwaters: dict[TP, int | None], committed: dict[TP, int]) -> None:
        self.highwaters = highwaters
        self._committed_offset = committed

    def highwater(self, tp: TP) -> int | None:
        if tp not in self.highwaters:
            raise AssertionError("Partition is not assigned")  # what aiokafka does
        return self.highwaters[tp]


class _App:
    def __init__(self, consumer: object) -> None:
        self.consumer = consumer
        self.rebalancing = False


LANES = {Lane.REQUESTS: "access.requests", Lane.ACTIONS: "access.actions"}


def test_consumer_positions_read_each_lanes_topic_partition() -> None:
    consumer = _Consumer(
        {TP("access.actions", 2): 40, TP("access.requests", 2): None},
        {TP("access.actions", 2): 17},
    )
    positions = ConsumerPositions(cast(faust.App, _App(consumer)), LANES)
    assert positions.highwater(Lane.ACTIONS, 2) == 40
    assert positions.highwater(Lane.REQUESTS, 2) is None  # not fetched yet
    assert positions.start_offset(Lane.ACTIONS, 2) == 17
    assert positions.start_offset(Lane.REQUESTS, 2) is None


def test_consumer_positions_say_when_the_app_rebalances() -> None:
    app = _App(_Consumer({}, {}))
    positions = ConsumerPositions(cast(faust.App, app), LANES)
    assert positions.rebalancing() is False
    app.rebalancing = True
    assert positions.rebalancing() is True


def test_consumer_positions_know_nothing_of_partitions_not_assigned_or_a_stopped_consumer() -> None:
    positions = ConsumerPositions(cast(faust.App, _App(_Consumer({}, {}))), LANES)
    assert positions.highwater(Lane.ACTIONS, 0) is None

    class Stopped:
        def highwater(self, tp: TP) -> int:
            raise ConsumerNotStarted("Consumer thread not yet started")

    stopped = ConsumerPositions(cast(faust.App, _App(Stopped())), LANES)
    assert stopped.highwater(Lane.ACTIONS, 0) is None
    assert stopped.start_offset(Lane.ACTIONS, 0) is None
