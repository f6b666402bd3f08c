"""C2SP signed notes and tlog checkpoints with Ed25519 (c2sp.org/signed-note, /tlog-checkpoint).

A signed note is UTF-8 text with no ASCII control character but newline: the note text
(ending in a newline), a blank line, then one line per signature::

    — <key name> <base64(4-byte key hash ‖ Ed25519 signature over the note text)>

The key hash of an Ed25519 key is ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``, read as a
big-endian uint32, and its verifier key ("vkey") is ``<name>+<8 hex digits>+<base64(0x01 ‖
public key)>``. A checkpoint is a note whose text is ``<origin>\\n<tree size>\\n<base64 root
hash>\\n`` followed by optional non-empty extension lines. Keys are ``riskseal.keys`` objects:
sign with any ``Signer`` (``FileSigner(name, Ed25519PrivateKey)``), verify with
``VerifierKey``. Go's ``golang.org/x/mod/sumdb/note`` and transparency-log witnesses read what
this module writes, and this module reads theirs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from riskseal.errors import IntegrityError
from riskseal.keys import ED25519_ALGORITHM, SignatureError, Signer, VerifierKey
from riskseal.merkle import HASH_SIZE

EM_DASH = "\u2014"
SIGNATURE_PREFIX = f"{EM_DASH} "
MAX_SIGNATURES = 100
"""Notes with more signature lines are refused (the spec requires accepting at least 16)."""

MAX_TREE_SIZE = 2**64 - 1
"""Checkpoint tree sizes are uint64, as in every tlog implementation."""

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_ED25519_KEY_SIZE = 32


class NoteError(IntegrityError):
    """A signed note, checkpoint or verifier key is malformed or not trusted."""


class MalformedNoteError(NoteError):
    """The bytes are not a well-formed signed note."""


class UnverifiedNoteError(NoteError):
    """No trusted key signed the note, or a trusted key's signature does not verify."""


class MalformedCheckpointError(NoteError):
    """The note text is not a well-formed checkpoint."""


class CheckpointOriginError(NoteError):
    """A checkpoint names another log (origin) than the one the verifier asked for."""


class MalformedVerifierKeyError(NoteError):
    """A vkey string is malformed, is not Ed25519, or its key hash does not match its key."""


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty and contain no Unicode space and no ``+`` (C2SP signed-note)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def parse_vkey(vkey: str) -> VerifierKey:
    """Parse ``<name>+<8 lower-case hex>+<base64(0x01 ‖ 32-byte key)>`` strictly.

    MalformedVerifierKeyError unless every part is well formed, the type byte is Ed25519
    and the key hash is that of the name and key; nothing around the string is stripped.
    """
    name, _, rest = vkey.partition("+")
    hash_hex, _, encoded = rest.partition("+")
    shown = _shown(vkey)
    if not is_valid_key_name(name):
        raise MalformedVerifierKeyError(f"vkey {shown}: key name {name!r} is not valid")
    if not _HEX8.fullmatch(hash_hex):
        raise MalformedVerifierKeyError(f"vkey {shown}: key hash is not 8 lower-case hex digits")
    raw = _b64decode(encoded)
    if raw is None or not raw:
        raise MalformedVerifierKeyError(
            f"vkey {shown}: key is not base64 (canonical, standard, padded)"
        )
    if raw[0] != ED25519_ALGORITHM or len(raw) != 1 + _ED25519_KEY_SIZE:
        raise MalformedVerifierKeyError(f"vkey {shown}: not an Ed25519 (type 0x01) key")
    key = VerifierKey(name, raw[1:])
    if key.hash != int(hash_hex, 16):
        raise MalformedVerifierKeyError(
            f"vkey {shown}: key hash {hash_hex} does not match the key ({key.hash:08x})"
        )
    return key


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 32-bit key hash and signature bytes."""

    name: str
    key_hash: int
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name) or _CONTROL.search(self.name):
            raise MalformedNoteError(f"signature key name {self.name!r} is not valid")
        if not 0 <= self.key_hash < 2**32:
            raise MalformedNoteError(f"signature key hash {self.key_hash} is not a uint32")
        if not self.signature:
            raise MalformedNoteError(f"signature by {self.name} is empty")

    def line(self) -> str:
        """The signature line, newline included."""
        blob = self.key_hash.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"

    @classmethod
    def parse(cls, line: str) -> NoteSignature:
        """Parse one signature line without its newline; MalformedNoteError if malformed."""
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNoteError(f"signature line {line!r} does not start with '— '")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not is_valid_key_name(name):
            raise MalformedNoteError(f"signature line {line!r}: key name is not valid")
        blob = _b64decode(encoded)
        if blob is None or not encoded:
            raise MalformedNoteError(
                f"signature by {name} is not base64 (canonical, standard, padded)"
            )
        if len(blob) < 5:
            raise MalformedNoteError(f"signature by {name}: {len(blob)} bytes, too short")
        return cls(name, int.from_bytes(blob[:4], "big"), blob[4:])


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note's text (ending in a newline) and its signatures, in order.

    Construct one with :func:`sign_note` or :meth:`parse`; its text MUST be ignored until
    :meth:`verify` succeeds.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_note_text(self.text)
        if not self.signatures:
            raise MalformedNoteError("note has no signatures")
        if len(self.signatures) > MAX_SIGNATURES:
            raise MalformedNoteError(
                f"note has {len(self.signatures)} signatures, more than {MAX_SIGNATURES}"
            )

    def to_bytes(self) -> bytes:
        """The serialized note: text, blank line, signature lines."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    @classmethod
    def parse(cls, data: bytes) -> SignedNote:
        """Parse a serialized note; MalformedNoteError on any deviation from the spec.

        Nothing is verified here: call :meth:`verify` before using the text.
        """
        try:
            message = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError(f"note is not valid UTF-8 (byte {exc.start})") from None
        if not message.endswith("\n"):
            raise MalformedNoteError("note does not end with a newline")
        control = _CONTROL.search(message)
        if control:
            raise MalformedNoteError(
                f"note contains control character {control.group()!r} at {control.start()}"
            )
        split = message.rfind("\n\n")
        if split < 0:
            raise MalformedNoteError("note has no blank line before its signatures")
        text, block = message[: split + 1], message[split + 2 :]
        if not block:
            raise MalformedNoteError("note has no signatures after its blank line")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise MalformedNoteError(
                f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}"
            )
        return cls(text, tuple(NoteSignature.parse(line) for line in lines))

    def verify(self, trusted: Iterable[VerifierKey]) -> list[VerifierKey]:
        """The trusted keys that signed this note, in signature order, each once.

        A signature counts only if both its key name and key hash match a trusted key;
        others are ignored (C2SP signed-note). Every signature by a trusted key must
        verify: one that does not rejects the whole note. UnverifiedNoteError if a
        signature fails or no trusted key signed.
        """
        by_id = {(key.name, key.hash): key for key in trusted}
        message = self.text.encode()
        verified: list[VerifierKey] = []
        for signature in self.signatures:
            key = by_id.get((signature.name, signature.key_hash))
            if key is None:
                continue
            try:
                key.verify(message, signature.signature)
            except SignatureError:
                raise UnverifiedNoteError(
                    f"note signature by trusted key {key.key_id} does not verify: "
                    "the text or the signature was altered"
                ) from None
            if key not in verified:
                verified.append(key)
        if not verified:
            names = ", ".join(f"{s.name}+{s.key_hash:08x}" for s in self.signatures)
            raise UnverifiedNoteError(f"note is signed only by untrusted keys ({names})")
        return verified


