"""The writer thread: blocks written in hand-over order, lost races and dropped chains reported,
S3 failures retried, unexpected errors handed to the consuming thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from riskseal.block import Block, ChainId, block_key, checkpoint_key
from riskseal.errors import SigningKeyError, StorageUnavailableError
from riskseal.keys import FileSigner, PublicKeys
from riskseal.note import open_checkpoint
from riskseal.sealer.batch import Batch, SealedBatch
from riskseal.sealer.chain import ChainWriter, check_block, recover_head
from riskseal.sealer.checkpoint import chain_origin, checkpoint_time
from riskseal.sealer.metrics import SealerMetrics
from riskseal.sealer.store import MemoryBlockStore
from riskseal.sealer.writer import BlockWriter, CheckpointJob, Outcome, PartitionState, SealJob
from tests.unit.sealer.helpers import CHAIN, ORIGIN, PREFIX, records
from tests.unit.sealer.test_batch import ENCODER, new_batch


class FlakyStore(MemoryBlockStore):
    """Fails the first ``failures`` writes, like S3 during an outage."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def create(self, key: str, data: bytes, *, created_ms: int | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailableError("S3 is down")
        super().create(key, data, created_ms=created_ms)


def batch_of(first: int, count: int) -> SealedBatch:
    pending = records(first, count)
    return SealedBatch(
        [r.data for r in pending], first, first + count - 1, sum(len(r.data) for r in pending),
        sum(r.flagged for r in pending), pending[0].timestamp,
    )  # fmt: skip


def state_for(store: MemoryBlockStore, signer: FileSigner) -> PartitionState:
    head = recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))
    return PartitionState(ChainWriter(head, store, signer, PREFIX, ORIGIN), new_batch())


def collect(writer: BlockWriter, count: int) -> list[Outcome]:
    found: list[Outcome] = []
    while len(found) < count:
        found += writer.outcomes(timeout=5)
    return found


@pytest.fixture
def signer() -> FileSigner:
    return FileSigner.generate("t")


@pytest.fixture
def metrics() -> SealerMetrics:
    return SealerMetrics()


@pytest.fixture
def store() -> MemoryBlockStore:
    return MemoryBlockStore()


@pytest.fixture
def writer(store: MemoryBlockStore, metrics: SealerMetrics) -> Iterator[BlockWriter]:
    writer = BlockWriter(store, metrics, retry_max_s=0.01)
    writer.start()
    yield writer
    writer.close()


def test_blocks_are_written_in_hand_over_order_and_reported(
    writer: BlockWriter, store: MemoryBlockStore, signer: FileSigner, metrics: SealerMetrics
) -> None:
    state = state_for(store, signer)
    for first, count in [(0, 3), (3, 5), (8, 1)]:
        writer.submit(SealJob(state, batch_of(first, count)))
    assert writer.in_flight == 3
    assert [o.written for o in collect(writer, 3)] == [2, 7, 8]
    assert writer.in_flight == 0
    assert (metrics.blocks, metrics.records) == (3, 9)
    head = recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))
    assert (head.next_seq, head.next_offset) == (3, 9)
    writer.submit(CheckpointJob((state,), ORIGIN, PREFIX))
    writer.submit(SealJob(state, batch_of(9, 1)))  # after the checkpoint: FIFO
    collect(writer, 1)
    assert metrics.checkpoints == 1
    [key] = store.keys(f"{PREFIX}/checkpoints/")
    data = store.get(key)
    assert data is not None
    checkpoint = open_checkpoint(data, chain_origin(ORIGIN, CHAIN), [signer.verifier])
    assert checkpoint.size == 3
    assert key == checkpoint_key(PREFIX, CHAIN, checkpoint_time(checkpoint))  # signed time


class FailingCheckpoints(MemoryBlockStore):
    """Stores blocks; every checkpoint PUT fails (it may still have been stored)."""

    def create(self, key: str, data: bytes, *, created_ms: int | None = None) -> None:
        if "/checkpoints/" in key:
            raise StorageUnavailableError("S3 timed out")
        super().create(key, data, created_ms=created_ms)


def _state(
    store: MemoryBlockStore, signer: FileSigner, clock: Iterator[int], **options: Any
) -> PartitionState:
    """A chain of ``store`` whose writer reads its dates from ``clock``."""
    head = recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))
    chain = ChainWriter(
        head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: next(clock), **options
    )
    return PartitionState(chain, new_batch())


