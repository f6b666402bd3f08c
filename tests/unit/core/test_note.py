"""C2SP signed notes and checkpoints: the Go known-answer vector, tampering, malformed input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.keys import FileSigner, SignatureError, VerifierKey
from riskseal.note import (
    Checkpoint,
    MalformedCheckpointError,
    MalformedNoteError,
    SignedNote,
    UnverifiedNoteError,
    sign_note,
)

VECTOR = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors/signed-note/go-sumdb-note.json").read_text()
)


def _vector_signer() -> FileSigner:
    _, _, name, _, encoded = VECTOR["signer_key"].split("+", 4)
    return FileSigner(name, Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded)[1:]))


def test_go_vector_reproduces_byte_for_byte() -> None:
    signer = _vector_signer()
    assert signer.verifier.vkey() == VECTOR["verifier_key"]
    assert sign_note(VECTOR["text"], [signer]).to_bytes().decode() == VECTOR["note"]


def test_go_vector_verifies_with_its_vkey() -> None:
    note = SignedNote.parse(VECTOR["note"].encode())
    key = VerifierKey.from_vkey(VECTOR["verifier_key"])
    assert note.verify([key]) == [key]
    assert note.text == VECTOR["text"]


def test_altered_text_fails_with_the_trusted_key() -> None:
    tampered = VECTOR["note"].replace("cryptography", "cryptografy").encode()
    with pytest.raises(UnverifiedNoteError, match="does not verify"):
        SignedNote.parse(tampered).verify([VerifierKey.from_vkey(VECTOR["verifier_key"])])


def test_note_signed_only_by_unknown_keys_is_unverified() -> None:
    other = FileSigner.generate("someone-else")
    with pytest.raises(UnverifiedNoteError, match="only by untrusted keys"):
        SignedNote.parse(VECTOR["note"].encode()).verify([other.verifier])


def test_unknown_signatures_are_ignored_when_a_trusted_one_verifies() -> None:
    trusted, stranger = FileSigner.generate("a"), FileSigner.generate("b")
    note = SignedNote.parse(sign_note("hello\n", [stranger, trusted]).to_bytes())
    assert note.verify([trusted.verifier]) == [trusted.verifier]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"no newline", "does not end with a newline"),
        (b"text\n", "no blank line"),
        (b"text\n\n", "no signatures"),
        (b"text\n\nx name AAAA\n", "does not start"),
        (b"text\n\n\xe2\x80\x94 name !!!\n", "not base64"),
        (b"text\n\n\xe2\x80\x94 name AAA=\n", "too short"),
        (b"\xff\n\n", "not valid UTF-8"),
    ],
)
def test_malformed_notes_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedNoteError, match=reason):
        SignedNote.parse(data)


def test_vkey_with_a_wrong_hash_is_rejected() -> None:
    name, _, key = VECTOR["verifier_key"].split("+")
    with pytest.raises(SignatureError, match="key hash does not match"):
        VerifierKey.from_vkey(f"{name}+00000000+{key}")


@settings(max_examples=50, deadline=None)
@given(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    st.integers(0, 2**63),
    st.binary(min_size=32, max_size=32),
    st.lists(
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1), max_size=3
    ),
)
def test_checkpoint_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(checkpoint.text()) == checkpoint


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("origin\n5\n" + "A" * 43 + "=", "newline"),
        ("origin\n5\n", "needs origin, size and root"),
        ("origin\n05\n" + "A" * 43 + "=\n", "not a decimal"),
        ("origin\n-5\n" + "A" * 43 + "=\n", "not a decimal"),
        ("origin\n5\n!!!\n", "not base64"),
        ("origin\n5\nAAAA\n", "32-byte"),
        ("\n5\n" + "A" * 43 + "=\n", "origin is empty"),
    ],
)
def test_malformed_checkpoints_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(MalformedCheckpointError, match=reason):
        Checkpoint.parse(text)