def sign_note(text: str, signers: Sequence[Signer]) -> SignedNote:
    """Sign ``text`` with every signer, in order (Ed25519 is deterministic).

    MalformedNoteError unless ``text`` is a valid note text (ends with a newline, no control
    character but newline) and there is at least one signer with a valid key name.
    """
    _check_note_text(text)
    message = text.encode()
    return SignedNote(
        text,
        tuple(NoteSignature(s.verifier.name, s.verifier.hash, s.sign(message)) for s in signers),
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog checkpoint: origin, tree size, root hash and optional extension lines.

    Construction checks the fields, so every Checkpoint formats to a text that
    :meth:`parse` gives back unchanged; MalformedCheckpointError otherwise.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_checkpoint_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"checkpoint size {self.size} is not a uint64")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(
                f"checkpoint root hash is {len(self.root_hash)} bytes, "
                f"not a {HASH_SIZE}-byte SHA-256 hash"
            )
        for number, line in enumerate(self.extensions, start=4):
            _check_checkpoint_line(line, f"extension line {number}")

    def text(self) -> str:
        """The checkpoint body, exactly as signed."""
        root = base64.b64encode(self.root_hash).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body; MalformedCheckpointError on any deviation from the spec."""
        if not text.endswith("\n"):
            raise MalformedCheckpointError("checkpoint does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError(
                f"checkpoint has {len(lines)} lines, needs origin, size and root hash lines"
            )
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise MalformedCheckpointError(
                f"checkpoint tree size {size_text[:30]!r} is not a decimal without leading zeros"
            )
        if len(size_text) > len(str(MAX_TREE_SIZE)):
            raise MalformedCheckpointError(
                f"checkpoint tree size has {len(size_text)} digits, it is not a uint64"
            )
        root_hash = _b64decode(root_text)
        if root_hash is None:
            raise MalformedCheckpointError(
                f"checkpoint root hash {root_text!r} is not base64 (canonical, standard, padded)"
            )
        return cls(origin, int(size_text), root_hash, tuple(extensions))


def open_checkpoint(data: bytes, origin: str, trusted: Iterable[VerifierKey]) -> Checkpoint:
    """Parse a signed checkpoint of log ``origin`` and verify it with the ``trusted`` keys.

    Checks in order: the note parses (MalformedNoteError), its text is a checkpoint
    (MalformedCheckpointError), of ``origin`` (CheckpointOriginError), signed by a trusted
    key (UnverifiedNoteError).
    """
    note = SignedNote.parse(data)
    checkpoint = Checkpoint.parse(note.text)
    if checkpoint.origin != origin:
        raise CheckpointOriginError(
            f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}"
        )
    note.verify(trusted)
    return checkpoint


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text does not end with a newline")
    control = _CONTROL.search(text)
    if control:
        raise MalformedNoteError(
            f"note text contains control character {control.group()!r} at {control.start()}"
        )


def _check_checkpoint_line(line: str, what: str) -> None:
    if not line:
        raise MalformedCheckpointError(f"checkpoint {what} is empty")
    if "\n" in line or _CONTROL.search(line):
        raise MalformedCheckpointError(f"checkpoint {what} {line!r} contains a control character")


def _b64decode(text: str) -> bytes | None:
    """Canonical standard padded base64 (RFC 4648 §4) and nothing else; None if it is not.

    Canonical means the text is exactly what encoding the bytes gives back (padding as
    required, unused bits zero), so no two texts decode to the same bytes.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None


def _shown(vkey: str) -> str:
    """A vkey for an error message, cut short: it is public, but may be garbage."""
    return repr(vkey if len(vkey) <= 120 else vkey[:117] + "...")