@pytest.mark.parametrize("store_class", [MemoryBlockStore, FailingCheckpoints])
def test_a_block_after_a_checkpoint_is_never_dated_before_it_even_if_the_clock_steps_back(
    signer: FileSigner, metrics: SealerMetrics, store_class: type[MemoryBlockStore]
) -> None:
    # A verifier reports a block dated before a checkpoint that leaves it out (FORMAT.md §7);
    # a checkpoint whose PUT failed may still have been stored.
    store = store_class()
    sealed, checkpointed, stepped_back = 1_790_000_000_000, 1_790_000_060_000, 1_789_996_400_000
    state = _state(store, signer, iter([sealed, checkpointed, stepped_back]))
    writer = BlockWriter(store, metrics, retry_max_s=0.01)
    writer.start()
    try:
        writer.submit(SealJob(state, batch_of(0, 2)))
        writer.submit(CheckpointJob((state,), ORIGIN, PREFIX))
        writer.submit(SealJob(state, batch_of(2, 2)))
        collect(writer, 2)
    finally:
        writer.close()
    written = (
        [checkpoint_key(PREFIX, CHAIN, checkpointed)] if store_class is MemoryBlockStore else []
    )
    assert store.keys(f"{PREFIX}/checkpoints/") == written
    data = store.get(block_key(PREFIX, CHAIN, 1))
    assert data is not None
    assert Block.from_bytes(data).header.created_ms == checkpointed


@pytest.mark.parametrize(("redate_after_s", "dated"), [(0, 3), (3600, 0)])
def test_a_block_whose_write_is_retried_long_is_dated_and_signed_again(
    signer: FileSigner, metrics: SealerMetrics, redate_after_s: float, dated: int
) -> None:
    store = FlakyStore(failures=3)
    writer = BlockWriter(store, metrics, retry_max_s=0.01, redate_after_s=redate_after_s)
    writer.start()
    try:
        state = _state(store, signer, iter(range(1_790_000_000_000, 1_790_000_000_010)))
        writer.submit(SealJob(state, batch_of(0, 2)))
        collect(writer, 1)
    finally:
        writer.close()
    data = store.get(block_key(PREFIX, CHAIN, 0))
    assert data is not None
    block = Block.from_bytes(data)
    # Re-dated: built four times, once per failed PUT and once first.
    assert block.header.created_ms == 1_790_000_000_000 + dated
    check_block(block, block.header.object_key, PublicKeys([signer.verifier]), str(CHAIN), 0)


def test_a_block_dated_again_after_its_key_was_retired_is_not_signed(
    signer: FileSigner, metrics: SealerMetrics
) -> None:
    retired = 1_790_000_000_002
    store = FlakyStore(failures=3)
    writer = BlockWriter(store, metrics, retry_max_s=0.01, redate_after_s=0)
    writer.start()
    try:
        clock = iter(range(1_790_000_000_000, 1_790_000_000_010))
        state = _state(store, signer, clock, may_sign=lambda key_id, time_ms: time_ms < retired)
        writer.submit(SealJob(state, batch_of(0, 2)))
        with pytest.raises(SigningKeyError, match="not valid at 1790000000002"):
            collect(writer, 1)
    finally:
        writer.close()
    assert store.keys(f"{PREFIX}/blocks/") == []


def test_a_lost_race_is_reported_and_the_chains_later_blocks_are_dropped(
    writer: BlockWriter, store: MemoryBlockStore, signer: FileSigner, metrics: SealerMetrics
) -> None:
    ours, theirs = state_for(store, signer), state_for(store, signer)
    assert theirs.writer is not None
    theirs.writer.append(theirs.writer.build(records(0, 2)))  # another sealer wins seq 0
    writer.submit(SealJob(ours, batch_of(0, 3)))
    writer.submit(SealJob(ours, batch_of(3, 3)))
    lost, dropped = collect(writer, 2)
    assert lost == Outcome(ours, None, lost_race=True)
    assert dropped == Outcome(ours, None)
    assert not ours.active and metrics.conflicts == 1
    assert store.keys(f"{PREFIX}/blocks/") == [f"{PREFIX}/blocks/{CHAIN}/000000000000"]


def test_blocks_of_a_revoked_partition_are_not_written(
    writer: BlockWriter, store: MemoryBlockStore, signer: FileSigner
) -> None:
    state = state_for(store, signer)
    state.active = False
    writer.submit(SealJob(state, batch_of(0, 3)))
    assert collect(writer, 1) == [Outcome(state, None)]
    assert store.keys("") == []


def test_a_write_is_retried_while_s3_fails(signer: FileSigner, metrics: SealerMetrics) -> None:
    store = FlakyStore(failures=2)
    writer = BlockWriter(store, metrics, retry_max_s=0.01)
    writer.start()
    try:
        state = state_for(store, signer)
        writer.submit(SealJob(state, batch_of(0, 4)))
        assert [o.written for o in collect(writer, 1)] == [3]
    finally:
        writer.close()
    assert metrics.s3_errors == 2
    key = store.keys(f"{PREFIX}/blocks/")[0]
    trusted = PublicKeys([signer.verifier])
    check_block(Block.from_bytes(store.objects[key]), key, trusted, str(CHAIN), 0)
    assert recover_head(store, PREFIX, CHAIN, trusted).next_offset == 4


