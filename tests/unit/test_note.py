"""C2SP signed notes, vkeys and checkpoints: Go and spec vectors, tampering, malformed input."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.keys import FileSigner, key_hash
from riskseal.note import (
    MAX_SIGNATURES,
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointOriginError,
    MalformedCheckpointError,
    MalformedNoteError,
    MalformedVerifierKeyError,
    NoteSignature,
    SignedNote,
    UnverifiedNoteError,
    is_valid_key_name,
    open_checkpoint,
    parse_vkey,
    sign_note,
)

VECTOR = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors/signed-note/go-sumdb-note.json").read_text()
)
GO_VKEY: str = VECTOR["verifier_key"]
GO_NOTE: bytes = VECTOR["note"].encode()

# c2sp.org/signed-note, "Verifier keys" example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi"
    "2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


def _go_signer() -> FileSigner:
    """The Go vector's signer key: ``PRIVATE+KEY+<name>+<hash>+base64(0x01 ‖ seed)``."""
    _, _, name, _, encoded = VECTOR["signer_key"].split("+", 4)
    seed = base64.b64decode(encoded)[1:]
    return FileSigner(name, Ed25519PrivateKey.from_private_bytes(seed))


def _signer(name: str, seed: int) -> FileSigner:
    return FileSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


ALICE, BOB = _signer("example.com/alice", 1), _signer("example.com/bob", 2)


# --- known answers ------------------------------------------------------------------------


def test_go_vector_is_reproduced_byte_for_byte() -> None:
    signer = _go_signer()
    assert signer.verifier.vkey() == GO_VKEY
    assert sign_note(VECTOR["text"], [signer]).to_bytes() == GO_NOTE


def test_go_vector_verifies_with_its_parsed_vkey() -> None:
    key = parse_vkey(GO_VKEY)
    note = SignedNote.parse(GO_NOTE)
    assert note.verify([key]) == [key]
    assert note.text == VECTOR["text"]
    assert note.to_bytes() == GO_NOTE


def test_spec_example_note_verifies_with_the_spec_vkey() -> None:
    key = parse_vkey(SPEC_VKEY)
    assert SignedNote.parse(SPEC_NOTE).verify([key]) == [key]


def test_go_vkey_names_its_key_and_key_hash() -> None:
    key = parse_vkey(GO_VKEY)
    assert key.name == "PeterNeumann"
    assert key.hash == key_hash(key.name, key.public_key) == 0xC74F20A3
    assert key.vkey() == GO_VKEY


def test_spec_checkpoint_example_parses() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    checkpoint = Checkpoint.parse(text)
    assert (checkpoint.origin, checkpoint.size, checkpoint.extensions) == (
        "example.com/behind-the-sofa",
        20852163,
        (),
    )
    assert checkpoint.root_hash.hex().startswith("0ac5186a")
    assert checkpoint.text() == text


# --- verifier keys ------------------------------------------------------------------------


def _go_vkey_manglings() -> list[str]:
    """Go's TestNewVerifier: every proper substring and every single-character increment."""
    cut = {GO_VKEY[i:j] for i in range(len(GO_VKEY)) for j in range(i + 1, len(GO_VKEY) + 1)}
    cut.discard(GO_VKEY)
    bumped = {GO_VKEY[:i] + chr(ord(c) + 1) + GO_VKEY[i + 1 :] for i, c in enumerate(GO_VKEY)}
    return sorted(cut | bumped)


def test_every_mangling_of_the_go_vkey_is_rejected() -> None:
    accepted = []
    for mangled in _go_vkey_manglings():
        try:
            parse_vkey(mangled)
        except MalformedVerifierKeyError:
            continue
        accepted.append(mangled)
    assert accepted == []


def _vkey(name: str, raw: bytes) -> str:
    """A vkey with a correct key hash over any type byte and key bytes."""
    digest = hashlib.sha256(name.encode() + b"\n" + raw).digest()
    return f"{name}+{digest[:4].hex()}+{base64.b64encode(raw).decode()}"


