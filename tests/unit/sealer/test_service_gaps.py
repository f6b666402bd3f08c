"""The sealing loop's reaction to a gap in a partition's offsets, and its drain at shutdown,
with the consumer and the block writer replaced by recorders (no broker, no S3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from confluent_kafka import TopicPartition

from riskseal.block import ChainId
from riskseal.sealer.batch import Batch, SealedBatch
from riskseal.sealer.chain import ChainHead, ChainWriter
from riskseal.sealer.metrics import SealerMetrics
from riskseal.sealer.service import Sealer
from riskseal.sealer.writer import PartitionState, SealJob
from riskseal.settings import Settings
from tests.unit.sealer.test_batch import ENCODER, PARTITION, TOPIC, message

CHAIN = ChainId("cluster", TOPIC, PARTITION)


@dataclass
class RecordingConsumer:
    paused: list[tuple[str, int]] = field(default_factory=list)
    resumed: list[tuple[str, int]] = field(default_factory=list)
    polls: int = 0

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, PARTITION)]

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused += [(tp.topic, tp.partition) for tp in partitions]

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.resumed += [(tp.topic, tp.partition) for tp in partitions]

    def poll(self, timeout: float) -> None:
        self.polls += 1


@dataclass
class RecordingWriter:
    """Takes jobs; each call to ``outcomes`` finishes one of them (reporting nothing)."""

    in_flight: int = 0
    sealed: list[SealedBatch] = field(default_factory=list)

    def submit(self, job: SealJob) -> None:
        self.sealed.append(job.batch)

    def outcomes(self, timeout: float = 0.0) -> list[Any]:
        self.in_flight = max(0, self.in_flight - 1)
        return []


@dataclass
class Loop:
    sealer: Sealer
    state: PartitionState
    stopped: list[tuple[ChainId, str]]

    @property
    def consumer(self) -> RecordingConsumer:
        return cast(RecordingConsumer, self.sealer.consumer)

    @property
    def writer(self) -> RecordingWriter:
        return cast(RecordingWriter, self.sealer.writer)


def _loop(next_offset: int | None = 100, *, resync: bool = False) -> Loop:
    sealer = Sealer.__new__(Sealer)  # the loop's logic, without a broker or a bucket
    sealer.settings = Settings.local(seal_in_flight_blocks=4)
    sealer.metrics = SealerMetrics()
    sealer.consumer = cast(Any, RecordingConsumer())
    sealer.writer = cast(Any, RecordingWriter())
    stopped: list[tuple[ChainId, str]] = []
    sealer.on_chain_stopped = lambda chain, why: stopped.append((chain, why))
    sealer._paused = sealer._draining = False
    head = ChainHead.empty(CHAIN)
    writer = cast(ChainWriter, type("Writer", (), {"head": head})())
    batch = Batch(ENCODER, TOPIC, PARTITION, next_offset, 10**9, 10**12, resync=resync)
    state = PartitionState(writer, batch)
    sealer.partitions = {(TOPIC, PARTITION): state}
    return Loop(sealer, state, stopped)


def test_a_gap_seals_the_records_before_it_and_stops_that_chain() -> None:
    loop = _loop(next_offset=100)
    loop.sealer._accept([message(100), message(101), message(105), message(106)])
    [sealed] = loop.writer.sealed
    assert (sealed.first_offset, sealed.last_offset, len(sealed.records)) == (100, 101, 2)
    why = loop.state.stopped
    assert why is not None and "offsets 102 to 104" in why and "Offset gaps" in why
    assert loop.consumer.paused == [(TOPIC, PARTITION)]
    assert loop.sealer.metrics.stopped_chains == 1
    assert loop.stopped == [(CHAIN, why)]
    # Nothing after the gap is taken, now or later.
    loop.sealer._accept([message(107)])
    assert len(loop.writer.sealed) == 1 and loop.state.batch.records == []


def test_a_gap_right_at_the_chain_head_stops_without_sealing_anything() -> None:
    loop = _loop(next_offset=100)
    loop.sealer._accept([message(103)])
    assert loop.writer.sealed == []
    assert loop.state.stopped is not None and "offsets 100 to 102" in loop.state.stopped


def test_a_gap_at_the_head_after_a_seek_stops_the_chain_instead_of_waiting_forever() -> None:
    # After a lost race the batch skips what was fetched before its seek; the next fetch
    # starts at the head, so an offset past it there is a gap.
    loop = _loop(next_offset=100, resync=True)
    loop.sealer._accept([message(103), message(104)])
    assert loop.state.stopped is not None and "offsets 100 to 102" in loop.state.stopped


def test_a_log_that_went_back_stops_the_chain_and_seals_nothing_of_it() -> None:
    loop = _loop(next_offset=100)
    loop.sealer._accept([message(100), message(0), message(1)])
    [sealed] = loop.writer.sealed
    assert (sealed.first_offset, sealed.last_offset) == (100, 100)
    why = loop.state.stopped
    assert why is not None and "went back from offset 101 to 0" in why
    assert loop.consumer.paused == [(TOPIC, PARTITION)] and loop.stopped == [(CHAIN, why)]


def test_the_drain_at_shutdown_gives_up_on_blocks_s3_never_takes() -> None:
    loop = _loop()
    loop.sealer.settings = Settings.local(seal_in_flight_blocks=4, seal_shutdown_timeout_s=0.2)
    loop.writer.outcomes = lambda timeout=0.0: []  # type: ignore[method-assign]  # S3 down
    loop.writer.in_flight = 1
    assert loop.sealer._drain() is False
    assert loop.writer.in_flight == 1 and loop.consumer.resumed == []


def test_the_drain_at_shutdown_never_resumes_consumption() -> None:
    loop = _loop()
    loop.writer.in_flight = 3
    assert loop.sealer._drain() is True
    assert loop.consumer.paused == [(TOPIC, PARTITION)]
    assert loop.consumer.resumed == []
    assert loop.consumer.polls >= 3
