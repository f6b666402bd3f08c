"""`riskseal stack` on its own data directories: idempotence, restarts, stale state."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from riskseal.cli import main
from riskseal.errors import StalePidFileError
from riskseal.kafka import consume_values
from riskseal.s3client import s3_client_for
from riskseal.stack.local import LocalStack
from riskseal.stack.process import pid_is_alive
from tests.integration.conftest import start_local_stack, stop_and_check


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    local = start_local_stack(tmp_path / "data")
    yield local
    stop_and_check(local)


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while pid_is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_is_alive(pid)


def test_up_twice_starts_no_second_set(stack: LocalStack) -> None:
    first = stack.up()
    pids = stack.status().servers
    second = stack.up()
    assert stack.status().servers == pids
    assert second == first


def test_down_stops_every_server_and_status_says_so(stack: LocalStack) -> None:
    stack.up()
    pids = [pid for pid in stack.status().servers.values() if pid is not None]
    assert len(pids) == 2
    assert sorted(stack.down()) == ["SeaweedFS", "Tansu broker"]
    assert not any(pid_is_alive(pid) for pid in pids)
    assert stack.status().running is False


def test_s3_data_survives_down_and_up_and_the_cluster_id_changes(stack: LocalStack) -> None:
    endpoints = stack.up()
    settings = endpoints.settings()
    key = f"{settings.s3_prefix}/tests/{uuid.uuid4()}"
    version = s3_client_for(settings, "writer").put_object(
        Bucket=settings.s3_bucket, Key=key, Body=b"kept"
    )["VersionId"]
    stack.down()
    restarted = stack.up()
    reader = s3_client_for(restarted.settings(), "reader")
    assert reader.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read() == b"kept"
    head = reader.head_object(Bucket=settings.s3_bucket, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    # A fresh memory broker restarts offsets at 0, so it must not reuse the cluster id.
    assert restarted.kafka_cluster_id != endpoints.kafka_cluster_id
    assert restarted.sealer == endpoints.sealer


def test_killed_servers_leave_stale_pid_files_that_down_cleans(stack: LocalStack) -> None:
    stack.up()
    pids = [pid for pid in stack.status().servers.values() if pid is not None]
    for pid in pids:
        os.killpg(pid, signal.SIGKILL)
    for pid in pids:
        _wait_dead(pid)
    with pytest.raises(StalePidFileError, match="stale pid file"):
        stack.status()
    with pytest.raises(StalePidFileError, match="riskseal stack down"):
        stack.up()
    assert stack.down() == []
    assert stack.status().running is False
    assert stack.up().kafka_bootstrap


def test_stale_pid_file_gives_one_error_line_and_exit_2(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.up()
    weed_pid = stack.status().servers["SeaweedFS"]
    assert weed_pid is not None
    os.killpg(weed_pid, signal.SIGKILL)
    _wait_dead(weed_pid)
    capsys.readouterr()
    code = main(["stack", "status", "--data-dir", str(stack.data_dir)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: stale pid file")
    assert "weed.pid" in lines[0]


def test_kafka_s3_storage_keeps_records_across_a_restart(tmp_path: Path) -> None:
    stack = start_local_stack(tmp_path / "data", stack_kafka_storage="s3")
    try:
        endpoints = stack.up()
        topic = endpoints.settings().topic_deadletter
        producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap, "acks": "all"})
        sent = [f"kept-{i}".encode() for i in range(5)]
        for value in sent:
            producer.produce(topic, value=value, partition=0)
        assert producer.flush(20) == 0
        stack.down()
        restarted = stack.up()
        assert restarted.kafka_cluster_id == endpoints.kafka_cluster_id
        consumer = Consumer(
            {"bootstrap.servers": restarted.kafka_bootstrap, "group.id": f"t-{uuid.uuid4()}"}
        )
        consumer.assign([TopicPartition(topic, 0, 0)])
        received = consume_values(consumer, lambda values: len(values) >= len(sent), 30)
        consumer.close()
        assert received == sent
    finally:
        stop_and_check(stack)


def test_cli_up_env_status_down_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = start_local_stack(tmp_path / "data")
    data_dir = str(probe.data_dir)
    ports = ["--kafka-port", str(probe.ports.kafka), "--s3-port", str(probe.ports.s3)]
    try:
        assert main(["stack", "up", "--data-dir", data_dir, *ports]) == 0
        capsys.readouterr()
        other = str(probe.ports.kafka + 1000)
        assert main(["stack", "up", "--data-dir", data_dir, "--kafka-port", other]) == 0
        assert f"its Kafka is at 127.0.0.1:{probe.ports.kafka}, not port {other}" in (
            capsys.readouterr().err
        )
        assert main(["stack", "env", "--data-dir", data_dir, "--json"]) == 0
        variables = json.loads(capsys.readouterr().out)
        assert variables["RISKSEAL_KAFKA_BOOTSTRAP"] == f"127.0.0.1:{probe.ports.kafka}"
        assert variables["RISKSEAL_S3_ENDPOINT"] == f"http://127.0.0.1:{probe.ports.s3}"
        assert variables["RISKSEAL_AUDIT_S3_ACCESS_KEY_ID"]
        assert main(["stack", "env", "--data-dir", data_dir]) == 0
        exports = capsys.readouterr().out
        assert f"export RISKSEAL_KAFKA_BOOTSTRAP=127.0.0.1:{probe.ports.kafka}" in exports
        assert main(["stack", "status", "--data-dir", data_dir, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["running"] is True
        assert main(["stack", "down", "--data-dir", data_dir, "--wipe"]) == 0
        assert not Path(data_dir).exists()
        assert main(["stack", "status", "--data-dir", data_dir]) == 1
    finally:
        stop_and_check(probe)
