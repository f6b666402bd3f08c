"""The sealer service: consume the audit topics, seal blocks, write them once, then commit.

Order of operations per partition, which is what makes "nothing lost, nothing forked" hold:

1. on assignment, recover the chain head from S3 (not from committed offsets) and start
   consuming at the head's last offset + 1; a head that fails verification stops that chain;
2. batch records until max records / bytes / age;
3. build and sign the block, PUT it with ``If-None-Match: *``;
4. only then store the next offset for commit.

If the PUT finds the key taken, another sealer sealed that sequence number first: the local
batch is dropped, the head re-read and consumption resumes after it. If S3 fails, the sealer
pauses its partitions, retries with backoff and jitter, and resumes; nothing is acknowledged
meanwhile, so a crash at any point only means re-reading records that are not yet sealed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from riskseal.block import ChainId, checkpoint_key
from riskseal.contract.codec import EventCodec
from riskseal.errors import BlockExistsError, ChainHeadError, StorageUnavailableError
from riskseal.keys import PublicKeys, Signer
from riskseal.sealer.batch import Batch, RecordEncoder
from riskseal.sealer.chain import ChainHead, ChainWriter, recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from riskseal.sealer.metrics import SealerMetrics
from riskseal.sealer.store import BlockStore
from riskseal.settings import Settings

log = logging.getLogger(__name__)
KAFKA_LOG = logging.getLogger("riskseal.sealer.kafka")


@dataclass
class PartitionState:
    """What the sealer holds for one assigned partition."""

    writer: ChainWriter | None
    batch: Batch = field(default_factory=Batch)
    stopped: str | None = None
    """Why this chain is stopped (its head failed verification), or None."""


class Sealer:
    """Seals the audit topics into S3; run it with :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        signer: Signer,
        trusted: PublicKeys,
        store: BlockStore,
        metrics: SealerMetrics | None = None,
        on_chain_stopped: Callable[[ChainId, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.trusted = trusted
        self.store = store
        self.metrics = metrics or SealerMetrics()
        self.on_chain_stopped = on_chain_stopped
        self.encoder = RecordEncoder(EventCodec())
        self.partitions: dict[tuple[str, int], PartitionState] = {}
        self.consumer = Consumer(
            {
                **settings.kafka_consumer_config(settings.sealer_group_id),
                "enable.auto.commit": True,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "logger": KAFKA_LOG,
            }
        )
        self.cluster_id = str(self.consumer.list_topics(timeout=30).cluster_id)
        self._last_checkpoint = time.monotonic()

    # --- main loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Consume and seal until ``stop`` is set; then seal what is pending and close."""
        self.consumer.subscribe(
            list(self.settings.audit_topics), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        try:
            while not stop.is_set():
                # poll() returns at the first message; consume(timeout=0) drains what is
                # fetched (consume with a timeout would wait for a full batch).
                first = self.consumer.poll(0.2)
                if first is not None:
                    self._accept(first)
                    for message in self.consumer.consume(num_messages=5_000, timeout=0):
                        self._accept(message)
                self._seal_due(force=False)
                if time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_interval_s:
                    self.write_checkpoints()
                    log.info("%s", self.metrics.summary())
            self._seal_due(force=True)
            self.write_checkpoints()
            self._commit()
        finally:
            self.consumer.close()

    def _commit(self) -> None:
        """Commit the stored offsets; having none to commit is fine (nothing was sealed)."""
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0]
            if not (isinstance(error, KafkaError) and error.code() == KafkaError._NO_OFFSET):
                log.warning(
                    "final offset commit failed (the next sealer re-reads from S3): %s", exc
                )

    def _accept(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
            return
        state = self.partitions.get((message.topic() or "", message.partition() or 0))
        if state is None or state.writer is None or state.stopped:
            return
        head = state.writer.head
        expected = (
            head.next_offset if not state.batch.records else state.batch.records[-1].offset + 1
        )
        offset = message.offset() or 0
        if expected is not None and offset < expected:
            return  # already sealed (re-delivered after a seek)
        state.batch.add(self.encoder.encode(message))
        if state.batch.due(
            self.settings.seal_max_records, self.settings.seal_max_bytes, float("inf")
        ):
            self._seal(state, state.writer)

    def _seal_due(self, force: bool) -> None:
        for state in list(self.partitions.values()):
            if state.stopped or state.writer is None or not state.batch.records:
                continue
            if force or state.batch.due(
                self.settings.seal_max_records,
                self.settings.seal_max_bytes,
                self.settings.seal_max_age_s,
            ):
                self._seal(state, state.writer)

    # --- sealing ---------------------------------------------------------------------------
    def _seal(self, state: PartitionState, writer: ChainWriter) -> None:
        started = time.perf_counter()
        block = writer.build(state.batch.records)
        delay = 0.2
        while True:
            try:
                writer.append(block)
                break
            except BlockExistsError:
                self.metrics.conflicts += 1
                self._lost_race(state, writer)
                return
            except StorageUnavailableError as exc:
                self.metrics.s3_errors += 1
                log.warning("S3 write failed, retrying in %.1f s: %s", delay, exc)
                if not self._wait_for_storage(state, delay):
                    return
                delay = min(delay * 2, self.settings.s3_retry_max_s)
        chain = writer.head.chain
        self.consumer.store_offsets(
            offsets=[TopicPartition(chain.topic, chain.partition, block.header.last_offset + 1)]
        )
        took_ms = (time.perf_counter() - started) * 1000
        self.metrics.sealed(state.batch.records, time.time_ns() // 1_000_000, took_ms)
        state.batch.clear()

    def _wait_for_storage(self, state: PartitionState, delay: float) -> bool:
        """Sleep ``delay`` (with jitter) with consumption paused; False if the partition left."""
        assignment = self.consumer.assignment()
        self.consumer.pause(assignment)
        deadline = time.monotonic() + delay * random.uniform(0.5, 1.5)  # noqa: S311 - jitter
        while time.monotonic() < deadline:
            self.consumer.poll(0.05)  # keeps group membership and serves rebalances
        if self.consumer.assignment():
            self.consumer.resume(self.consumer.assignment())
        return any(s is state for s in self.partitions.values())

    def _lost_race(self, state: PartitionState, writer: ChainWriter) -> None:
        """Another sealer wrote our next block: drop the batch, re-read the head, seek."""
        chain = writer.head.chain
        state.batch.clear()
        head = self._recover(chain)
        if head is None:
            state.stopped = "head failed verification"
            return
        writer.head = head
        log.info(
            "chain %s: another sealer wrote seq %d; resuming after it", chain, head.next_seq - 1
        )
        self.consumer.seek(TopicPartition(chain.topic, chain.partition, head.next_offset or 0))

    # --- assignment --------------------------------------------------------------------------
    def _recover(self, chain: ChainId) -> ChainHead | None:
        delay = 0.2
        while True:
            try:
                return recover_head(self.store, self.settings.s3_prefix, chain, self.trusted)
            except ChainHeadError as exc:
                log.error("%s", exc)
                self.metrics.stopped_chains += 1
                if self.on_chain_stopped is not None:
                    self.on_chain_stopped(chain, str(exc))
                return None
            except StorageUnavailableError as exc:
                self.metrics.s3_errors += 1
                log.warning("cannot read chain %s head, retrying: %s", chain, exc)
                time.sleep(delay)
                delay = min(delay * 2, self.settings.s3_retry_max_s)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        positioned = []
        stopped = []
        for partition in partitions:
            chain = ChainId(self.cluster_id, partition.topic, partition.partition)
            head = self._recover(chain)
            if head is None:
                self.partitions[(partition.topic, partition.partition)] = PartitionState(
                    writer=None, stopped="head failed verification"
                )
                stopped.append(partition)
                positioned.append(partition)
                continue
            writer = ChainWriter(
                head, self.store, self.signer, self.settings.s3_prefix, self.settings.log_origin
            )
            self.partitions[(partition.topic, partition.partition)] = PartitionState(writer)
            start = head.next_offset if head.next_offset is not None else OFFSET_BEGINNING
            positioned.append(TopicPartition(partition.topic, partition.partition, start))
        consumer.assign(positioned)
        if stopped:
            consumer.pause(stopped)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Unsealed records are simply dropped: the next owner re-reads them from the head.
        for partition in partitions:
            self.partitions.pop((partition.topic, partition.partition), None)
        consumer.unassign()

    # --- checkpoints -------------------------------------------------------------------------
    def write_checkpoints(self) -> None:
        """Write a signed checkpoint of every chain this sealer owns that has blocks."""
        self._last_checkpoint = time.monotonic()
        now_ms = time.time_ns() // 1_000_000
        for state in self.partitions.values():
            if state.writer is None or state.stopped or state.writer.head.next_seq == 0:
                continue
            head = state.writer.head
            note = signed_checkpoint(
                self.settings.log_origin, head.chain, head.tree.size, head.tree.root(), self.signer
            )
            try:
                self.store.create(checkpoint_key(self.settings.s3_prefix, head.chain, now_ms), note)
                self.metrics.checkpoints += 1
            except (BlockExistsError, StorageUnavailableError) as exc:
                self.metrics.s3_errors += 1
                log.warning("checkpoint of %s not written: %s", head.chain, exc)
