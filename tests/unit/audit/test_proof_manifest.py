"""`riskseal verify-proof --manifest`: the keys of a proof must have been valid when they
signed, by the key manifest followed from the trusted key, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from riskseal.block import checkpoint_key
from riskseal.cli import main
from riskseal.keys import FileSigner
from riskseal.manifest import KeyManifest, manifest_key, rotated
from riskseal.sealer.checkpoint import signed_checkpoint
from tests.unit.audit.trail import (
    HOUR_MS,
    NOW_MS,
    ORIGIN,
    PREFIX,
    REQUESTS,
    RETIRED_MS,
    Trail,
    next_request_block,
    request,
    rotate,
)


def _seal_request_9(
    trail: Trail, signer: FileSigner, created_ms: int, checkpoint_ms: int | None = None
) -> None:
    """Block 3 of the requests chain (:func:`next_request_block`), stored, and a checkpoint
    of it signed by the same key at ``checkpoint_ms`` (default: ``created_ms``)."""
    writer, block = next_request_block(trail, signer, created_ms)
    writer.append(block)
    signed_ms = created_ms if checkpoint_ms is None else checkpoint_ms
    tree, chain = writer.head.tree, trail.chain(REQUESTS)
    note = signed_checkpoint(ORIGIN, chain, tree.size, tree.root(), signer, time_ms=signed_ms)
    trail.store.create(checkpoint_key(PREFIX, chain, signed_ms), note)
    trail.write()


def _prove(trail: Trail, tmp_path: Path, event_id: str) -> Path:
    bundle = tmp_path / "proof.json"
    assert main(["prove", event_id, "--local", str(trail.root), "--out", str(bundle)]) == 0
    return bundle


def _manifest_copy(trail: Trail, tmp_path: Path) -> Path:
    """The key manifest versions as an auditor copies them out of the bucket."""
    folder = tmp_path / "manifest"
    shutil.copytree(trail.root / PREFIX / "keys" / "manifest", folder)
    return folder


def _verify_proof(trail: Trail, bundle: Path, *extra: str) -> int:
    return main(["verify-proof", str(bundle), "--trust", str(trail.vkey_file()), *extra])


def test_a_proof_verifies_against_the_key_manifest(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _prove(trail, tmp_path, request(4).event_id)
    capsys.readouterr()
    manifest = _manifest_copy(trail, tmp_path)
    assert _verify_proof(trail, bundle, "--manifest", str(manifest)) == 0
    captured = capsys.readouterr()
    assert "keys valid when they signed, by key manifest version 0" in captured.out
    assert "NOTE" not in captured.err
    assert _verify_proof(trail, bundle) == 0
    assert "NOTE: key validity not checked" in capsys.readouterr().err


def test_a_successors_block_is_proved_from_the_root_key_through_the_manifest(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    successor = rotate(trail)
    _seal_request_9(trail, successor, RETIRED_MS + 60_000)
    bundle = _prove(trail, tmp_path, request(9).event_id)
    manifest = _manifest_copy(trail, tmp_path)
    capsys.readouterr()
    assert _verify_proof(trail, bundle, "--manifest", str(manifest)) == 0
    assert f"signed by {successor.key_id}" in capsys.readouterr().out
    # The trusted key alone does not know the successor.
    assert _verify_proof(trail, bundle) == 1
    assert "not trusted" in capsys.readouterr().err


def _forged_after_retirement(trail: Trail, tmp_path: Path) -> tuple[Path, Path]:
    """Whoever kept the retired key forges a block and its checkpoint after the retirement,
    and proves it: the bundle, and the manifest folder (both versions)."""
    rotate(trail)
    _seal_request_9(trail, trail.signer, RETIRED_MS + HOUR_MS)
    return _prove(trail, tmp_path, request(9).event_id), _manifest_copy(trail, tmp_path)


def test_a_block_signed_after_its_key_was_retired_proves_nothing_with_the_manifest(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, manifest = _forged_after_retirement(trail, tmp_path)
    capsys.readouterr()
    assert _verify_proof(trail, bundle, "--manifest", str(manifest)) == 1
    failure = capsys.readouterr().err
    assert f"block is signed by {trail.signer.key_id}" in failure
    assert "version 1 does not let sign at its date" in failure
    # Without the manifest the retired key still proves: what the NOTE warns about.
    assert _verify_proof(trail, bundle) == 0
    assert "NOTE: key validity not checked" in capsys.readouterr().err


def test_a_checkpoint_signed_after_its_key_was_retired_proves_nothing_with_the_manifest(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotate(trail)
    _seal_request_9(trail, trail.signer, RETIRED_MS - 60_000, checkpoint_ms=RETIRED_MS + HOUR_MS)
    bundle = _prove(trail, tmp_path, request(9).event_id)
    manifest = _manifest_copy(trail, tmp_path)
    capsys.readouterr()
    assert _verify_proof(trail, bundle, "--manifest", str(manifest)) == 1
    assert "checkpoint is signed by" in capsys.readouterr().err


def test_a_manifest_version_not_signed_by_a_valid_key_fails_the_proof(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _prove(trail, tmp_path, request(4).event_id)
    manifest = _manifest_copy(trail, tmp_path)
    intruder = FileSigner.generate("intruder")
    first = KeyManifest.parse((manifest / "000000").read_bytes())
    (manifest / "000001").write_bytes(
        rotated(first, trail.signer, intruder, NOW_MS).sign([intruder])
    )
    capsys.readouterr()
    assert _verify_proof(trail, bundle, "--manifest", str(manifest)) == 1
    assert "FAIL: key manifest version 1:" in capsys.readouterr().err


def test_trusting_the_successor_instead_of_the_first_key_says_which_key_to_trust(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    successor = rotate(trail)
    bundle = _prove(trail, tmp_path, request(4).event_id)
    manifest = _manifest_copy(trail, tmp_path)
    vkey = tmp_path / "successor.vkey"
    vkey.write_text(successor.verifier.vkey() + "\n")
    capsys.readouterr()
    code = main(["verify-proof", str(bundle), "--trust", str(vkey), "--manifest", str(manifest)])
    assert code == 1
    assert "trust the key that signed version 000000" in capsys.readouterr().err


def test_a_copy_without_the_newest_version_checks_against_the_version_it_has(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Offline, a missing newest version cannot be noticed: the answer names the version
    # used, for the recipient to compare with the bucket's newest (AUDITING.md §4).
    bundle, manifest = _forged_after_retirement(trail, tmp_path)
    (manifest / "000001").unlink()
    capsys.readouterr()
    assert _verify_proof(trail, bundle, "--manifest", str(manifest)) == 0
    assert "by key manifest version 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "cannot read --manifest"),
        ([], "has no version 000000"),
        (["000000", "000002"], "has no version 000001 but has 000002: the copy is incomplete"),
    ],
)
def test_a_manifest_folder_that_cannot_be_used_is_exit_2(
    trail: Trail,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: list[str] | None,
    message: str,
) -> None:
    bundle = _prove(trail, tmp_path, request(4).event_id)
    folder = tmp_path / "copy"
    if files is not None:
        folder.mkdir()
        genuine = trail.store.objects[manifest_key(PREFIX, 0)]
        for name in files:
            (folder / name).write_bytes(genuine)
    capsys.readouterr()
    assert _verify_proof(trail, bundle, "--manifest", str(folder)) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "000000, 000001" in error  # what to give instead
