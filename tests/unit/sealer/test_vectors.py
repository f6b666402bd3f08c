"""Known-answer vectors for the block format, kept in docs/vectors/blocks/.

Everything is deterministic (Ed25519 signatures, deflate, the sync marker derived from the
header), so regenerating gives the same bytes; this test fails when the format changes
without the vectors (and docs/FORMAT.md) changing with it. Regenerate deliberately with
``RISKSEAL_REGENERATE_VECTORS=1 pytest tests/unit/sealer/test_vectors.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from riskseal.block import Block, ChainId, SealedRecord, block_key
from riskseal.keys import FileSigner, PublicKeys
from riskseal.merkle import leaf_hash
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.chain import ChainWriter, recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from riskseal.sealer.store import MemoryBlockStore

VECTORS = Path(__file__).resolve().parents[3] / "docs" / "vectors" / "blocks"
CHAIN = ChainId("vector-cluster", "access.requests", 0)
PREFIX, ORIGIN = "riskseal", "riskseal.example/vectors"
SEED = hashlib.sha256(b"riskseal block format test vector key (never use)").digest()


def _signer() -> FileSigner:
    return FileSigner("riskseal-vectors", Ed25519PrivateKey.from_private_bytes(SEED))


def _records(first: int, count: int) -> list[SealedRecord]:
    return [
        SealedRecord(
            topic=CHAIN.topic, partition=CHAIN.partition, offset=offset,
            timestamp=1_790_000_000_000 + offset, timestamp_type=1,
            key=f"user-{offset}".encode(), value=b"\xc3\x01not-really-an-event-" + bytes([offset]),
            headers=(("riskseal-truth", b"normal"),), flag="unknown schema fingerprint",
        )
        for offset in range(first, first + count)
    ]  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _generate() -> dict[str, bytes]:
    signer, store = _signer(), MemoryBlockStore()
    head = recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))
    writer = ChainWriter(head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: 1_790_000_100_000)
    files: dict[str, bytes] = {}
    described: list[dict[str, Any]] = []
    for seq, (first, count) in enumerate([(0, 3), (3, 2)]):
        records = _records(first, count)
        pending = [PendingRecord(r.offset, r.timestamp, r.canonical_bytes(), True) for r in records]
        block = writer.build(pending)
        writer.append(block)
        data = block.to_bytes()
        files[f"block-{seq}.avro"] = data
        described.append({
            "object_key": block_key(PREFIX, CHAIN, seq),
            "object_sha256": hashlib.sha256(data).hexdigest(),
            "record_bytes_hex": [r.hex() for r in block.record_bytes],
            "leaf_hashes_hex": [leaf_hash(r).hex() for r in block.record_bytes],
            "records_root_hex": block.header.records_root.hex(),
            "header_bytes_hex": block.header.canonical_bytes().hex(),
            "header_hash_hex": block.header.header_hash().hex(),
            "chain_leaf_hex": block.header.chain_leaf_hash().hex(),
            "chain_root_before_hex": block.header.chain_root_before.hex(),
            "signature_b64": _b64(block.signature),
        })  # fmt: skip
    checkpoint = signed_checkpoint(
        ORIGIN, CHAIN, writer.head.tree.size, writer.head.tree.root(), signer,
        time_ms=1_790_000_160_000,
    )  # fmt: skip
    files["checkpoint.txt"] = checkpoint
    summary = {
        "description": "Two linked blocks of one chain and its checkpoint; see docs/FORMAT.md.",
        "test_only_ed25519_seed_hex": SEED.hex(),
        "vkey": signer.verifier.vkey(),
        "key_id": signer.key_id,
        "chain_id": str(CHAIN),
        "origin": ORIGIN,
        "blocks": described,
        "chain_root_hex": writer.head.tree.root().hex(),
    }
    files["vectors.json"] = (json.dumps(summary, indent=2) + "\n").encode()
    return files


def test_block_vectors_match_the_format() -> None:
    generated = _generate()
    if os.environ.get("RISKSEAL_REGENERATE_VECTORS") == "1":
        VECTORS.mkdir(parents=True, exist_ok=True)
        for name, data in generated.items():
            (VECTORS / name).write_bytes(data)
    for name, data in generated.items():
        assert (VECTORS / name).read_bytes() == data, f"docs/vectors/blocks/{name} is stale"


def test_vector_blocks_parse_and_link() -> None:
    first = Block.from_bytes((VECTORS / "block-0.avro").read_bytes())
    second = Block.from_bytes((VECTORS / "block-1.avro").read_bytes())
    assert second.header.prev_header_hash == first.header.header_hash()
    assert [r.offset for r in second.records()] == [3, 4]
