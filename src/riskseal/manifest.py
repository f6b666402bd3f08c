"""The key manifest: which public keys may sign blocks, and when.

A manifest is a C2SP signed note whose text is::

    riskseal key manifest v1
    <vkey> <valid from, ms> <valid until, ms or "-">
    ...

Version ``n`` is stored at ``<prefix>/keys/manifest/<n, 6 digits>`` under Object Lock and is
signed by every key valid in it that is still in use and, from version 1 on, by a key of
version ``n - 1``, so a verifier holding a trusted version-0 key can follow rotations and
notice a manifest edited to add a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from riskseal.errors import IntegrityError
from riskseal.keys import PublicKeys, SignatureError, Signer, VerifierKey
from riskseal.note import SignedNote, sign_note

HEADER_LINE = "riskseal key manifest v1"
OPEN = "-"


class ManifestError(IntegrityError):
    """A key manifest is malformed, not signed by a trusted key, or breaks its chain."""


@dataclass(frozen=True, slots=True)
class KeyValidity:
    """A key and the period (ms since the epoch, until exclusive) it may sign in."""

    key: VerifierKey
    valid_from_ms: int
    valid_until_ms: int | None = None

    def covers(self, time_ms: int) -> bool:
        """Whether a signature made at ``time_ms`` falls in the validity period."""
        return self.valid_from_ms <= time_ms and (
            self.valid_until_ms is None or time_ms < self.valid_until_ms
        )

    def line(self) -> str:
        """The manifest line."""
        until = OPEN if self.valid_until_ms is None else str(self.valid_until_ms)
        return f"{self.key.vkey()} {self.valid_from_ms} {until}"


@dataclass(frozen=True, slots=True)
class KeyManifest:
    """A version of the key manifest."""

    version: int
    entries: tuple[KeyValidity, ...]

    def text(self) -> str:
        """The signed text."""
        return "".join(
            line + "\n" for line in [HEADER_LINE, f"version {self.version}", *self.lines()]
        )

    def lines(self) -> list[str]:
        """One line per key."""
        return [entry.line() for entry in self.entries]

    def public_keys(self) -> PublicKeys:
        """Every key of the manifest, whatever its period."""
        return PublicKeys(entry.key for entry in self.entries)

    def entry(self, key_id: str) -> KeyValidity | None:
        """The entry of ``key_id``, if present."""
        return next((e for e in self.entries if e.key.key_id == key_id), None)

    def may_sign(self, key_id: str, time_ms: int) -> bool:
        """Whether the key ``key_id`` is listed and valid at ``time_ms``."""
        entry = self.entry(key_id)
        return entry is not None and entry.covers(time_ms)

    def check_signer(self, key_id: str, time_ms: int) -> VerifierKey:
        """The key ``key_id`` if it may sign at ``time_ms``; SignatureError otherwise."""
        entry = self.entry(key_id)
        if entry is None:
            raise SignatureError(f"key {key_id} is not in key manifest version {self.version}")
        if not entry.covers(time_ms):
            raise SignatureError(
                f"key {key_id} was not valid at {time_ms} (manifest version {self.version})"
            )
        return entry.key

    def sign(self, signers: Sequence[Signer]) -> bytes:
        """The serialized signed note."""
        return sign_note(self.text(), signers).to_bytes()

    @classmethod
    def parse(cls, data: bytes, trusted: Sequence[VerifierKey] | None = None) -> KeyManifest:
        """Parse a signed manifest; with ``trusted``, require a signature by one of them.

        Without ``trusted`` the manifest must be signed by a key it lists itself (so it is at
        least self-consistent); a verifier always passes its trust anchors.
        """
        note = SignedNote.parse(data)
        lines = note.text.splitlines()
        if len(lines) < 3 or lines[0] != HEADER_LINE or not lines[1].startswith("version "):
            raise ManifestError("not a riskseal key manifest (bad header lines)")
        try:
            version = int(lines[1].removeprefix("version "))
            entries = tuple(_parse_line(line) for line in lines[2:])
        except (ValueError, SignatureError) as exc:
            raise ManifestError(f"malformed key manifest: {exc}") from None
        manifest = cls(version, entries)
        note.verify(trusted if trusted is not None else [e.key for e in entries])
        return manifest


def _parse_line(line: str) -> KeyValidity:
    parts = line.split(" ")
    if len(parts) != 3:
        raise ValueError(f"manifest line {line!r} is not 'vkey from until'")
    until = None if parts[2] == OPEN else int(parts[2])
    return KeyValidity(VerifierKey.from_vkey(parts[0]), int(parts[1]), until)


def manifest_key(prefix: str, version: int) -> str:
    """Where version ``version`` of the manifest is stored."""
    return f"{prefix}/keys/manifest/{version:06d}"


def first_manifest(signer: Signer, now_ms: int) -> KeyManifest:
    """Version 0: the one signer, valid from now on."""
    return KeyManifest(0, (KeyValidity(signer.verifier, now_ms),))


def rotated(
    manifest: KeyManifest, old: Signer, new: Signer, now_ms: int, cut_over_ms: int | None = None
) -> KeyManifest:
    """The next version: ``old`` valid until the cut-over (default: now), ``new`` from now
    (sign with both). A cut-over later than now lets both keys sign until then, so sealers
    still running with ``old`` can be moved to ``new`` one at a time."""
    until = now_ms if cut_over_ms is None else cut_over_ms
    entries = []
    for entry in manifest.entries:
        if entry.key.key_id == old.key_id:
            entry = KeyValidity(entry.key, entry.valid_from_ms, until)
        entries.append(entry)
    if manifest.entry(new.key_id) is None:
        entries.append(KeyValidity(new.verifier, now_ms))
    return KeyManifest(manifest.version + 1, tuple(entries))
