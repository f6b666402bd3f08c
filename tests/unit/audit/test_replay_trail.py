"""`riskseal replay --local`: only what verifies is replayed, every sealed decision is compared
with the engine's, each event is taken from its own topic, and a trail that fails as a whole
fails the replay."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from riskseal.cli import main
from riskseal.contract import AccessRequest, Decision, Verdict
from riskseal.keys import FileSigner
from riskseal.manifest import first_manifest, manifest_key
from riskseal.risk.engine import RiskEngine
from riskseal.risk.replay import Replayer
from riskseal.sealer.store import MemoryBlockStore
from riskseal.settings import Settings
from tests.unit.audit.trail import (
    CODEC,
    DECISIONS,
    FRESH,
    NOW_MS,
    PREFIX,
    REQUESTS,
    Trail,
    request,
    seal_events,
)


@pytest.fixture(autouse=True)
def _trail_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKSEAL_S3_PREFIX", PREFIX)
    monkeypatch.setenv("RISKSEAL_LOG_ORIGIN", "riskseal.test/audit")


def engine_decisions(requests: list[AccessRequest]) -> list[Decision]:
    """What the engine decides for ``requests``, as a worker would have sealed it."""
    replayer = Replayer(RiskEngine.load(Settings(), source_id="worker", epoch=1))
    decisions = []
    for sent in requests:
        decision = replayer.feed(sent).decision
        assert decision is not None
        decisions.append(decision)
    return decisions


def sealed_trail(root: Path, requests_topic: list[bytes], decisions: list[Decision]) -> Trail:
    store, signer = MemoryBlockStore(), FileSigner.generate("auditor-test")
    store.create(manifest_key(PREFIX, 0), first_manifest(signer, NOW_MS - 1).sign([signer]))
    if requests_topic:
        seal_events(store, signer, REQUESTS, requests_topic, [len(requests_topic)])
    if decisions:
        encoded = [CODEC.encode_event(d) for d in decisions]
        seal_events(store, signer, DECISIONS, encoded, [len(encoded)])
    trail = Trail(store, signer, root / "bucket")
    trail.write()
    return trail


def replay(trail: Trail, *extra: str) -> int:
    local = ["--local", str(trail.root), "--trust", str(trail.vkey_file())]
    return main(["replay", *local, *FRESH, "-o", "/dev/null", *extra])


def test_a_trail_the_engine_reproduces_replays_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = [request(n) for n in range(6)]
    trail = sealed_trail(tmp_path, [CODEC.encode_event(r) for r in sent], engine_decisions(sent))
    assert replay(trail) == 0
    assert "OK: all 6 expected decisions reproduced exactly" in capsys.readouterr().err


def test_a_request_sealed_with_two_different_decisions_is_a_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = [request(n) for n in range(6)]
    decided = engine_decisions(sent)
    second = dataclasses.replace(
        decided[0],
        event_id="00000000-0000-4000-a000-000000000000",
        verdict=Verdict.DENY,
        source=dataclasses.replace(decided[0].source, seq=decided[-1].source.seq + 1),
    )
    trail = sealed_trail(tmp_path, [CODEC.encode_event(r) for r in sent], [*decided, second])
    assert replay(trail) == 1
    err = capsys.readouterr().err
    assert f"DIFF: request {decided[0].request_id}" in err
    assert "FAIL: 1 of 7 expected decisions differ or are missing" in err


def test_a_decision_on_the_requests_topic_is_not_taken_for_the_sealed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The sealed decision says deny where the engine allows; a producer on the requests
    # topic writes a copy of the decision the engine would make, which must not mask it.
    sent = [request(n) for n in range(6)]
    decided = engine_decisions(sent)
    tampered = dataclasses.replace(decided[0], verdict=Verdict.DENY)
    planted = [CODEC.encode_event(decided[0]), *(CODEC.encode_event(r) for r in sent)]
    trail = sealed_trail(tmp_path, planted, [tampered, *decided[1:]])
    assert replay(trail) == 1
    err = capsys.readouterr().err
    assert f"DIFF: request {decided[0].request_id}" in err
    assert "NOTE: 1 sealed events are on a topic not of their type" in err


def test_a_finding_on_the_trail_as_a_whole_fails_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = [request(n) for n in range(6)]
    trail = sealed_trail(tmp_path, [CODEC.encode_event(r) for r in sent], engine_decisions(sent))
    local = ["--local", str(trail.root), "--trust", str(trail.vkey_file())]
    assert main(["replay", *local, "-o", "/dev/null"]) == 1  # its checkpoints are months old
    err = capsys.readouterr().err
    assert "FAIL: replay stopped: stale_checkpoint" in err


def test_an_empty_prefix_fails_and_a_topic_that_matches_nothing_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = [request(n) for n in range(3)]
    trail = sealed_trail(tmp_path, [CODEC.encode_event(r) for r in sent], engine_decisions(sent))
    empty = sealed_trail(tmp_path / "empty", [], [])
    assert replay(empty) == 1
    assert "FAIL: replay stopped: no_chain" in capsys.readouterr().err
    monkeypatch.setenv("RISKSEAL_TOPIC_REQUESTS", "access.request")
    monkeypatch.setenv("RISKSEAL_TOPIC_DECISIONS", "risk.decision")
    assert replay(trail) == 2
    assert "nothing to replay: no sealed block of access.request" in capsys.readouterr().err