GO_RAW_KEY = base64.b64decode(GO_VKEY.rsplit("+", 1)[1])


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        # Go's own bad keys (wrong key length, unknown type), each with a matching hash; the
        # first is also non-canonical base64 (Go accepts that encoding, riskseal does not).
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "not base64",
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519"),
        (_vkey("PeterNeumann", GO_RAW_KEY + b"\x00"), "not an Ed25519"),
        (_vkey("PeterNeumann", GO_RAW_KEY[:-1]), "not an Ed25519"),
        (_vkey("PeterNeumann", b"\x02" + GO_RAW_KEY[1:]), "not an Ed25519"),
        (GO_VKEY.replace("+c74f20a3+", "+C74F20A3+"), "8 lower-case hex"),
        (GO_VKEY.replace("+c74f20a3+", "+00000000+"), "does not match the key"),
        (" " + GO_VKEY, "key name"),
        (GO_VKEY + "\n", "not base64"),
        ("Peter Neumann" + GO_VKEY[len("PeterNeumann") :], "key name"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
    ],
)
def test_malformed_vkey_is_rejected_with_its_reason(vkey: str, reason: str) -> None:
    with pytest.raises(MalformedVerifierKeyError, match=reason):
        parse_vkey(vkey)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("example.com/log", True),
        ("PeterNeumann", True),
        ("", False),
        ("a b", False),
        ("a+b", False),
        ("a\u00a0b", False),  # no-break space
        ("a\u2003b", False),  # em space
        ("a\tb", False),
    ],
)
def test_key_name_validity_follows_the_spec(name: str, valid: bool) -> None:
    assert is_valid_key_name(name) is valid


# --- verification -------------------------------------------------------------------------


def test_altered_text_is_rejected_by_the_trusted_key() -> None:
    tampered = GO_NOTE.replace(b"cryptography", b"cryptografy")
    with pytest.raises(UnverifiedNoteError, match=r"PeterNeumann\+c74f20a3 does not verify"):
        SignedNote.parse(tampered).verify([parse_vkey(GO_VKEY)])


def test_altered_signature_is_rejected_by_the_trusted_key() -> None:
    note = SignedNote.parse(GO_NOTE)
    good = note.signatures[0]
    flipped = bytes([good.signature[0] ^ 1]) + good.signature[1:]
    forged = SignedNote(note.text, (NoteSignature(good.name, good.key_hash, flipped),))
    with pytest.raises(UnverifiedNoteError, match="does not verify"):
        SignedNote.parse(forged.to_bytes()).verify([parse_vkey(GO_VKEY)])


def test_note_signed_only_by_an_unknown_key_is_unverified() -> None:
    with pytest.raises(UnverifiedNoteError, match=r"only by untrusted keys \(PeterNeumann\+c74f"):
        SignedNote.parse(GO_NOTE).verify([ALICE.verifier])


def test_note_verified_against_no_keys_is_unverified() -> None:
    with pytest.raises(UnverifiedNoteError, match="untrusted"):
        SignedNote.parse(GO_NOTE).verify([])


def test_signature_under_a_trusted_name_with_another_key_hash_is_ignored() -> None:
    impostor = _signer(ALICE.verifier.name, 9)  # same name, other key: other key hash
    note = SignedNote.parse(sign_note("hello\n", [impostor]).to_bytes())
    with pytest.raises(UnverifiedNoteError, match="only by untrusted keys"):
        note.verify([ALICE.verifier])


def test_signature_with_a_trusted_key_hash_under_another_name_is_ignored() -> None:
    good = sign_note("hello\n", [ALICE]).signatures[0]
    renamed = NoteSignature("example.com/mallory", good.key_hash, good.signature)
    note = SignedNote.parse(SignedNote("hello\n", (renamed,)).to_bytes())
    with pytest.raises(UnverifiedNoteError, match="only by untrusted keys"):
        note.verify([ALICE.verifier])


def test_unknown_signatures_are_ignored_when_a_trusted_one_verifies() -> None:
    note = SignedNote.parse(sign_note("hello\n", [BOB, ALICE]).to_bytes())
    assert note.verify([ALICE.verifier]) == [ALICE.verifier]


def test_invalid_signature_by_a_trusted_key_rejects_the_note_despite_a_valid_one() -> None:
    signed = sign_note("hello\n", [ALICE, BOB])
    bad = NoteSignature(BOB.verifier.name, BOB.verifier.hash, bytes(64))
    note = SignedNote.parse(SignedNote("hello\n", (signed.signatures[0], bad)).to_bytes())
    with pytest.raises(UnverifiedNoteError, match=r"example\.com/bob\+[0-9a-f]{8} does not verify"):
        note.verify([ALICE.verifier, BOB.verifier])


