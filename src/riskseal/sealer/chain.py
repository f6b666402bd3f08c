"""One chain of blocks: finding its head in storage, checking it, and appending to it.

A chain is the sequence of blocks of one (cluster id, topic, partition). The sealer that owns
the partition keeps, per chain, the next sequence number, the hash of the last header, the
next offset it expects, and the compact range of the chain-level Merkle tree. All of this is
recovered from the newest block alone: the head is found with O(log n) existence probes, and
the compact range is stored in the head's metadata and checked against its signed header.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from riskseal.block import (
    CLOCK_SKEW_MS,
    ZERO_HASH,
    Block,
    BlockHeader,
    ChainId,
    block_key,
    records_root,
)
from riskseal.errors import ChainHeadError, DeletedObjectError, IntegrityError, SigningKeyError
from riskseal.keys import PublicKeys, Signer
from riskseal.merkle import CompactRange
from riskseal.merkle import root as merkle_root
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.store import BlockStore

REDATE_AFTER_CHECK_S = 1.0
"""A block whose key check (which may read the key manifest) took this long is dated again:
its date stays within a second of its signature."""

MaySign = Callable[[str, int], bool]
"""Whether a key (by id) may sign at a time in ms (``KeyManifest.may_sign``)."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """What a sealer needs to append the next block."""

    chain: ChainId
    next_seq: int
    next_offset: int | None
    """The offset the next block must start at; None for an empty chain (any start)."""
    prev_header_hash: bytes
    tree: CompactRange
    not_before_ms: int = 0
    """The earliest date the next block may carry: the last block's ``created_ms``, or the
    signed time of a checkpoint written since, which the next block may not predate
    (FORMAT.md §7)."""

    @classmethod
    def empty(cls, chain: ChainId) -> ChainHead:
        """The head of a chain with no blocks yet."""
        return cls(chain, 0, None, ZERO_HASH, CompactRange())


def latest_index(exists: Callable[[int], bool]) -> int | None:
    """The highest ``i`` with ``exists(i)``, for dense indexes 0, 1, 2, … (None if none).

    Probes 0, 1, 3, 7, … until one is missing, then binary-searches the gap: O(log n)
    existence checks, so resuming a long chain costs no more than a short one.
    """
    if not exists(0):
        return None
    present, step = 0, 1
    while exists(present + step):
        present += step
        step *= 2
    missing = present + step
    while missing - present > 1:
        middle = (present + missing) // 2
        if exists(middle):
            present = middle
        else:
            missing = middle
    return present


def find_head_seq(store: BlockStore, prefix: str, chain: ChainId) -> int | None:
    """The highest sequence number stored for ``chain``."""
    return latest_index(lambda seq: store.exists(block_key(prefix, chain, seq)))


def recover_head(
    store: BlockStore,
    prefix: str,
    chain: ChainId,
    keys: PublicKeys,
    may_sign: MaySign | None = None,
    now_ms: int | None = None,
) -> ChainHead:
    """Read and check the newest block of ``chain``; ChainHeadError if it fails a check.

    ``may_sign`` (the key manifest's :meth:`~riskseal.manifest.KeyManifest.may_sign`) also
    refuses a head signed by a key outside its validity (give or take
    :data:`~riskseal.block.CLOCK_SKEW_MS`): whoever holds a retired key must not be able to
    put a block that the sealer then continues. ``now_ms`` refuses a head dated further
    ahead of this clock than that: the next blocks would take its date (never earlier),
    and be locked from it.
    """
    try:
        seq = find_head_seq(store, prefix, chain)
    except DeletedObjectError as exc:  # the search would land below it, and fork the chain
        raise ChainHeadError(
            f"chain {chain}: {exc}; the sealer will not append to it: run `riskseal verify` "
            "and investigate"
        ) from exc
    if seq is None:
        return ChainHead.empty(chain)
    key = block_key(prefix, chain, seq)
    try:
        block = _load(store, key)  # a head that does not parse stops this chain only
        check_block(block, key, keys, expected_chain=str(chain), expected_seq=seq)
        header = block.header
        dated = header.created_ms
        if may_sign is not None and not (
            may_sign(header.key_id, dated) or may_sign(header.key_id, dated - CLOCK_SKEW_MS)
        ):
            raise IntegrityError(f"key {header.key_id} was not valid at {dated}")
        if now_ms is not None and dated > now_ms + CLOCK_SKEW_MS:
            raise IntegrityError(
                f"it is dated {dated}, {(dated - now_ms) / 1000:,.0f} s ahead of this sealer's "
                "clock: one of the clocks is wrong (check NTP on every sealer host), and "
                "continuing would date the next blocks that far ahead"
            )
        tree = CompactRange.from_frontier(seq, block.frontier_before)
        if tree.root() != block.header.chain_root_before:
            raise IntegrityError("stored chain frontier does not match the signed chain root")
        if seq > 0:
            previous = _load(store, block_key(prefix, chain, seq - 1))
            if previous.header.header_hash() != block.header.prev_header_hash:
                raise IntegrityError(f"does not link to block {seq - 1}")
            if previous.header.last_offset + 1 != block.header.first_offset:
                raise IntegrityError(
                    f"starts at offset {block.header.first_offset}, block {seq - 1} ends at "
                    f"{previous.header.last_offset}"
                )
    except IntegrityError as exc:
        raise ChainHeadError(
            f"chain {chain}: head block {key} fails verification ({exc}); the sealer will not "
            "append to it: run `riskseal verify` and investigate"
        ) from exc
    tree.append(block.header.chain_leaf_hash())
    return ChainHead(
        chain=chain,
        next_seq=seq + 1,
        next_offset=block.header.last_offset + 1,
        prev_header_hash=block.header.header_hash(),
        tree=tree,
        not_before_ms=block.header.created_ms,
    )


def check_block(
    block: Block, key: str, keys: PublicKeys, expected_chain: str, expected_seq: int
) -> None:
    """The checks a sealer makes on a head: place, signature, records root, offsets."""
    header = block.header
    if header.object_key != key:
        raise IntegrityError(f"header says it belongs at {header.object_key}, found at {key}")
    if header.chain_id != expected_chain or header.seq != expected_seq:
        raise IntegrityError(f"header is {header.chain_id} seq {header.seq}")
    keys.verify(header.key_id, header.signing_payload(), block.signature)
    if merkle_root(block.leaf_hashes()) != header.records_root:
        raise IntegrityError("records do not match the signed Merkle root")
    offsets = block.offsets()
    chain = ChainId.parse(expected_chain)
    if (
        len(offsets) != header.record_count
        or not offsets
        or offsets != range(header.first_offset, header.last_offset + 1)
        or block.record_partitions().keys() != {(chain.topic, chain.partition)}
    ):
        raise IntegrityError("records do not cover the header's offset range")


def _load(store: BlockStore, key: str) -> Block:
    data = store.get(key)
    if data is None:
        raise ChainHeadError(f"block {key} disappeared while reading the chain head")
    return Block.from_bytes(data)


class ChainWriter:
    """Appends blocks to one chain, starting from a recovered head."""

    def __init__(
        self,
        head: ChainHead,
        store: BlockStore,
        signer: Signer,
        prefix: str,
        origin: str,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        may_sign: MaySign | None = None,
    ) -> None:
        self.head = head
        self.store = store
        self.signer = signer
        self.prefix = prefix
        self.origin = origin
        self.clock_ms = clock_ms
        self.may_sign = may_sign
        """Whether the key manifest lets a key sign at a time (None: any time)."""

    def check_key(self, time_ms: int) -> None:
        """SigningKeyError unless the key manifest lets the sealer's key sign at ``time_ms``:
        a block or checkpoint signed by a retired key is a permanent finding.
        StorageUnavailableError when the manifest is too old to tell and cannot be read."""
        key_id = self.signer.key_id
        if self.may_sign is not None and not self.may_sign(key_id, time_ms):
            raise SigningKeyError(
                f"signing key {key_id} is not valid at {time_ms} in the key manifest (retired "
                "by `riskseal keys rotate`?), so nothing more is signed with it: start the "
                "sealer with the key that took over (RISKSEAL_SIGNING_KEY_FILE)"
            )

    def build(self, records: Sequence[PendingRecord]) -> Block:
        """The signed next block for ``records`` (offset order, contiguous with the head)."""
        if not records:
            raise ValueError("a block needs at least one record")
        return self.build_from(
            [record.data for record in records], records[0].offset, records[-1].offset
        )

    def build_from(
        self, record_bytes: Sequence[bytes], first_offset: int, last_offset: int
    ) -> Block:
        """The signed next block for records given by their canonical bytes, in offset order,
        from ``first_offset`` (where the head continues) to ``last_offset``."""
        head = self.head
        if not record_bytes:
            raise ValueError("a block needs at least one record")
        if head.next_offset is not None and first_offset != head.next_offset:
            raise ValueError(
                f"chain {head.chain} continues at offset {head.next_offset}, "
                f"records start at {first_offset}"
            )
        key = block_key(self.prefix, head.chain, head.next_seq)
        # Never earlier than the block or checkpoint before: another sealer's clock may be
        # behind, and this one may have been set back.
        created_ms = max(self.clock_ms(), head.not_before_ms)
        checking = time.monotonic()
        self.check_key(created_ms)
        if time.monotonic() - checking >= REDATE_AFTER_CHECK_S:  # a manifest read took long
            created_ms = max(self.clock_ms(), head.not_before_ms)
            self.check_key(created_ms)
        header = BlockHeader(
            origin=self.origin,
            chain_id=str(head.chain),
            seq=head.next_seq,
            first_offset=first_offset,
            last_offset=last_offset,
            record_count=len(record_bytes),
            records_root=records_root(record_bytes),
            prev_header_hash=head.prev_header_hash,
            chain_size_before=head.tree.size,
            chain_root_before=head.tree.root(),
            created_ms=created_ms,
            object_key=key,
            key_id=self.signer.key_id,
        )
        signature = self.signer.sign(header.signing_payload())
        return Block(header, signature, tuple(record_bytes), tuple(head.tree.frontier()))

    def append(self, block: Block) -> None:
        """Write ``block`` (BlockExistsError if another sealer took its seq), then advance."""
        self.store.create(
            block.header.object_key, block.to_bytes(), created_ms=block.header.created_ms
        )
        tree = self.head.tree.copy()
        tree.append(block.header.chain_leaf_hash())
        self.head = ChainHead(
            chain=self.head.chain,
            next_seq=block.header.seq + 1,
            next_offset=block.header.last_offset + 1,
            prev_header_hash=block.header.header_hash(),
            tree=tree,
            not_before_ms=block.header.created_ms,
        )

    def checkpointed(self, time_ms: int) -> None:
        """A checkpoint of the head, signed at ``time_ms``, was written: the blocks it leaves
        out must not be dated before it (FORMAT.md §7), whatever this clock says next."""
        if time_ms > self.head.not_before_ms:
            self.head = dataclasses.replace(self.head, not_before_ms=time_ms)
