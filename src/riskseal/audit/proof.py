"""Proof bundles: one sealed record, proved offline against a signed checkpoint.

A bundle is a JSON document holding everything needed, so ``verify-proof`` needs nothing but
the trusted public keys (no bucket, no network):

* the record's canonical bytes, its index in its block and the block's record count, and its
  RFC 6962 inclusion path to the block's ``records_root``;
* the signed block header (header bytes and Ed25519 signature);
* the block's inclusion path in the chain-level tree, and the C2SP signed checkpoint of that
  tree it leads to, written as ``chain_proof`` in the style of C2SP tlog-proof
  (``index``, the hashes, a blank line, the signed checkpoint).

Verification is pure; each failed check raises a ProofBundleError naming it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from riskseal.block import BlockHeader, ChainId, SealedRecord
from riskseal.errors import IntegrityError
from riskseal.keys import SignatureError, VerifierKey
from riskseal.merkle import ProofError, leaf_hash, verify_inclusion
from riskseal.note import Checkpoint, NoteError, SignedNote
from riskseal.sealer.checkpoint import chain_origin

BUNDLE_FORMAT = "riskseal-proof-v1"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"


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
    def from_json(cls, text: str) -> ProofBundle:
        """Parse a bundle; ProofBundleError on any malformation."""
        try:
            document = json.loads(text)
            if document.get("format") != BUNDLE_FORMAT:
                raise ProofBundleError(f"not a {BUNDLE_FORMAT} bundle")
            index, chain_path, note = _parse_chain_proof(document["chain_proof"])
            return cls(
                record_bytes=_unb64(document["record"]["canonical_b64"]),
                record_index=int(document["record_index"]),
                record_count=int(document["record_count"]),
                record_path=tuple(_unb64(h) for h in document["record_path"]),
                header_bytes=_unb64(document["block_header_b64"]),
                signature=_unb64(document["block_signature_b64"]),
                block_index=index,
                chain_path=chain_path,
                checkpoint_note=note,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ProofBundleError(f"malformed proof bundle: {exc}") from None


@dataclass(frozen=True, slots=True)
class ProvedRecord:
    """What a verified bundle proves."""

    record: SealedRecord
    header: BlockHeader
    checkpoint: Checkpoint
    signer: str


def verify_bundle(bundle: ProofBundle, trusted: Sequence[VerifierKey]) -> ProvedRecord:
    """Check every link from the record to a checkpoint signed by a trusted key."""
    try:
        header = BlockHeader.from_bytes(bundle.header_bytes)
    except IntegrityError as exc:
        raise ProofBundleError(f"block header: {exc}") from None
    key = next((k for k in trusted if k.key_id == header.key_id), None)
    if key is None:
        raise ProofBundleError(f"block is signed by {header.key_id}, which is not trusted")
    try:
        key.verify(header.signing_payload(), bundle.signature)
    except SignatureError as exc:
        raise ProofBundleError(f"block header signature: {exc}") from None
    try:
        record = SealedRecord.from_canonical(bundle.record_bytes)
    except Exception as exc:  # any decoding failure of foreign bytes
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
    chain = ChainId.parse(header.chain_id)
    if (record.topic, record.partition) != (chain.topic, chain.partition) or not (
        header.first_offset <= record.offset <= header.last_offset
    ):
        raise ProofBundleError("record's topic, partition or offset do not fit the block")
    try:
        note = SignedNote.parse(bundle.checkpoint_note)
        note.verify(trusted)
        checkpoint = Checkpoint.parse(note.text)
    except (NoteError, IntegrityError) as exc:
        raise ProofBundleError(f"checkpoint: {exc}") from None
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
    return ProvedRecord(record, header, checkpoint, key.key_id)


def _parse_chain_proof(text: str) -> tuple[int, tuple[bytes, ...], bytes]:
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or lines[0] != PROOF_HEADER or not lines[1].startswith("index "):
        raise ValueError("chain_proof is not a tlog-proof style block")
    return int(lines[1][6:]), tuple(_unb64(line) for line in lines[2:]), note.encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from None
