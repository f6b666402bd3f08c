"""Signing keys and the key manifest: files, secrecy, rotation, forged manifests."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from riskseal.errors import ConfigError
from riskseal.keys import FileSigner, PublicKeys, SignatureError, VerifierKey
from riskseal.manifest import (
    KeyManifest,
    KeyValidity,
    ManifestError,
    first_manifest,
    manifest_key,
    rotated,
)
from riskseal.note import UnverifiedNoteError
from riskseal.sealer.keyring import followed_manifest
from riskseal.sealer.store import MemoryBlockStore


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


def test_a_running_sealer_follows_rotations_signed_by_keys_it_trusts() -> None:
    store, old, new = MemoryBlockStore(), FileSigner.generate("old"), FileSigner.generate("new")
    known = first_manifest(old, 1)
    store.create(manifest_key("p", 0), known.sign([old]))
    turned = rotated(known, old, new, 2)
    store.create(manifest_key("p", 1), turned.sign([old, new]))
    assert followed_manifest(store, "p", known) == turned


def test_a_manifest_chain_written_without_a_trusted_key_is_not_followed() -> None:
    # Anyone able to put objects can write versions signed by a key they list themselves.
    store, owner, intruder = MemoryBlockStore(), FileSigner.generate("s"), FileSigner.generate("x")
    known = first_manifest(owner, 1)
    store.create(manifest_key("p", 0), known.sign([owner]))
    theirs = KeyManifest(1, (*known.entries, KeyValidity(intruder.verifier, 1)))
    store.create(manifest_key("p", 1), theirs.sign([intruder]))
    with pytest.raises(ConfigError, match="not signed by a key of version 0"):
        followed_manifest(store, "p", known)


def test_a_retired_key_cannot_sign_the_next_manifest_version() -> None:
    store, old, new = MemoryBlockStore(), FileSigner.generate("old"), FileSigner.generate("new")
    retired = rotated(first_manifest(old, 1), old, new, 2)  # old retired at 2 ms
    store.create(manifest_key("p", 2), KeyManifest(2, retired.entries).sign([old]))
    with pytest.raises(ConfigError, match="still valid"):
        followed_manifest(store, "p", retired)
