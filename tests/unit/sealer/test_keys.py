"""Signing keys and the key manifest: files, secrecy, rotation, forged manifests."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from riskseal.errors import ConfigError
from riskseal.keys import FileSigner, PublicKeys, SignatureError, VerifierKey
from riskseal.manifest import KeyManifest, ManifestError, first_manifest, rotated
from riskseal.note import UnverifiedNoteError


def test_key_file_is_private_and_reloads(tmp_path: Path) -> None:
    signer = FileSigner.generate("audit-2026")
    path = tmp_path / "sealer.key"
    signer.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = FileSigner.load(path)
    assert loaded.key_id == signer.key_id
    assert loaded.sign(b"m") == signer.sign(b"m")


def test_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "sealer.key"
    FileSigner.generate("a").save(path)
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        FileSigner.generate("b").save(path)


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sealer.key"
    FileSigner.generate("a").save(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        FileSigner.load(path)


def test_private_key_never_shows_in_repr_or_errors(tmp_path: Path) -> None:
    path = tmp_path / "sealer.key"
    signer = FileSigner.generate("a")
    signer.save(path)
    secret = path.read_text().split("-----", 3)[2]
    assert secret.strip() not in repr(signer)
    path.write_text(path.read_text()[:-40])
    with pytest.raises(ConfigError) as refused:
        FileSigner.load(path)
    assert secret.strip()[:20] not in str(refused.value)


def test_bad_key_names_are_refused() -> None:
    for name in ("", "a b", "a+b"):
        with pytest.raises(ConfigError, match="key name"):
            FileSigner.generate(name)


def test_vkey_round_trip_and_verification() -> None:
    signer = FileSigner.generate("a")
    key = VerifierKey.from_vkey(signer.verifier.vkey())
    key.verify(b"m", signer.sign(b"m"))
    with pytest.raises(SignatureError, match="does not verify"):
        key.verify(b"n", signer.sign(b"m"))
    with pytest.raises(SignatureError, match="unknown key"):
        PublicKeys([]).verify(signer.key_id, b"m", signer.sign(b"m"))


def test_manifest_round_trip_and_validity_periods() -> None:
    old, new = FileSigner.generate("old"), FileSigner.generate("new")
    first = first_manifest(old, 1_000)
    second = rotated(first, old, new, 5_000)
    parsed = KeyManifest.parse(second.sign([old, new]), trusted=[old.verifier])
    assert parsed == second
    assert parsed.check_signer(old.key_id, 4_999) == old.verifier
    with pytest.raises(SignatureError, match="not valid at 5000"):
        parsed.check_signer(old.key_id, 5_000)
    assert parsed.check_signer(new.key_id, 5_000) == new.verifier
    with pytest.raises(SignatureError, match="not in key manifest"):
        parsed.check_signer(FileSigner.generate("x").key_id, 5_000)


def test_manifest_edited_to_add_a_key_fails_verification() -> None:
    owner, intruder = FileSigner.generate("owner"), FileSigner.generate("intruder")
    genuine = first_manifest(owner, 1_000).sign([owner])
    text = genuine.decode()
    forged_text = text.replace("\n\n", f"\n{intruder.verifier.vkey()} 1000 -\n\n", 1).encode()
    with pytest.raises(UnverifiedNoteError):
        KeyManifest.parse(forged_text, trusted=[owner.verifier])
    self_signed = KeyManifest(
        1, (*first_manifest(owner, 1_000).entries, *first_manifest(intruder, 1_000).entries)
    ).sign([intruder])
    with pytest.raises(UnverifiedNoteError):
        KeyManifest.parse(self_signed, trusted=[owner.verifier])


def test_malformed_manifest_is_refused() -> None:
    signer = FileSigner.generate("a")
    from riskseal.note import sign_note

    with pytest.raises(ManifestError, match="bad header"):
        KeyManifest.parse(sign_note("hello\nworld\nagain\n", [signer]).to_bytes())
