"""Key rotation: the new key signs new blocks, old blocks stay verifiable, verify passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskseal.cli import main
from riskseal.keys import FileSigner
from riskseal.sdk.responder import StaticResponder
from riskseal.sealer.keyring import latest_manifest
from tests.integration.sealer.conftest import SealingWorld
from tests.integration.sealer.test_sealing import wait_for


def test_rotation_keeps_old_blocks_verifiable(
    world: SealingWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    first = world.sealer()
    with StaticResponder(world.settings) as responder:  # every request gets a decision
        produced = world.produce(50)
        wait_for(lambda: responder.answered >= 50)
    with world.running(first):
        wait_for(lambda: first.metrics.records >= len(produced) + 50)
    new_key = tmp_path / "new.key"
    FileSigner.generate("rotated").save(new_key)
    for name, value in world.settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert main(["keys", "rotate", "--old", str(world.key_file), "--new", str(new_key)]) == 0
    manifest = latest_manifest(world.store, world.settings.s3_prefix)
    assert manifest is not None and manifest.version == 1
    world.signer = FileSigner.load(new_key)
    second = world.sealer()
    with StaticResponder(world.settings) as responder:
        more = world.produce(50)
        wait_for(lambda: responder.answered >= 50)
    with world.running(second):
        wait_for(lambda: second.metrics.records >= len(more) + 50)
    trust = tmp_path / "first.vkey"  # auditors pinned the first key only
    trust.write_text(FileSigner.load(world.key_file).verifier.vkey())
    capsys.readouterr()
    code = main(["verify", "--trust", str(trust), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["findings"]
    assert sum(chain["records"] for chain in report["chains"]) == 300