class HangingStore(MemoryBlockStore):
    """A PUT that does not return (S3 holding the connection) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def create(self, key: str, data: bytes, *, created_ms: int | None = None) -> None:
        self.entered.set()
        self.release.wait(30)
        super().create(key, data, created_ms=created_ms)


def test_an_abandoning_close_does_not_wait_for_a_put_that_hangs(
    signer: FileSigner, metrics: SealerMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("riskseal.sealer.writer.ABANDON_WAIT_S", 0.1)
    store = HangingStore()
    writer = BlockWriter(store, metrics, retry_max_s=0.01)
    writer.start()
    writer.submit(SealJob(state_for(store, signer), batch_of(0, 2)))
    assert store.entered.wait(10)
    started = time.monotonic()
    writer.close(abandon=True)
    assert time.monotonic() - started < 5
    store.release.set()


def test_an_unexpected_error_reaches_the_consuming_thread(
    writer: BlockWriter, store: MemoryBlockStore, signer: FileSigner
) -> None:
    state = state_for(store, signer)
    writer.submit(SealJob(state, batch_of(5, 2)))  # the empty chain may start anywhere...
    collect(writer, 1)
    writer.submit(SealJob(state, batch_of(20, 2)))  # ...but must then continue at 7
    with pytest.raises(ValueError, match="continues at offset 7"):
        writer.outcomes(timeout=5)


def test_each_chain_keeps_its_order_across_writer_threads(
    store: MemoryBlockStore, signer: FileSigner, metrics: SealerMetrics
) -> None:
    chains = [ChainId(CHAIN.cluster_id, CHAIN.topic, partition) for partition in range(5)]
    trusted = PublicKeys([signer.verifier])
    states = []
    for chain in chains:
        head = recover_head(store, PREFIX, chain, trusted)
        batch = Batch(ENCODER, chain.topic, chain.partition, None, 10, 10**6)
        states.append(PartitionState(ChainWriter(head, store, signer, PREFIX, ORIGIN), batch))
    writer = BlockWriter(store, metrics, retry_max_s=0.01, threads=3)
    writer.start()
    try:
        for first in range(0, 40, 4):
            for state, chain in zip(states, chains, strict=True):
                pending = records(first, 4, chain)
                writer.submit(
                    SealJob(
                        state, SealedBatch([r.data for r in pending], first, first + 3, 1, 0, None)
                    )
                )
        writer.submit(CheckpointJob(tuple(states), ORIGIN, PREFIX))
        outcomes = collect(writer, 50)
    finally:
        writer.close()
    for state in states:
        assert [o.written for o in outcomes if o.state is state] == list(range(3, 40, 4))
    for chain in chains:
        head = recover_head(store, PREFIX, chain, trusted)
        assert (head.next_seq, head.next_offset) == (10, 40)
    assert metrics.checkpoints == 5 and metrics.blocks == 50 and metrics.records == 200


def test_a_writer_needs_a_thread(store: MemoryBlockStore, metrics: SealerMetrics) -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        BlockWriter(store, metrics, retry_max_s=0.01, threads=0)


def test_a_key_manifest_that_cannot_be_read_delays_signing_and_loses_nothing(
    signer: FileSigner, metrics: SealerMetrics
) -> None:
    # Too old to sign with and unreadable (ManifestWatch): like S3 down, the block and the
    # checkpoint wait instead of stopping the sealer.
    store = MemoryBlockStore()
    calls: list[int] = []

    def may_sign(key_id: str, time_ms: int) -> bool:
        calls.append(time_ms)
        if len(calls) in {1, 2, 4}:  # the block twice, then the first checkpoint after it
            raise StorageUnavailableError("key manifest too old and not readable")
        return True

    clock = iter(range(1_790_000_000_000, 1_790_000_000_010))
    state = _state(store, signer, clock, may_sign=may_sign)
    writer = BlockWriter(store, metrics, retry_max_s=0.01)
    writer.start()
    try:
        writer.submit(CheckpointJob((state,), ORIGIN, PREFIX))  # no blocks yet: none due
        writer.submit(SealJob(state, batch_of(0, 2)))
        writer.submit(CheckpointJob((state,), ORIGIN, PREFIX))  # not signed: skipped
        writer.submit(CheckpointJob((state,), ORIGIN, PREFIX))
        [outcome] = collect(writer, 1)
    finally:
        writer.close()
    assert outcome.written == 1
    assert store.get(block_key(PREFIX, CHAIN, 0)) is not None
    assert len(store.keys(f"{PREFIX}/checkpoints/")) == 1
    assert metrics.s3_errors == 3
