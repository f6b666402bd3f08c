"""The sealer's writer threads: build, sign and write blocks while the consumer keeps reading.

The consuming thread hands over each full batch as a :class:`SealJob` and goes on reading;
a writer thread builds the block (Merkle root, header, signature), PUTs it once with
``If-None-Match: *`` and reports an :class:`Outcome` back. The consuming thread alone stores
offsets, re-reads chain heads and seeks, when it collects the outcomes — so offsets are
still stored only after the PUT succeeded, and a chain still has one writer: each chain
belongs to one writer thread, which runs its jobs one at a time in the order they were
handed over, so its blocks are built and written in offset order.

A job whose chain is no longer ``active`` (the partition was revoked, or another sealer took
a sequence number of this chain) is dropped unwritten. While S3 fails the job is retried
with backoff and jitter; the consuming thread bounds what waits here (``in_flight``) by
waiting for the writer, then pausing consumption.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from riskseal.block import checkpoint_key
from riskseal.errors import BlockExistsError, StorageUnavailableError
from riskseal.sealer.batch import Batch, SealedBatch
from riskseal.sealer.checkpoint import signed_checkpoint
from riskseal.sealer.metrics import SealerMetrics

if TYPE_CHECKING:
    from riskseal.sealer.chain import ChainWriter
    from riskseal.sealer.store import BlockStore

log = logging.getLogger(__name__)

ABANDON_WAIT_S = 5.0
"""How long an abandoning close waits for each writer thread."""


@dataclass(eq=False)
class PartitionState:
    """What the sealer holds for one assigned partition (identity matters, not value)."""

    writer: ChainWriter | None
    batch: Batch
    stopped: str | None = None
    """Why this chain is stopped (its head failed verification, or its offsets have a gap),
    or None."""
    active: bool = True
    """False once the partition was revoked or another sealer won one of its blocks: the
    writer drops its remaining jobs."""


@dataclass(frozen=True, slots=True)
class SealJob:
    """Seal ``batch`` as the next block of ``state``'s chain."""

    state: PartitionState
    batch: SealedBatch


@dataclass(frozen=True, slots=True)
class CheckpointJob:
    """Write a signed checkpoint of every chain in ``states`` that has blocks."""

    states: tuple[PartitionState, ...]
    origin: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one SealJob."""

    state: PartitionState
    written: int | None
    """The last offset of the block written, or None when nothing was written."""
    lost_race: bool = False
    """Another sealer had written this block's sequence number."""


REDATE_AFTER_S = 60.0
"""How long a block's write may be retried before it is dated and signed again (well
within the 5 minutes of clock skew a verifier allows, FORMAT.md §7)."""


