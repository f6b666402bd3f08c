"""Key rotation: the new key signs new blocks, old blocks stay verifiable, verify passes;
a sealer still running with the old key stops by itself before a scheduled cut-over."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from riskseal.cli import main
from riskseal.keys import FileSigner
from riskseal.sdk.responder import StaticResponder
from riskseal.sealer import keyring
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
    rotate = ["keys", "rotate", "--old", str(world.key_file), "--new", str(new_key)]
    assert main([*rotate, "--cut-over", "now"]) == 0  # every sealer is stopped
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


def test_a_running_sealer_stops_before_a_scheduled_cut_over_and_signs_nothing_after_it(
    world: SealingWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # Seconds, not the real minutes: a cut-over may then come 4 s after the rotation.
    monkeypatch.setattr(keyring, "MANIFEST_MAX_AGE_S", 3.0)
    monkeypatch.setattr(keyring, "ROTATION_CLOCK_SKEW_S", 0.0)
    monkeypatch.setattr(keyring, "RETIREMENT_LEAD_S", 1.0)
    for name, value in world.settings.to_env().items():
        monkeypatch.setenv(name, value)
    first = world.sealer()
    stop = threading.Event()
    thread = threading.Thread(target=first.run, args=(stop,), daemon=True)
    thread.start()
    try:
        with StaticResponder(world.settings) as responder:
            before = world.produce(40)
            wait_for(lambda: first.metrics.records >= len(before) + 40)
            new_key = tmp_path / "new.key"
            FileSigner.generate("rotated").save(new_key)
            rotate = ["keys", "rotate", "--old", str(world.key_file), "--new", str(new_key)]
            assert main([*rotate, "--cut-over", "1s"]) == 2
            assert "is too soon" in capsys.readouterr().err
            assert main([*rotate, "--cut-over", "8s"]) == 0
            sealed = first.metrics.records
            during = world.produce(40)  # the old key is still valid: the sealer goes on
            wait_for(lambda: first.metrics.records >= sealed + len(during) + 40)
            thread.join(30)  # it stops by itself, RETIREMENT_LEAD_S before the cut-over
            assert not thread.is_alive(), "the sealer did not stop before the cut-over"
            assert first.retired is not None and "retires at" in first.retired
            after = world.produce(40)  # waits in Kafka for a sealer with the new key
            wait_for(lambda: responder.answered >= 120)
    finally:
        stop.set()
        thread.join(30)
    world.signer = FileSigner.load(new_key)
    second = world.sealer()
    with world.running(second):
        wait_for(lambda: second.metrics.records >= len(after) + 40)
    trust = tmp_path / "first.vkey"
    trust.write_text(FileSigner.load(world.key_file).verifier.vkey())
    capsys.readouterr()
    code = main(["verify", "--trust", str(trust), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["findings"]  # no block or checkpoint signed after the cut-over
    assert sum(chain["records"] for chain in report["chains"]) == 3 * (40 + 40 + 40)
