"""`riskseal generate` in-process: JSON lines, summary, exit codes, what reaches the client."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from riskseal.cli import generate as generate_cli
from riskseal.cli import main
from riskseal.contract import AccessAction, AccessRequest, EventCodec
from riskseal.generator import AttackKind, GeneratorConfig, generate_events, to_json_line
from riskseal.generator.model import GENERATOR_SOURCE
from riskseal.sdk import DeliveryFailure
from riskseal.sdk.jsonlines import parse_event_line

SMALL = ["--users", "8", "--seed", "5", "--scenario", "mixed", "--attack-users", "0.5"]
SMALL_CONFIG = GeneratorConfig(seed=5, users=8, attacks=frozenset(AttackKind), attack_fraction=0.5)


def test_dry_run_writes_the_library_stream_as_json_lines_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["generate", *SMALL, "--events", "300", "--dry-run"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    expected = [to_json_line(e) for e in itertools.islice(generate_events(SMALL_CONFIG), 300)]
    assert lines == expected
    codec = EventCodec()
    for line in lines:
        parse_event_line(line.encode(), codec)
    assert "events: 300 (" in captured.err
    assert "OK: wrote 300 events" in captured.err


def test_output_file_and_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "events.jsonl"
    assert main(["generate", *SMALL, "--output", str(target), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert summary["events"] == len(lines) == sum(summary["by_truth"].values())
    assert summary["seed"] == 5
    assert set(summary["attacks"]) == {kind.value for kind in AttackKind}
    truths = [json.loads(line)["_truth"] for line in lines]
    assert summary["by_truth"] == {t: truths.count(t) for t in sorted(set(truths))}


def test_scenarios_combine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "events.jsonl"
    args = ["--users", "30", "--scenario", "exfiltration", "--scenario", "impossible_travel"]
    assert main(["generate", *args, "--output", str(target), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["attacks"]) == {"exfiltration", "impossible_travel"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "last tuesday"], "error: --start 'last tuesday' is not an ISO date"),
        (["--users", "1", "--scenario", "credential_stuffing"], "needs at least 2 users"),
        (["--scenario", "ddos"], "'ddos' is not one of"),
        (["--attack-users", "1.5"], "Invalid value for '--attack-users'"),
        (["--users", "0"], "Invalid value for '--users'"),
    ],
)
def test_bad_options_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--dry-run", *args]) == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "events.jsonl"
    assert main(["generate", "--users", "2", "--output", str(target)]) == 2
    assert f"error: cannot write {target}" in capsys.readouterr().err


class FakeClient:
    """Stands in for AuditClient: records what is sent, reports the failures it is given."""

    failures: ClassVar[list[DeliveryFailure]] = []
    sent: ClassVar[list[tuple[AccessRequest | AccessAction, Mapping[str, str | bytes]]]] = []

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        FakeClient.sent = []

    def publish(
        self, event: AccessRequest | AccessAction, headers: Mapping[str, str | bytes]
    ) -> None:
        FakeClient.sent.append((replace(event, source=GENERATOR_SOURCE), headers))

    def close(self) -> list[DeliveryFailure]:
        return FakeClient.failures


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    monkeypatch.setattr(generate_cli, "AuditClient", FakeClient)
    FakeClient.failures = []
    return FakeClient


def test_publishing_sends_every_field_with_the_truth_headers(
    fake_client: type[FakeClient], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", *SMALL, "--events", "400"]) == 0
    expected = list(itertools.islice(generate_events(SMALL_CONFIG), 400))
    assert [(e.event, dict(e.headers())) for e in expected] == [
        (replace(event, source=GENERATOR_SOURCE), dict(headers))
        for event, headers in fake_client.sent
    ]
    captured = capsys.readouterr()
    assert "delivered: 400, not delivered: 0" in captured.out
    assert "OK: published 400 events to access.requests and access.actions" in captured.err


def test_delivery_failures_are_reported_and_exit_1(
    fake_client: type[FakeClient], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_client.failures = [
        DeliveryFailure(f"id-{n}", "access.actions", "Broker: timed out") for n in range(25)
    ]
    assert main(["generate", "--users", "3", "--events", "50"]) == 1
    captured = capsys.readouterr()
    assert "delivered: 25, not delivered: 25" in captured.out
    fails = [line for line in captured.err.splitlines() if line.startswith("FAIL:")]
    assert fails[0] == "FAIL: event id-0 not delivered: Broker: timed out"
    assert fails[-2] == "FAIL: … and 5 more"
    assert fails[-1] == "FAIL: 25 of 50 events not delivered"