class BlockWriter:
    """Threads that seal and write the jobs handed to them, each chain's in hand-over order.

    Every chain is given to one of ``threads`` lanes when first seen and stays there, so a
    chain's blocks are written one at a time, in order, while blocks of other chains are
    compressed and written alongside (zlib, SHA-256 of large data and socket waits release
    the GIL).
    """

    def __init__(
        self,
        store: BlockStore,
        metrics: SealerMetrics,
        retry_max_s: float,
        threads: int = 2,
        name: str = "riskseal-sealer-writer",
        redate_after_s: float = REDATE_AFTER_S,
    ) -> None:
        if threads < 1:
            raise ValueError("a BlockWriter needs at least one thread")
        self.store = store
        self.metrics = metrics
        self.retry_max_s = retry_max_s
        self.redate_after_s = redate_after_s
        self.in_flight = 0
        """SealJobs handed over whose outcome was not collected yet (consuming thread only)."""
        self._lanes: list[queue.SimpleQueue[SealJob | CheckpointJob | None]] = [
            queue.SimpleQueue() for _ in range(threads)
        ]
        self._lane_of: dict[tuple[str, int], int] = {}
        self._outcomes: queue.SimpleQueue[Outcome | BaseException] = queue.SimpleQueue()
        self._abandon = threading.Event()
        self._metrics_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(lane,), name=f"{name}-{i}", daemon=True)
            for i, lane in enumerate(self._lanes)
        ]

    def start(self) -> None:
        """Start the writer threads."""
        for thread in self._threads:
            thread.start()

    # --- the consuming thread's side -----------------------------------------------------------
    def submit(self, job: SealJob | CheckpointJob) -> None:
        """Hand over a job; never blocks. A checkpoint job is split by lane, so each chain's
        checkpoint follows the blocks handed over before it."""
        if isinstance(job, SealJob):
            self.in_flight += 1
            self._lanes[self._lane(job.state)].put(job)
            return
        by_lane: dict[int, list[PartitionState]] = {}
        for state in job.states:
            by_lane.setdefault(self._lane(state), []).append(state)
        for lane, states in by_lane.items():
            self._lanes[lane].put(CheckpointJob(tuple(states), job.origin, job.prefix))

    def _lane(self, state: PartitionState) -> int:
        chain = (state.batch.topic, state.batch.partition)
        lane = self._lane_of.get(chain)
        if lane is None:
            lane = self._lane_of[chain] = len(self._lane_of) % len(self._lanes)
        return lane

    def outcomes(self, timeout: float = 0.0) -> list[Outcome]:
        """The outcomes reported since the last call, waiting up to ``timeout`` for the first.

        Re-raises, on the consuming thread, an unexpected error of a writer thread.
        """
        found: list[Outcome] = []
        try:
            item = (
                self._outcomes.get(timeout=timeout) if timeout > 0 else self._outcomes.get_nowait()
            )
            while True:
                if isinstance(item, BaseException):
                    raise item
                found.append(item)
                self.in_flight -= 1
                item = self._outcomes.get_nowait()
        except queue.Empty:
            pass
        return found

    def close(self, *, abandon: bool = False) -> None:
        """End the threads once they have done every job handed over.

        With ``abandon`` (the sealer is failing), jobs not started yet are dropped and a
        write being retried gives up instead.
        """
        if abandon:
            self._abandon.set()
        for lane in self._lanes:
            lane.put(None)
        for thread in self._threads:
            if thread.is_alive():
                # Abandoning, a PUT under way may still take its timeouts: do not wait for it
                # (the threads are daemons, and what they write is not committed).
                thread.join(ABANDON_WAIT_S if abandon else None)

    # --- the writer threads --------------------------------------------------------------------
    def _run(self, lane: queue.SimpleQueue[SealJob | CheckpointJob | None]) -> None:
        while True:
            job = lane.get()
            if job is None:
                return
            try:
                if isinstance(job, SealJob):
                    self._outcomes.put(self._seal(job))
                else:
                    self._checkpoint(job)
            except BaseException as exc:  # handed to the consuming thread, which re-raises it
                self._outcomes.put(exc)
                return

    def _seal(self, job: SealJob) -> Outcome:
        state, batch = job.state, job.batch
        writer = state.writer
        if not state.active or writer is None or self._abandon.is_set():
            return Outcome(state, None)
        started = built = time.perf_counter()
        block = None
        delay = 0.2
        while True:
            try:
                if block is None:  # building signs, and may wait for a key manifest read
                    block = writer.build_from(batch.records, batch.first_offset, batch.last_offset)
                    built = time.perf_counter()
                writer.append(block)
                break
            except BlockExistsError:
                self._count("conflicts")
                state.active = False  # the rest of this chain's jobs start from a wrong head
                return Outcome(state, None, lost_race=True)
            except StorageUnavailableError as exc:
                self._count("s3_errors")
                log.warning("S3 write failed, retrying in %.1f s: %s", delay, exc)
                wanted = lambda: state.active and not self._abandon.is_set()  # noqa: E731
                if not _sleep_while(wanted, delay * random.uniform(0.5, 1.5)):  # noqa: S311 - jitter
                    return Outcome(state, None)
                delay = min(delay * 2, self.retry_max_s)
                if block is not None and time.perf_counter() - built >= self.redate_after_s:
                    # Dated and signed again (its key checked again): a block stored long
                    # after its date could predate a checkpoint that leaves it out.
                    log.warning("block %s not written for %.0f s: dating and signing it again",
                                block.header.object_key, time.perf_counter() - built)  # fmt: skip
                    block = None
        took_ms = (time.perf_counter() - started) * 1000
        with self._metrics_lock:
            self.metrics.sealed(batch, time.time_ns() // 1_000_000, took_ms)
        return Outcome(state, batch.last_offset)

    def _count(self, counter: str) -> None:
        with self._metrics_lock:
            setattr(self.metrics, counter, getattr(self.metrics, counter) + 1)

    def _checkpoint(self, job: CheckpointJob) -> None:
        if self._abandon.is_set():
            return
        for state in job.states:
            writer = state.writer
            if self._abandon.is_set():
                return
            if writer is None or state.stopped or not state.active:
                continue
            head = writer.head
            if head.next_seq == 0:
                continue
            now_ms = writer.clock_ms()
            try:
                writer.check_key(now_ms)
            except StorageUnavailableError as exc:  # the key manifest cannot be read now
                self._count("s3_errors")
                log.warning("checkpoint of %s not signed: %s", head.chain, exc)
                continue
            note = signed_checkpoint(
                job.origin, head.chain, head.tree.size, head.tree.root(), writer.signer,
                time_ms=now_ms,
            )  # fmt: skip
            writer.checkpointed(now_ms)  # even if the PUT fails: it may have been stored
            try:
                self.store.create(checkpoint_key(job.prefix, head.chain, now_ms), note)
                self._count("checkpoints")
            except (BlockExistsError, StorageUnavailableError) as exc:
                self._count("s3_errors")
                log.warning("checkpoint of %s not written: %s", head.chain, exc)


def _sleep_while(condition: Callable[[], bool], seconds: float) -> bool:
    """Sleep ``seconds`` in short steps while ``condition()`` holds; return whether it held."""
    deadline = time.monotonic() + seconds
    while condition():
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, 0.05))
    return False