def test_every_trusted_signer_is_reported_once_in_signature_order() -> None:
    signed = sign_note("hello\n", [BOB, ALICE])
    doubled = SignedNote(signed.text, (*signed.signatures, signed.signatures[0]))
    note = SignedNote.parse(doubled.to_bytes())
    assert note.verify([ALICE.verifier, BOB.verifier]) == [BOB.verifier, ALICE.verifier]


def test_text_with_blank_lines_round_trips_and_verifies() -> None:
    text = "first\n\nthird\n\n"
    note = SignedNote.parse(sign_note(text, [ALICE]).to_bytes())
    assert note.text == text
    assert note.verify([ALICE.verifier]) == [ALICE.verifier]


def test_sixteen_signatures_are_accepted() -> None:
    signers = [_signer(f"witness{i}", 10 + i) for i in range(16)]
    note = SignedNote.parse(sign_note("hello\n", signers).to_bytes())
    assert len(note.verify([s.verifier for s in signers])) == 16


# --- malformed notes ----------------------------------------------------------------------

SIG = "\u2014 example.com/alice " + base64.b64encode(bytes(68)).decode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\n\n" + SIG.encode() + b"\n", "not valid UTF-8"),
        (f"text\n\n{SIG}".encode(), "does not end with a newline"),
        (b"text\n", "no blank line"),
        (b"text\n\n", "no signatures"),
        (f"te\txt\n\n{SIG}\n".encode(), r"control character '\\t'"),
        (f"text\r\n\n{SIG}\n".encode(), r"control character '\\r'"),
        (f"text\n\n{SIG}\r\n".encode(), r"control character '\\r'"),
        (f"text\n\n{SIG.replace(' ', '  ', 1)}\n".encode(), "key name is not valid"),
        (f"text\n\n{SIG.replace(chr(0x2014), '-')}\n".encode(), "does not start with"),
        (f"text\n\n{SIG.replace('alice', 'al+ice')}\n".encode(), "key name is not valid"),
        (f"text\n\n{SIG.replace('alice ', 'alice')}\n".encode(), "not base64"),
        ("text\n\n\u2014 name !!!!\n".encode(), "not base64"),
        ("text\n\n\u2014 name AAAAAA\n".encode(), "not base64"),  # unpadded
        ("text\n\n\u2014 name AAAAAB==\n".encode(), "not base64"),  # non-canonical
        ("text\n\n\u2014 name AAAAAA==\n".encode(), "too short"),
        (f"text\n\n{SIG}\n{SIG} extra\n".encode(), "not base64"),
        (("text\n\n" + f"{SIG}\n" * (MAX_SIGNATURES + 1)).encode(), "more than 100"),
    ],
)
def test_malformed_note_is_rejected_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedNoteError, match=reason):
        SignedNote.parse(data)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no newline", "does not end with a newline"),
        ("", "does not end with a newline"),
        ("bell\a\n", "control character"),
    ],
)
def test_signing_a_text_that_is_not_a_note_text_is_refused(text: str, reason: str) -> None:
    with pytest.raises(MalformedNoteError, match=reason):
        sign_note(text, [ALICE])


def test_signing_with_no_signer_is_refused() -> None:
    with pytest.raises(MalformedNoteError, match="no signatures"):
        sign_note("hello\n", [])


# --- checkpoints --------------------------------------------------------------------------

line_text = st.text(
    st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1, max_size=30
)


