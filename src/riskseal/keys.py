"""Signing keys: Ed25519 signers, their public keys, and verification by key id.

Keys are named and identified the way C2SP signed notes identify them: the key hash is the
first four bytes of ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)``, the key id written in block
headers is ``<name>+<hash as 8 hex digits>``, and a public key is published as a *vkey*,
``<name>+<hash>+<base64(0x01 ‖ public key)>``, which transparency-log tools read as-is.

Private keys live in PEM files created mode 0600 and never appear in repr, logs or errors.
``Signer`` is a protocol, so a KMS-backed signer can replace the file key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from riskseal.errors import ConfigError, IntegrityError

ED25519_ALGORITHM = 0x01


class SignatureError(IntegrityError):
    """A signature does not verify, or names a key nobody trusts."""


def key_hash(name: str, public_key: bytes) -> int:
    """The C2SP key hash: first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key), big-endian."""
    digest = hashlib.sha256(
        name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


def check_key_name(name: str) -> str:
    """A key name must be non-empty printable text without spaces or '+' (C2SP rule)."""
    if not name or any(c in name for c in "+ \t\n") or not name.isprintable():
        raise ConfigError(f"key name {name!r} must be non-empty, printable, without '+' or spaces")
    return name


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A named Ed25519 public key."""

    name: str
    public_key: bytes

    @property
    def hash(self) -> int:
        """The 32-bit C2SP key hash."""
        return key_hash(self.name, self.public_key)

    @property
    def key_id(self) -> str:
        """``<name>+<8 hex digits>``: how block headers name their signer."""
        return f"{self.name}+{self.hash:08x}"

    def vkey(self) -> str:
        """The C2SP verifier key string."""
        encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + self.public_key).decode()
        return f"{self.key_id}+{encoded}"

    @classmethod
    def from_vkey(cls, text: str) -> VerifierKey:
        """Parse a vkey; IntegrityError when it is malformed or its hash does not match.

        Errors quote at most the start of ``text``'s first line: what was given instead of
        a vkey may be a private key file.
        """
        if "PRIVATE KEY" in text:
            raise SignatureError(
                "this is a private key, not a vkey: give the public key, as "
                "`riskseal keys export-public` prints it, and keep the private key secret"
            )
        shown = _start_of(text)
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise SignatureError(f"malformed vkey {shown}: want name+hash+key")
        name, hash_hex, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            claimed = int(hash_hex, 16)
        except ValueError as exc:
            raise SignatureError(f"malformed vkey {shown}: {exc}") from None
        if len(hash_hex) != 8 or len(raw) != 33 or raw[0] != ED25519_ALGORITHM:
            raise SignatureError(f"vkey {shown} is not an Ed25519 key")
        key = cls(name, raw[1:])
        if key.hash != claimed:
            raise SignatureError(f"vkey {shown}: key hash does not match the key")
        return key

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise SignatureError unless ``signature`` is this key's over ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            raise SignatureError(f"signature by {self.key_id} does not verify") from None


_SHOWN_CHARS = 40


def _start_of(text: str) -> str:
    """The first characters of ``text``'s first line, quoted, for an error message."""
    lines = text.strip().splitlines() or [""]
    line = lines[0]
    more = len(line) > _SHOWN_CHARS or len(lines) > 1
    return repr(line[:_SHOWN_CHARS]) + (" (cut)" if more else "")


class Signer(Protocol):
    """Signs block headers and checkpoints; a file key today, a KMS key later."""

    @property
    def key_id(self) -> str:
        """``<name>+<hash>`` of the public key."""
        ...

    @property
    def verifier(self) -> VerifierKey:
        """The public half."""
        ...

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature over ``message``."""
        ...


class FileSigner:
    """An Ed25519 key loaded from a PEM file (PKCS#8, unencrypted, mode 0600)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._verifier = VerifierKey(check_key_name(name), public)

    @property
    def key_id(self) -> str:
        """``<name>+<hash>``."""
        return self._verifier.key_id

    @property
    def verifier(self) -> VerifierKey:
        """The public key."""
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """Sign with the private key."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"FileSigner({self.key_id})"

    @classmethod
    def generate(cls, name: str) -> FileSigner:
        """A fresh random key."""
        return cls(name, Ed25519PrivateKey.generate())

    def save(self, path: Path) -> None:
        """Write the private key as PEM, created mode 0600 (refuses to overwrite)."""
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        header = f"# riskseal signing key {self.key_id}\n".encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigError(f"{path} already exists; refusing to overwrite a key") from None
        except OSError as exc:
            raise ConfigError(
                f"cannot create {path}: {exc.strerror}; give a path in an existing folder "
                "you can write to"
            ) from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + pem)

    @classmethod
    def load(cls, path: Path) -> FileSigner:
        """Load a key written by :meth:`save`; ConfigError (never the key) on problems."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read signing key {path}: {exc.strerror}") from None
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"signing key {path} is readable by others; run `chmod 600 {path}`")
        first = data.split(b"\n", 1)[0].decode(errors="replace")
        prefix = "# riskseal signing key "
        if not first.startswith(prefix) or "+" not in first:
            raise ConfigError(f"{path} is not a riskseal signing key (no key id line)")
        name = first[len(prefix) :].split("+", 1)[0]
        try:
            key = serialization.load_pem_private_key(data.split(b"\n", 1)[1], password=None)
        except (ValueError, TypeError):
            raise ConfigError(f"{path} does not hold a readable PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        return cls(name, key)


class PublicKeys:
    """The keys a verifier trusts, by key id."""

    def __init__(self, keys: Iterable[VerifierKey]) -> None:
        self._by_id = {key.key_id: key for key in keys}

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    def keys(self) -> list[VerifierKey]:
        """Every trusted key."""
        return list(self._by_id.values())

    def verify(self, key_id: str, message: bytes, signature: bytes) -> None:
        """SignatureError unless ``key_id`` is trusted and its signature verifies."""
        key = self._by_id.get(key_id)
        if key is None:
            raise SignatureError(f"signed by unknown key {key_id}")
        key.verify(message, signature)
