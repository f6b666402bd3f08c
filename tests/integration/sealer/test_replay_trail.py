"""`riskseal replay --trail`: the engine, re-run over the sealed trail, reproduces its decisions.

The decisions are made by the real engine (in process, as a worker would) and published to
``risk.decisions``; everything is sealed to the real S3; the replay reads the bucket back
with read-only credentials, verifying every block, and must reproduce every decision
exactly, then name the differences once the rules change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from confluent_kafka import Producer

from riskseal.cli import main
from riskseal.contract import (
    AccessAction,
    AccessRequest,
    EventCodec,
    Outcome,
    Resource,
    Sensitivity,
)
from riskseal.risk.engine import RiskEngine
from riskseal.risk.replay import Replayer
from riskseal.sdk import AuditClient
from tests.integration.sealer.conftest import SealingWorld
from tests.integration.sealer.test_sealing import wait_for
from tests.integration.sealer.test_verify_bucket import sealer_has_pending

SHIPPED_RULES = Path(__file__).parents[3] / "rules"
USERS = 5
ROUNDS = 12


def _decide_and_seal(world: SealingWorld) -> int:
    """Publish activity, decide every request with the engine, seal it all; the decision count."""
    engine = RiskEngine.load(world.settings, source_id="test-worker", epoch=1)
    replayer = Replayer(engine)
    codec = EventCodec()
    producer = Producer(world.settings.kafka_config())
    decisions = 0
    with AuditClient(world.settings) as client:
        for i in range(ROUNDS):
            for u in range(USERS):
                user = f"user-{u}"
                sensitivity = Sensitivity.RESTRICTED if i % 3 == 0 else Sensitivity.INTERNAL
                resource = Resource("document", f"doc-{i}", owner="sales", sensitivity=sensitivity)
                events: list[AccessRequest | AccessAction] = [
                    client.emit_action(user, "auth.login", Resource("app", "sso"), Outcome.SUCCESS),
                    client.request_access(user, "data.read", resource),
                    client.emit_action(user, "data.read", resource, Outcome.SUCCESS),
                ]
                for event in events:
                    decision = replayer.feed(event).decision
                    if decision is not None:
                        producer.produce(
                            world.settings.topic_decisions,
                            codec.encode_event(decision),
                            key=user.encode(),
                        )
                        decisions += 1
        assert client.flush() == []
    assert producer.flush(10) == 0
    sealer = world.sealer()
    with world.running(sealer):
        wait_for(lambda: sealer.metrics.records >= 3 * USERS * ROUNDS + decisions)
        wait_for(lambda: sealer.metrics.checkpoints > 0 and not sealer_has_pending(sealer))
    return decisions


def test_replay_of_the_sealed_trail_reproduces_every_decision_then_names_changes(
    world: SealingWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    decisions = _decide_and_seal(world)
    for name, value in world.settings.to_env().items():
        monkeypatch.setenv(name, value)
    vkey = tmp_path / "sealer.vkey"
    vkey.write_text(world.signer.verifier.vkey())
    replayed = tmp_path / "replayed.jsonl"

    code = main(["replay", "--trail", "--trust", str(vkey), "--output", str(replayed)])

    stderr = capsys.readouterr().err
    assert code == 0, stderr
    assert f"OK: all {decisions} expected decisions reproduced exactly" in stderr

    rules = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES, rules)
    text = (rules / "default.toml").read_text()
    (rules / "default.toml").write_text(
        text.replace('points = 10\non = ["request"]', 'points = 11\non = ["request"]')
    )

    code = main(
        ["replay", "--trail", "--trust", str(vkey), "--rules-dir", str(rules), "-o", str(replayed)]
    )

    stderr = capsys.readouterr().err
    assert code == 1
    assert "versions:" in stderr  # every decision records the rules version it used
    assert f"FAIL: {decisions} of {decisions} expected decisions differ or are missing" in stderr
