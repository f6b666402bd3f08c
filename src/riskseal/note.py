"""C2SP signed notes and tlog checkpoints (https://c2sp.org/signed-note, /tlog-checkpoint).

A signed note is UTF-8 text ending in a newline, a blank line, then one line per signature::

    — <key name> <base64(4-byte key hash ‖ Ed25519 signature over the text)>

A checkpoint is the text ``<origin>\\n<tree size>\\n<base64 root hash>\\n[extension lines]``.
Keys and key hashes are those of ``riskseal.keys``; transparency-log tooling and witnesses
(e.g. Go's ``golang.org/x/mod/sumdb/note``) read what this module writes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from riskseal.errors import IntegrityError
from riskseal.keys import SignatureError, Signer, VerifierKey

EM_DASH = "\u2014"
SIGNATURE_PREFIX = f"{EM_DASH} "


class NoteError(IntegrityError):
    """A signed note or checkpoint is malformed or not signed by a trusted key."""


class MalformedNoteError(NoteError):
    """The bytes are not a well-formed signed note."""


class UnverifiedNoteError(NoteError):
    """No trusted key signed the note, or a trusted key's signature is invalid."""


class MalformedCheckpointError(NoteError):
    """The note's text is not a well-formed checkpoint."""


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key hash and signature bytes."""

    name: str
    key_hash: int
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        blob = self.key_hash.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note's text and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        """The serialized note."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    @classmethod
    def parse(cls, data: bytes) -> SignedNote:
        """Parse a serialized note; MalformedNoteError on any deviation from the spec."""
        try:
            message = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNoteError("note is not valid UTF-8") from None
        if not message.endswith("\n"):
            raise MalformedNoteError("note does not end with a newline")
        split = message.rfind("\n\n")
        if split < 0:
            raise MalformedNoteError("note has no blank line before its signatures")
        text, block = message[: split + 1], message[split + 2 :]
        if any(ord(c) < 0x20 and c != "\n" for c in text):
            raise MalformedNoteError("note text contains control characters")
        signatures = []
        for line in block.splitlines():
            if not line.startswith(SIGNATURE_PREFIX):
                raise MalformedNoteError(f"signature line {line!r} does not start with '— '")
            parts = line[len(SIGNATURE_PREFIX) :].split(" ")
            if len(parts) != 2 or not parts[0]:
                raise MalformedNoteError(f"malformed signature line {line!r}")
            try:
                blob = base64.b64decode(parts[1], validate=True)
            except binascii.Error:
                raise MalformedNoteError(f"signature of {parts[0]} is not base64") from None
            if len(blob) < 5:
                raise MalformedNoteError(f"signature of {parts[0]} is too short")
            signatures.append(NoteSignature(parts[0], int.from_bytes(blob[:4], "big"), blob[4:]))
        if not signatures:
            raise MalformedNoteError("note has no signatures")
        return cls(text, tuple(signatures))

    def verify(self, trusted: Iterable[VerifierKey]) -> list[VerifierKey]:
        """The trusted keys that signed this note; UnverifiedNoteError if none did.

        Signatures by unknown keys are ignored (C2SP signed-note); a signature by a trusted
        key that does not verify is an error, never ignored.
        """
        by_id = {(key.name, key.hash): key for key in trusted}
        verified = []
        for signature in self.signatures:
            key = by_id.get((signature.name, signature.key_hash))
            if key is None:
                continue
            try:
                key.verify(self.text.encode(), signature.signature)
            except SignatureError:
                raise UnverifiedNoteError(
                    f"signature by {key.key_id} does not verify: the note was altered"
                ) from None
            verified.append(key)
        if not verified:
            names = ", ".join(f"{s.name}+{s.key_hash:08x}" for s in self.signatures)
            raise UnverifiedNoteError(f"note is signed only by untrusted keys ({names})")
        return verified


def sign_note(text: str, signers: Sequence[Signer]) -> SignedNote:
    """Sign ``text`` (which must end with a newline) with every signer."""
    if not text.endswith("\n") or "\n\n" in text:
        raise ValueError("note text must end with a newline and contain no blank line")
    return SignedNote(
        text,
        tuple(
            NoteSignature(s.verifier.name, s.verifier.hash, s.sign(text.encode())) for s in signers
        ),
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog checkpoint: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint body, as signed."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body; MalformedCheckpointError on any deviation."""
        if not text.endswith("\n"):
            raise MalformedCheckpointError("checkpoint does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError("checkpoint needs origin, size and root lines")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise MalformedCheckpointError("checkpoint origin is empty")
        if (
            not size_text.isdigit()
            or not size_text.isascii()
            or (size_text != "0" and size_text.startswith("0"))
        ):
            raise MalformedCheckpointError(f"checkpoint size {size_text!r} is not a decimal")
        try:
            root_hash = base64.b64decode(root_text, validate=True)
        except binascii.Error:
            raise MalformedCheckpointError("checkpoint root is not base64") from None
        if len(root_hash) != 32 or base64.b64encode(root_hash).decode() != root_text:
            raise MalformedCheckpointError("checkpoint root is not a canonical 32-byte hash")
        if any(not line for line in extensions):
            raise MalformedCheckpointError("checkpoint has an empty extension line")
        return cls(origin, int(size_text), root_hash, tuple(extensions))
