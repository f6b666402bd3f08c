"""Walking a chain from its first block to its head, checking every link on the way.

This is the core of verification: each block is parsed, placed, signature-checked, its
records re-hashed, and linked to its predecessor by header hash, offsets and the chain-level
Merkle root. The first failure raises an IntegrityError naming the block and the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from riskseal.block import ZERO_HASH, Block, ChainId, block_key
from riskseal.errors import IntegrityError, InvalidBlockError
from riskseal.keys import PublicKeys
from riskseal.merkle import CompactRange
from riskseal.sealer.chain import check_block
from riskseal.sealer.store import BlockStore


@dataclass(frozen=True, slots=True)
class ChainSummary:
    """What a verified chain holds."""

    chain: ChainId
    blocks: int
    records: int
    first_offset: int | None
    last_offset: int | None
    root: bytes
    """The chain-level Merkle root over every block."""


def walk_blocks(
    store: BlockStore, prefix: str, chain: ChainId, keys: PublicKeys
) -> Iterator[Block]:
    """Yield every block of ``chain`` in order, each checked against the one before.

    The blocks are found by listing, not by probing, so a missing block in the middle is a
    gap, and a key that is not a block number is reported.
    """
    folder = block_key(prefix, chain, 0).rsplit("/", 1)[0] + "/"
    seqs = []
    for key in store.keys(folder):
        name = key[len(folder) :]
        if not (name.isdigit() and key == block_key(prefix, chain, int(name))):
            raise IntegrityError(f"{key} is not a block of chain {chain}")
        seqs.append(int(name))
    if not seqs:
        return
    head = max(seqs)
    tree = CompactRange()
    previous: Block | None = None
    for seq in range(head + 1):
        key = block_key(prefix, chain, seq)
        data = store.get(key)
        if data is None:
            raise IntegrityError(f"block {key} is missing (the chain has a gap at seq {seq})")
        try:
            block = Block.from_bytes(data)
            check_block(block, key, keys, expected_chain=str(chain), expected_seq=seq)
            _check_link(block, previous, tree)
        except IntegrityError as exc:
            raise type(exc)(f"block {key}: {exc}") from exc
        tree.append(block.header.chain_leaf_hash())
        previous = block
        yield block


def _check_link(block: Block, previous: Block | None, tree: CompactRange) -> None:
    header = block.header
    if header.chain_size_before != tree.size or header.chain_root_before != tree.root():
        raise InvalidBlockError("chain root before this block does not match the chain")
    if previous is None:
        if header.prev_header_hash != ZERO_HASH:
            raise IntegrityError("first block links to a predecessor")
        return
    if header.prev_header_hash != previous.header.header_hash():
        raise IntegrityError(f"does not link to block {previous.header.seq}")
    if header.first_offset != previous.header.last_offset + 1:
        raise IntegrityError(
            f"starts at offset {header.first_offset}, but block {previous.header.seq} ends at "
            f"{previous.header.last_offset} (offset gap or overlap)"
        )


def verify_chain(store: BlockStore, prefix: str, chain: ChainId, keys: PublicKeys) -> ChainSummary:
    """Walk the whole chain; return what it holds, or raise at the first failed check."""
    blocks = records = 0
    first = last = None
    tree = CompactRange()
    for block in walk_blocks(store, prefix, chain, keys):
        blocks += 1
        records += len(block.record_bytes)
        first = block.header.first_offset if first is None else first
        last = block.header.last_offset
        tree.append(block.header.chain_leaf_hash())
    return ChainSummary(chain, blocks, records, first, last, tree.root())
