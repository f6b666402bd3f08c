"""The sealing invariant, checked from the bucket: every record exactly once, contiguous
chains from offset 0, every block locked COMPLIANCE, checkpoints at every chain head."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from riskseal.block import Block, ChainId, block_key
from riskseal.keys import PublicKeys
from riskseal.merkle import CompactRange
from riskseal.note import Checkpoint, SignedNote
from riskseal.sealer.chain import check_block, find_head_seq
from riskseal.sealer.checkpoint import chain_origin
from riskseal.sealer.store import S3BlockStore
from riskseal.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ChainReport:
    """What one chain holds."""

    blocks: int
    records: int
    offsets: list[int]


def check_chain(
    store: S3BlockStore, reader: S3Client, settings: Settings, chain: ChainId, keys: PublicKeys
) -> ChainReport:
    """Assert the invariant for one chain; return what it holds."""
    head = find_head_seq(store, settings.s3_prefix, chain)
    if head is None:
        return ChainReport(0, 0, [])
    offsets: list[int] = []
    tree = CompactRange()
    previous = None
    min_retain = (
        datetime.now(UTC) + timedelta(days=settings.object_lock_retention_days) - timedelta(hours=1)
    )
    for seq in range(head + 1):
        key = block_key(settings.s3_prefix, chain, seq)
        data = store.get(key)
        assert data is not None, f"{key} missing"
        block = Block.from_bytes(data)
        check_block(block, key, keys, str(chain), seq)
        assert block.header.chain_root_before == tree.root()
        if previous is None:
            assert block.header.first_offset == 0, f"{chain} does not start at offset 0"
        else:
            assert block.header.prev_header_hash == previous.header.header_hash()
            assert block.header.first_offset == previous.header.last_offset + 1
        assert all(
            r.topic == chain.topic and r.partition == chain.partition for r in block.records()
        )
        offsets.extend(r.offset for r in block.records())
        tree.append(block.header.chain_leaf_hash())
        lock = reader.head_object(Bucket=settings.s3_bucket, Key=key)
        assert lock["ObjectLockMode"] == "COMPLIANCE", key
        assert lock["ObjectLockRetainUntilDate"] >= min_retain, key
        versions = reader.list_object_versions(Bucket=settings.s3_bucket, Prefix=key)
        assert len(versions.get("Versions", [])) == 1, f"{key} has more than one version"
        assert not versions.get("DeleteMarkers"), f"{key} has a delete marker"
        previous = block
    assert offsets == list(range(len(offsets))), f"{chain}: offsets not exactly 0..n-1"
    _check_latest_checkpoint(reader, settings, chain, keys, head + 1, tree.root())
    return ChainReport(head + 1, len(offsets), offsets)


def _check_latest_checkpoint(
    reader: S3Client, settings: Settings, chain: ChainId, keys: PublicKeys, size: int, root: bytes
) -> None:
    prefix = f"{settings.s3_prefix}/checkpoints/{chain}/"
    listing = reader.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix)
    names = sorted(item["Key"] for item in listing.get("Contents", []))
    assert names, f"no checkpoint for {chain}"
    data = reader.get_object(Bucket=settings.s3_bucket, Key=names[-1])["Body"].read()
    note = SignedNote.parse(data)
    note.verify(keys.keys())
    checkpoint = Checkpoint.parse(note.text)
    assert checkpoint.origin == chain_origin(settings.log_origin, chain)
    assert (checkpoint.size, checkpoint.root_hash) == (size, root), f"{chain}: stale checkpoint"
