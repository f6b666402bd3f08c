"""`riskseal prove` / `verify-proof`: a bundle proves its record offline; any change breaks it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from riskseal.audit.proof import ProofBundle, ProofBundleError, verify_bundle
from riskseal.block import checkpoint_key
from riskseal.cli import main
from riskseal.keys import FileSigner
from riskseal.sealer.checkpoint import signed_checkpoint
from tests.unit.audit.trail import NOW_MS, ORIGIN, PREFIX, REQUESTS, Trail, request


def _prove(trail: Trail, tmp_path: Path, *target: str) -> Path:
    bundle = tmp_path / "proof.json"
    assert main(["prove", *target, "--local", str(trail.root), "--out", str(bundle)]) == 0
    return bundle


def test_proof_of_an_event_verifies_offline(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _prove(trail, tmp_path, request(4).event_id)
    capsys.readouterr()
    assert main(["verify-proof", str(bundle), "--trust", str(trail.vkey_file())]) == 0
    assert f"{REQUESTS}/0@4 is in block 1" in capsys.readouterr().out


def test_proof_by_chain_and_offset(trail: Trail, tmp_path: Path) -> None:
    bundle = _prove(trail, tmp_path, "--chain", str(trail.chain(REQUESTS)), "--offset", "8")
    proved = verify_bundle(ProofBundle.from_json(bundle.read_text()), [trail.signer.verifier])
    assert (proved.record.offset, proved.header.seq, proved.checkpoint.size) == (8, 2, 3)


def test_verify_proof_names_the_time_the_checkpoint_was_signed(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _prove(trail, tmp_path, request(4).event_id)
    capsys.readouterr()
    assert main(["verify-proof", str(bundle), "--trust", str(trail.vkey_file())]) == 0
    signed = datetime.fromtimestamp(NOW_MS / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"covered by a checkpoint of 3 blocks signed at {signed}" in capsys.readouterr().out


def test_prove_passes_over_a_checkpoint_copied_under_a_newer_name(
    trail: Trail, tmp_path: Path
) -> None:
    chain = trail.chain(REQUESTS)
    genuine = checkpoint_key(PREFIX, chain, NOW_MS)
    older = signed_checkpoint(ORIGIN, chain, 1, bytes(32), trail.signer, time_ms=NOW_MS - 60_000)
    trail.store.objects[checkpoint_key(PREFIX, chain, NOW_MS + 60_000)] = older
    trail.write()
    bundle = _prove(trail, tmp_path, "--chain", str(chain), "--offset", "8")
    proved = verify_bundle(ProofBundle.from_json(bundle.read_text()), [trail.signer.verifier])
    assert (proved.checkpoint_time_ms, proved.checkpoint.size) == (NOW_MS, 3)
    assert genuine in trail.store.objects


def _tamper(path: Path, field: str) -> None:
    document = json.loads(path.read_text())
    if field == "record":
        raw = bytearray(base64.b64decode(document["record"]["canonical_b64"]))
        raw[-10] ^= 1
        document["record"]["canonical_b64"] = base64.b64encode(bytes(raw)).decode()
    elif field == "path":
        first = bytearray(base64.b64decode(document["record_path"][0]))
        first[0] ^= 1
        document["record_path"][0] = base64.b64encode(bytes(first)).decode()
    elif field == "signature":
        signature = bytearray(base64.b64decode(document["block_signature_b64"]))
        signature[0] ^= 1
        document["block_signature_b64"] = base64.b64encode(bytes(signature)).decode()
    elif field == "chain":
        document["chain_proof"] = document["chain_proof"].replace("index 1", "index 0", 1)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("record", "record is not in the block"),
        ("path", "record is not in the block"),
        ("signature", "block header signature"),
        ("chain", "chain proof index differs"),
    ],
)
def test_any_change_to_the_bundle_fails(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, message: str
) -> None:
    bundle = _prove(trail, tmp_path, request(4).event_id)
    _tamper(bundle, field)
    capsys.readouterr()
    assert main(["verify-proof", str(bundle), "--trust", str(trail.vkey_file())]) == 1
    assert message in capsys.readouterr().err


def test_bundle_needs_a_trusted_key(trail: Trail, tmp_path: Path) -> None:
    bundle = _prove(trail, tmp_path, request(4).event_id)
    with pytest.raises(ProofBundleError, match="not trusted"):
        verify_bundle(
            ProofBundle.from_json(bundle.read_text()), [FileSigner.generate("x").verifier]
        )


def test_unknown_event_is_an_error(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["prove", "00000000-0000-4000-8000-999999999999", "--local", str(trail.root)])
    assert code == 2
    assert "is not in the sealed trail" in capsys.readouterr().err


def test_prove_without_a_usable_checkpoint_says_to_run_verify(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = trail.chain(REQUESTS)
    genuine = checkpoint_key(PREFIX, chain, NOW_MS)
    (trail.root / genuine).rename(trail.root / checkpoint_key(PREFIX, chain, NOW_MS + 1))
    code = main(["prove", "--chain", str(chain), "--offset", "8", "--local", str(trail.root)])
    assert code == 2
    assert "none of the 1 checkpoints" in capsys.readouterr().err