@settings(max_examples=100, deadline=None)
@given(
    line_text,
    st.integers(0, MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(line_text, max_size=3),
)
def test_checkpoint_text_round_trips(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    text = checkpoint.text()
    assert text == "".join(
        f"{line}\n" for line in [origin, str(size), base64.b64encode(root).decode(), *extensions]
    )
    assert Checkpoint.parse(text) == checkpoint


@settings(max_examples=25, deadline=None)
@given(line_text, st.integers(0, MAX_TREE_SIZE), st.binary(min_size=32, max_size=32))
def test_signed_checkpoint_opens_with_its_origin_and_key(
    origin: str, size: int, root: bytes
) -> None:
    checkpoint = Checkpoint(origin, size, root)
    data = sign_note(checkpoint.text(), [ALICE]).to_bytes()
    assert open_checkpoint(data, origin, [ALICE.verifier]) == checkpoint


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"origin\n5\n{ROOT_B64}", "does not end with a newline"),
        ("origin\n5\n", "needs origin, size and root"),
        (f"\n5\n{ROOT_B64}\n", "origin is empty"),
        (f"ori\tgin\n5\n{ROOT_B64}\n", "control character"),
        (f"origin\n05\n{ROOT_B64}\n", "leading zeros"),
        (f"origin\n00\n{ROOT_B64}\n", "leading zeros"),
        (f"origin\n-5\n{ROOT_B64}\n", "not a decimal"),
        (f"origin\n+5\n{ROOT_B64}\n", "not a decimal"),
        (f"origin\n 5\n{ROOT_B64}\n", "not a decimal"),
        (f"origin\n5a\n{ROOT_B64}\n", "not a decimal"),
        (f"origin\n0x5\n{ROOT_B64}\n", "not a decimal"),
        (f"origin\n\uff15\n{ROOT_B64}\n", "not a decimal"),  # fullwidth digit five
        (f"origin\n{2**64}\n{ROOT_B64}\n", "not a uint64"),
        (f"origin\n{'9' * 5000}\n{ROOT_B64}\n", "5000 digits, it is not a uint64"),
        ("origin\n5\n!!!!\n", "not base64"),
        (f"origin\n5\n{ROOT_B64.rstrip('=')}\n", "not base64"),  # unpadded
        (f"origin\n5\n{ROOT_B64[:-2]}9=\n", "not base64"),  # unused bits set: non-canonical
        (f"origin\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes, not a 32-byte"),
        (f"origin\n5\n{base64.b64encode(ROOT + b'x').decode()}\n", "33 bytes, not a 32-byte"),
        (f"origin\n5\n{ROOT_B64}\n\n", "extension line 4 is empty"),
        (f"origin\n5\n{ROOT_B64}\next\n\n", "extension line 5 is empty"),
    ],
)
def test_malformed_checkpoint_is_rejected_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(MalformedCheckpointError, match=reason):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions", "reason"),
    [
        ("", 1, ROOT, (), "origin is empty"),
        ("log\nfake", 1, ROOT, (), "origin .* control character"),
        ("log", -1, ROOT, (), "not a uint64"),
        ("log", 2**64, ROOT, (), "not a uint64"),
        ("log", 1, ROOT[:31], (), "31 bytes"),
        ("log", 1, ROOT, ("",), "extension line 4 is empty"),
        ("log", 1, ROOT, ("a\nb",), "extension line 4 .* control character"),
    ],
)
def test_checkpoint_that_cannot_be_formatted_is_refused(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(MalformedCheckpointError, match=reason):
        Checkpoint(origin, size, root, extensions)


def test_checkpoint_of_another_origin_is_refused() -> None:
    data = sign_note(Checkpoint("example.com/other", 1, ROOT).text(), [ALICE]).to_bytes()
    with pytest.raises(
        CheckpointOriginError, match=r"'example\.com/other', expected 'example\.com/log'"
    ):
        open_checkpoint(data, "example.com/log", [ALICE.verifier])


def test_checkpoint_signed_by_an_untrusted_key_is_refused() -> None:
    data = sign_note(Checkpoint("example.com/log", 1, ROOT).text(), [BOB]).to_bytes()
    with pytest.raises(UnverifiedNoteError, match="only by untrusted keys"):
        open_checkpoint(data, "example.com/log", [ALICE.verifier])


def test_signed_note_that_is_not_a_checkpoint_is_refused() -> None:
    data = sign_note("example.com/log\nfive\n", [ALICE]).to_bytes()
    with pytest.raises(MalformedCheckpointError, match="needs origin, size and root"):
        open_checkpoint(data, "example.com/log", [ALICE.verifier])


def test_checkpoint_with_a_rewritten_size_is_refused() -> None:
    data = sign_note(Checkpoint("example.com/log", 10, ROOT).text(), [ALICE]).to_bytes()
    forged = data.replace(b"\n10\n", b"\n11\n", 1)
    with pytest.raises(UnverifiedNoteError, match="does not verify"):
        open_checkpoint(forged, "example.com/log", [ALICE.verifier])


def test_signers_never_show_private_key_material() -> None:
    seed = bytes([1]) * 32
    shown = repr(ALICE) + str(ALICE) + repr(sign_note("hello\n", [ALICE]))
    assert seed.hex() not in shown
    assert base64.b64encode(seed).decode() not in shown
