"""`riskseal emit`: good lines are published, bad lines reported by number, exit 1."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from riskseal.cli import main
from riskseal.kafka import consume_values
from tests.integration.conftest import RealStack


def test_emit_publishes_good_lines_and_reports_bad_ones(
    cli_env: RealStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = str(uuid.uuid4())
    good = {
        "kind": "action",
        "actor": {"uid": "emit-user"},
        "action": "auth.login",
        "resource": {"type": "app", "uid": marker},
        "outcome": "SUCCESS",
        "_truth": "normal",
    }
    lines = [json.dumps(good), "not json", json.dumps({**good, "outcome": "MAYBE"}), ""]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert main(["emit", str(source)]) == 1
    captured = capsys.readouterr()
    assert "1 published, 2 bad lines, 0 not delivered" in captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("FAIL:")]
    assert errors[0].startswith("FAIL: line 2: not JSON")
    assert errors[1].startswith("FAIL: line 3: invalid AccessAction: outcome: 'MAYBE'")

    settings = cli_env.settings
    consumer = Consumer(settings.kafka_consumer_config(f"read-{uuid.uuid4()}"))
    consumer.assign(
        [TopicPartition(settings.topic_actions, p, 0) for p in range(settings.partitions_access)]
    )

    def ours(values: list[bytes]) -> list[bytes]:
        return [value for value in values if marker.encode() in value]

    try:
        values = consume_values(consumer, lambda values: bool(ours(values)), timeout_s=20)
    finally:
        consumer.close()
    assert len(ours(values)) == 1


def test_emit_missing_file_is_exit_2(
    cli_env: RealStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emit", "/no/such/file.jsonl"]) == 2
    assert "error: cannot read /no/such/file.jsonl" in capsys.readouterr().err
