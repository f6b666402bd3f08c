"""Proof bundles: one sealed record, proved offline against a signed checkpoint.

A bundle is a JSON document holding everything needed, so ``verify-proof`` needs nothing but
the trusted public keys, and the key manifest to know when each key was valid (no bucket,
no network):

* the record's canonical bytes, its index in its block and the block's record count, and its
  RFC 6962 inclusion path to the block's ``records_root``;
* the signed block header (header bytes and Ed25519 signature);
* the block's inclusion path in the chain-level tree, and the C2SP signed checkpoint of that
  tree it leads to, written as ``chain_proof`` in the style of C2SP tlog-proof
  (``index``, the hashes, a blank line, the signed checkpoint).

Parsing is strict: every field must be exactly what ``to_json`` writes (JSON integers in
range, canonical base64, a plain decimal index, no missing, unknown or repeated keys), and
every field is either checked against what it claims (the record's coordinates against its
bytes, the index against the block's offsets) or is itself what the checks hash. Verification
is pure; each failed check raises a ProofBundleError naming it (docs/PROOFS.md §7).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from riskseal.block import (
    FORMAT_VERSION,
    HASH_SIZE,
    LONG_MAX,
    BlockHeader,
    ChainId,
    SealedRecord,
)
from riskseal.errors import IntegrityError
from riskseal.keys import SignatureError, VerifierKey
from riskseal.manifest import KeyManifest
from riskseal.merkle import ProofError, leaf_hash, verify_inclusion
from riskseal.note import Checkpoint, NoteError, SignedNote
from riskseal.sealer.checkpoint import chain_origin, checkpoint_time

BUNDLE_FORMAT = "riskseal-proof-v1"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
SIGNATURE_SIZE = 64

_KEYS = {
    "format", "record", "record_index", "record_count", "record_path", "block_header_b64",
    "block_signature_b64", "chain_proof",
}  # fmt: skip
_RECORD_KEYS = {"topic", "partition", "offset", "canonical_b64"}
_INDEX = re.compile(r"index (0|[1-9][0-9]{0,18})")
"""At most 19 digits: LONG_MAX has 19, and int() refuses strings of over 4,300."""


class ProofBundleError(IntegrityError):
    """A proof bundle is malformed or does not prove its record."""


@dataclass(frozen=True, slots=True)
class ProofBundle:
    """Everything needed to prove one record offline."""

    record_bytes: bytes
    record_index: int
    record_count: int
    record_path: tuple[bytes, ...]
    header_bytes: bytes
    signature: bytes
    block_index: int
    chain_path: tuple[bytes, ...]
    checkpoint_note: bytes

    def chain_proof_text(self) -> str:
        """The chain-level part, tlog-proof style: index, hashes, blank line, checkpoint."""
        hashes = "".join(base64.b64encode(h).decode() + "\n" for h in self.chain_path)
        return (
            f"{PROOF_HEADER}\nindex {self.block_index}\n{hashes}\n" + self.checkpoint_note.decode()
        )

    def to_json(self) -> str:
        """The bundle as a JSON document (what ``riskseal prove`` writes)."""
        record = SealedRecord.from_canonical(self.record_bytes)
        document = {
            "format": BUNDLE_FORMAT,
            "record": {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "canonical_b64": _b64(self.record_bytes),
            },
            "record_index": self.record_index,
            "record_count": self.record_count,
            "record_path": [_b64(h) for h in self.record_path],
            "block_header_b64": _b64(self.header_bytes),
            "block_signature_b64": _b64(self.signature),
            "chain_proof": self.chain_proof_text(),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> ProofBundle:
        """Parse a bundle strictly; ProofBundleError naming the field on any malformation.

        The record's ``topic``, ``partition`` and ``offset`` must be those of its bytes.
        """
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            document = json.loads(
                text, object_pairs_hook=_no_repeated_keys, parse_constant=_no_constant
            )
        except (ValueError, RecursionError) as exc:
            raise ProofBundleError(f"malformed proof bundle: not a JSON document: {exc}") from None
        _check_keys(document, _KEYS, "the bundle")
        if document["format"] != BUNDLE_FORMAT:
            raise _malformed("format", f"is {document['format']!r}, not {BUNDLE_FORMAT!r}")
        claimed = document["record"]
        _check_keys(claimed, _RECORD_KEYS, "record")
        record_bytes = _unb64(claimed["canonical_b64"], "record.canonical_b64")
        try:
            record = SealedRecord.from_canonical(record_bytes)
        except IntegrityError as exc:
            raise _malformed(
                "record.canonical_b64", f"does not decode as a record: {exc}"
            ) from None
        for name, actual in (
            ("topic", record.topic), ("partition", record.partition), ("offset", record.offset),
        ):  # fmt: skip
            value = claimed[name]
            if type(value) is not type(actual) or value != actual:
                raise _malformed(
                    f"record.{name}", f"is {value!r}, but the record proven has {actual!r}"
                )
        record_count = _integer(document["record_count"], "record_count", minimum=1)
        record_index = _integer(document["record_index"], "record_index")
        if record_index >= record_count:
            raise _malformed("record_index", f"{record_index} is not below record_count")
        paths = document["record_path"]
        if not isinstance(paths, list):
            raise _malformed("record_path", "is not a list")
        record_path = tuple(
            _unb64(h, f"record_path[{i}]", size=HASH_SIZE) for i, h in enumerate(paths)
        )
        index, chain_path, note = _parse_chain_proof(document["chain_proof"])
        return cls(
            record_bytes=record_bytes,
            record_index=record_index,
            record_count=record_count,
            record_path=record_path,
            header_bytes=_unb64(document["block_header_b64"], "block_header_b64"),
            signature=_unb64(
                document["block_signature_b64"], "block_signature_b64", size=SIGNATURE_SIZE
            ),
            block_index=index,
            chain_path=chain_path,
            checkpoint_note=note,
        )


@dataclass(frozen=True, slots=True)
class ProvedRecord:
    """What a verified bundle proves."""

    record: SealedRecord
    header: BlockHeader
    checkpoint: Checkpoint
    signer: str
    checkpoint_time_ms: int
    """When the checkpoint was signed (its signed ``time`` line), ms since the epoch."""


def verify_bundle(
    bundle: ProofBundle, trusted: Sequence[VerifierKey], manifest: KeyManifest | None = None
) -> ProvedRecord:
    """Check every link from the record to a checkpoint signed by a trusted key.

    With the key ``manifest`` (followed from the trust anchors, see
    :func:`~riskseal.audit.manifest_checks.follow_versions`) its keys are the trusted ones,
    and each must also have been valid when it signed: the block at its ``created_ms``,
    the checkpoint at its signed time. A key retired before then proves nothing.
    """
    if manifest is not None:
        trusted = manifest.public_keys().keys()
    try:
        header = BlockHeader.from_bytes(bundle.header_bytes)
        chain = ChainId.parse(header.chain_id)
    except IntegrityError as exc:
        raise ProofBundleError(f"block header: {exc}") from None
    if header.format_version != FORMAT_VERSION:
        raise ProofBundleError(f"block header: unsupported format {header.format_version}")
    if header.record_count != header.last_offset - header.first_offset + 1:
        raise ProofBundleError("block header: record_count does not match its offsets")
    key = next((k for k in trusted if k.key_id == header.key_id), None)
    if key is None:
        raise ProofBundleError(f"block is signed by {header.key_id}, which is not trusted")
    try:
        key.verify(header.signing_payload(), bundle.signature)
    except SignatureError as exc:
        raise ProofBundleError(f"block header signature: {exc}") from None
    if manifest is not None and not manifest.may_sign(key.key_id, header.created_ms):
        raise ProofBundleError(
            f"block is signed by {key.key_id}, which key manifest version {manifest.version} "
            f"does not let sign at its date {header.created_ms}: a key retired before then "
            "(or not yet valid) proves nothing"
        )
    try:
        record = SealedRecord.from_canonical(bundle.record_bytes)
    except IntegrityError as exc:
        raise ProofBundleError(f"record bytes do not decode: {exc}") from None
    if bundle.record_count != header.record_count:
        raise ProofBundleError("record count differs from the signed header")
    try:
        verify_inclusion(
            leaf_hash(bundle.record_bytes), bundle.record_index, bundle.record_count,
            bundle.record_path, header.records_root,
        )  # fmt: skip
    except ProofError as exc:
        raise ProofBundleError(f"record is not in the block: {exc}") from None
    if (record.topic, record.partition) != (chain.topic, chain.partition) or not (
        header.first_offset <= record.offset <= header.last_offset
    ):
        raise ProofBundleError("record's topic, partition or offset do not fit the block")
    if record.offset != header.first_offset + bundle.record_index:
        raise ProofBundleError(
            f"record_index {bundle.record_index} is not the place of offset {record.offset} "
            f"in a block starting at offset {header.first_offset}"
        )
    try:
        note = SignedNote.parse(bundle.checkpoint_note)
        signers = note.verify(trusted)
        checkpoint = Checkpoint.parse(note.text)
        signed_at = checkpoint_time(checkpoint)
    except (NoteError, IntegrityError) as exc:
        raise ProofBundleError(f"checkpoint: {exc}") from None
    if manifest is not None and not any(manifest.may_sign(k.key_id, signed_at) for k in signers):
        names = ", ".join(k.key_id for k in signers)
        raise ProofBundleError(
            f"checkpoint is signed by {names}, which key manifest version {manifest.version} "
            f"does not let sign at its signed time {signed_at}"
        )
    if checkpoint.origin != chain_origin(header.origin, chain):
        raise ProofBundleError(f"checkpoint is of {checkpoint.origin}, not of this chain")
    if bundle.block_index != header.seq:
        raise ProofBundleError("chain proof index differs from the block's seq")
    try:
        verify_inclusion(
            header.chain_leaf_hash(), header.seq, checkpoint.size, bundle.chain_path,
            checkpoint.root_hash,
        )  # fmt: skip
    except ProofError as exc:
        raise ProofBundleError(f"block is not in the checkpointed chain: {exc}") from None
    return ProvedRecord(record, header, checkpoint, key.key_id, signed_at)


def _parse_chain_proof(text: Any) -> tuple[int, tuple[bytes, ...], bytes]:
    """``c2sp.org/tlog-proof@v1``, ``index N``, one base64 hash a line, a blank line, the
    signed checkpoint: exactly what ``chain_proof_text`` writes."""
    if not isinstance(text, str):
        raise _malformed("chain_proof", f"is {_json_type(text)}, not a string")
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or len(lines) < 2 or lines[0] != PROOF_HEADER:
        raise _malformed("chain_proof", f"is not {PROOF_HEADER!r}, index, hashes, blank line, note")
    found = _INDEX.fullmatch(lines[1])
    if found is None or int(found[1]) > LONG_MAX:
        raise _malformed("chain_proof", f"index line {lines[1]!r} is not 'index' and a decimal")
    hashes = tuple(
        _unb64(line, f"chain_proof hash {i}", size=HASH_SIZE) for i, line in enumerate(lines[2:])
    )
    try:
        note_bytes = note.encode("utf-8")
    except UnicodeEncodeError:
        raise _malformed("chain_proof", "checkpoint is not valid Unicode") from None
    return int(found[1]), hashes, note_bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any, field: str, *, size: int | None = None) -> bytes:
    """Canonical padded base64 (RFC 4648 §4): exactly what encoding its bytes gives back."""
    if not isinstance(text, str):
        raise _malformed(field, f"is {_json_type(text)}, not a base64 string")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(field, f"is not base64: {exc}") from None
    if _b64(data) != text:
        raise _malformed(field, "is not canonical base64 (padding or unused bits)")
    if size is not None and len(data) != size:
        raise _malformed(field, f"is {len(data)} bytes, not {size}")
    return data


def _integer(value: Any, field: str, *, minimum: int = 0) -> int:
    """A JSON integer (not a boolean, float or string) from ``minimum`` to LONG_MAX."""
    if type(value) is not int:
        raise _malformed(field, f"is {_json_type(value)}, not an integer")
    if not minimum <= value <= LONG_MAX:
        raise _malformed(field, f"{value} is out of range ({minimum} to {LONG_MAX})")
    return value


def _check_keys(document: Any, expected: set[str], where: str) -> None:
    if not isinstance(document, dict):
        raise _malformed(where, f"is {_json_type(document)}, not a JSON object")
    missing, unknown = expected - document.keys(), document.keys() - expected
    if missing:
        raise _malformed(where, f"lacks {', '.join(sorted(missing))}")
    if unknown:
        raise _malformed(where, f"has unknown field(s) {', '.join(sorted(unknown))}")


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        repeated = sorted(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
        raise ValueError(f"repeated key(s) {', '.join(repeated)}")
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: Any) -> str:
    """What a JSON value is, with its article: ``a string``, ``an integer``, ``null`` …"""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if value is None:
        return "null"
    return names.get(type(value), "a list" if isinstance(value, list) else "an object")


def _malformed(field: str, reason: str) -> ProofBundleError:
    return ProofBundleError(f"malformed proof bundle: {field} {reason}")
