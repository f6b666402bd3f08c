"""`riskseal verify` against the bucket: a sealed trail verifies; S3-only tampering is caught."""

from __future__ import annotations

import json
import socket

import pytest

from riskseal.block import ChainId, block_key
from riskseal.cli import main
from riskseal.sdk.responder import StaticResponder
from riskseal.sealer.service import Sealer
from riskseal.stack.provision import kafka_cluster_id
from tests.integration.conftest import RealStack
from tests.integration.sealer.conftest import SealingWorld
from tests.integration.sealer.test_sealing import wait_for


def sealer_has_pending(sealer: Sealer) -> bool:
    """Whether any partition still holds unsealed records."""
    return any(state.batch.records for state in sealer.partitions.values())


@pytest.fixture
def sealed(world: SealingWorld, monkeypatch: pytest.MonkeyPatch) -> SealingWorld:
    with StaticResponder(world.settings) as responder:  # every request gets its decision
        produced = world.produce(100)
        wait_for(lambda: responder.answered >= 100)
    sealer = world.sealer()
    with world.running(sealer):
        wait_for(lambda: sealer.metrics.records >= len(produced) + 100)
        wait_for(lambda: sealer.metrics.checkpoints > 0 and not sealer_has_pending(sealer))
    for name, value in world.settings.to_env().items():
        monkeypatch.setenv(name, value)
    return world


def _verify(world: SealingWorld, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    vkey = world.key_file.with_suffix(".vkey")
    vkey.write_text(world.signer.verifier.vkey())
    code = main(["verify", "--trust", str(vkey), "--json"])
    return code, json.loads(capsys.readouterr().out)


def _first_block(world: SealingWorld) -> str:
    cluster = kafka_cluster_id(world.settings.kafka_bootstrap)
    for partition in range(world.settings.partitions_access):
        key = block_key(
            world.settings.s3_prefix, ChainId(cluster, world.settings.topic_requests, partition), 0
        )
        if world.store.exists(key):
            return key
    raise AssertionError("nothing sealed")


def test_sealed_trail_verifies_from_the_bucket(
    sealed: SealingWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _verify(sealed, capsys)
    assert code == 0, report["findings"]
    assert sum(chain["records"] for chain in report["chains"]) == 300
    assert report["notes"] == []  # locks and versions were checked, nothing assumed


def test_block_replaced_by_a_second_version(
    sealed: SealingWorld, real_stack: RealStack, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _first_block(sealed)
    real_stack.admin().put_object(Bucket=sealed.settings.s3_bucket, Key=key, Body=b"forged")
    code, report = _verify(sealed, capsys)
    assert code == 1
    kinds = {(f["kind"], f["key"]) for f in report["findings"]}
    assert ("extra_version", key) in kinds


def test_block_deleted_with_a_marker_and_rewritten(
    sealed: SealingWorld, real_stack: RealStack, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _first_block(sealed)
    admin = real_stack.admin()
    admin.delete_object(Bucket=sealed.settings.s3_bucket, Key=key)
    admin.put_object(Bucket=sealed.settings.s3_bucket, Key=key, Body=b"rewritten", IfNoneMatch="*")
    code, report = _verify(sealed, capsys)
    assert code == 1
    kinds = {(f["kind"], f["key"]) for f in report["findings"]}
    assert ("delete_marker", key) in kinds
    assert ("extra_version", key) in kinds


def test_s3_unreachable_is_exit_2_not_0_and_not_1(
    sealed: SealingWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("RISKSEAL_S3_ENDPOINT", f"http://127.0.0.1:{port}")
    code = main(["verify"])
    captured = capsys.readouterr()
    assert code == 2
    assert "error: cannot list versions" in captured.err
