"""Building records and chains in memory for the sealer's unit tests."""

from __future__ import annotations

from riskseal.block import ChainId, SealedRecord
from riskseal.keys import FileSigner, PublicKeys
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.chain import ChainWriter, recover_head
from riskseal.sealer.store import MemoryBlockStore

CHAIN = ChainId("cluster-1", "access.requests", 2)
PREFIX = "audit"
ORIGIN = "riskseal.test/audit"


def sealed_records(first: int, count: int, chain: ChainId = CHAIN) -> list[SealedRecord]:
    """``count`` records of ``chain`` from offset ``first``."""
    return [
        SealedRecord(
            topic=chain.topic,
            partition=chain.partition,
            offset=offset,
            timestamp=1_790_000_000_000 + offset,
            timestamp_type=1,
            key=f"user-{offset % 3}".encode(),
            value=bytes([offset % 256]) * (offset % 7),
            headers=(("riskseal-truth", b"normal"),) if offset % 2 else (),
            flag=None if offset % 5 else "not a riskseal event",
        )
        for offset in range(first, first + count)
    ]


def records(first: int, count: int, chain: ChainId = CHAIN) -> list[PendingRecord]:
    """The same records as the sealer batches them."""
    return [
        PendingRecord(r.offset, r.timestamp, r.canonical_bytes(), r.flag is not None)
        for r in sealed_records(first, count, chain)
    ]


def chain_of(
    store: MemoryBlockStore, signer: FileSigner, sizes: list[int], chain: ChainId = CHAIN
) -> ChainWriter:
    """Append blocks of the given sizes to ``chain`` in ``store``; return the writer."""
    head = recover_head(store, PREFIX, chain, PublicKeys([signer.verifier]))
    writer = ChainWriter(head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: 1_790_000_000_000)
    offset = head.next_offset or 0
    for size in sizes:
        writer.append(writer.build(records(offset, size, chain)))
        offset += size
    return writer
