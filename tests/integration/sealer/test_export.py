"""`riskseal export` from the bucket: a user's sealed events are exactly what was produced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from riskseal.cli import main
from riskseal.contract import Outcome, Resource
from riskseal.sdk import AuditClient
from riskseal.sdk.responder import StaticResponder
from tests.integration.sealer.conftest import SealingWorld
from tests.integration.sealer.test_sealing import wait_for
from tests.integration.sealer.test_verify_bucket import sealer_has_pending

USERS = 7
EVENTS = 70


def _as_json(record: dict[str, Any]) -> Any:
    return json.loads(json.dumps(record))


def test_export_of_one_user_from_the_bucket_is_what_was_produced(
    world: SealingWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    produced: dict[str, list[Any]] = {}
    with StaticResponder(world.settings) as responder, AuditClient(world.settings) as client:
        for i in range(EVENTS):
            user, resource = f"user-{i % USERS}", Resource("doc", str(i))
            request = client.request_access(user, "data.read", resource)
            action = client.emit_action(user, "data.read", resource, Outcome.SUCCESS)
            produced.setdefault(user, []).extend([request, action])
        assert client.flush() == []
        wait_for(lambda: responder.answered >= EVENTS)
    sealer = world.sealer()
    with world.running(sealer):
        wait_for(lambda: sealer.metrics.records >= 3 * EVENTS)
        wait_for(lambda: sealer.metrics.checkpoints > 0 and not sealer_has_pending(sealer))
    for name, value in world.settings.to_env().items():
        monkeypatch.setenv(name, value)
    vkey = tmp_path / "sealer.vkey"
    vkey.write_text(world.signer.verifier.vkey())
    out = tmp_path / "user-3.jsonl"

    code = main(["export", "--trust", str(vkey), "--user", "user-3", "--output", str(out)])

    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(row["verified"] and row["decode_error"] is None for row in rows)
    mine = produced["user-3"]
    activity = [r for r in rows if r["event_type"] in ("AccessRequest", "AccessAction")]
    exported = sorted((r["event"] for r in activity), key=lambda e: e["event_id"])
    assert exported == sorted((_as_json(e.to_record()) for e in mine), key=lambda e: e["event_id"])
    requests = {e.event_id for e in mine if type(e).__name__ == "AccessRequest"}
    decided = [r["event"]["request_id"] for r in rows if r["event_type"] == "Decision"]
    assert sorted(decided) == sorted(requests)
    for row in rows:  # sealed coordinates point at the topic the event was published to
        assert row["chain"] == f"{row['chain'].split('/')[0]}/{row['topic']}/{row['partition']}"
