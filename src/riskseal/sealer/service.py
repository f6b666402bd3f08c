"""The sealer service: consume the audit topics, seal blocks, write them once, then commit.

Order of operations per partition, which is what makes "nothing lost, nothing forked" hold:

1. on assignment, recover the chain head from S3 (not from committed offsets) and start
   consuming at the head's last offset + 1; a head that fails verification stops that chain;
2. batch records until max records / bytes / age;
3. hand the batch to the chain's writer thread (``riskseal.sealer.writer``), which builds and
   signs the block and PUTs it with ``If-None-Match: *``, the chain's blocks one at a time,
   in hand-over order;
4. only when the writer reports the PUT done, store the next offset for commit.

If the PUT finds the key taken, another sealer sealed that sequence number first: the
chain's pending blocks and batch are dropped, the head re-read and consumption resumes after
it. If S3 fails, the writer retries with backoff and jitter; once ``seal_in_flight_blocks`` blocks
wait for it, the consumer waits, then pauses consumption (bounded memory) until they are
written. Nothing is
acknowledged meanwhile, so a crash at any point only means re-reading records that are not
yet sealed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from riskseal.block import ChainId
from riskseal.contract.codec import EventCodec
from riskseal.contract.schemas_set import EventType
from riskseal.errors import ChainHeadError, StorageUnavailableError
from riskseal.keys import Signer
from riskseal.manifest import KeyManifest
from riskseal.sealer import keyring
from riskseal.sealer.batch import Batch, OffsetGap, RecordEncoder
from riskseal.sealer.chain import ChainHead, ChainWriter, recover_head
from riskseal.sealer.manifest_watch import ManifestWatch
from riskseal.sealer.metrics import SealerMetrics
from riskseal.sealer.store import BlockStore
from riskseal.sealer.writer import BlockWriter, CheckpointJob, PartitionState, SealJob
from riskseal.settings import Settings
from riskseal.timestamps import iso_text

__all__ = [
    "CONSUME_BATCH",
    "PartitionState",
    "Sealer",
]

log = logging.getLogger(__name__)
KAFKA_LOG = logging.getLogger("riskseal.sealer.kafka")
CONSUME_BATCH = 10_000
"""Messages taken from the consumer per call once ``poll`` has returned one."""


class Sealer:
    """Seals the audit topics into S3; run it with :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        signer: Signer,
        manifest: KeyManifest,
        store: BlockStore,
        metrics: SealerMetrics | None = None,
        on_chain_stopped: Callable[[ChainId, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.manifest_watch = ManifestWatch(store, settings.s3_prefix, manifest, signer.key_id)
        """The newest key manifest seen: followed again when partitions are assigned, after a
        lost race, every third of ``MANIFEST_MAX_AGE_S`` and before a signature once older,
        so a rotation reaches a running sealer before its cut-over."""
        self.retired: str | None = None
        """Why the sealer stopped by itself: its key's cut-over came (see ``run``)."""
        self.store = store
        self.metrics = metrics or SealerMetrics()
        self.on_chain_stopped = on_chain_stopped
        self.encoder = RecordEncoder(
            EventCodec(),
            {
                settings.topic_requests: EventType.ACCESS_REQUEST,
                settings.topic_actions: EventType.ACCESS_ACTION,
                settings.topic_decisions: EventType.DECISION,
            },
        )
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
        self.writer = BlockWriter(
            store, self.metrics, settings.s3_retry_max_s, settings.seal_writer_threads
        )
        self._last_checkpoint = time.monotonic()
        self._paused = False
        self._draining = False

    # --- main loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Consume and seal until ``stop`` is set; then seal what is pending and close.

        It also stops, the same way, :data:`~riskseal.sealer.keyring.RETIREMENT_LEAD_S`
        before the key manifest ends its key's validity (a rotation with a cut-over), and
        says why in :attr:`retired`.
        """
        self.consumer.subscribe(
            list(self.settings.audit_topics), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        self.writer.start()
        graceful = False
        try:
            while not stop.is_set() and not self._retire_now():
                # poll() returns at the first message; consume(timeout=0) drains what is
                # fetched (consume with a timeout would wait for a full batch).
                first = self.consumer.poll(0.2)
                if first is not None:
                    self._accept([first])
                    self._accept(self.consumer.consume(num_messages=CONSUME_BATCH, timeout=0))
                self._seal_due(force=False)
                self._collect()
                self.manifest_watch.refresh(older_than_s=keyring.MANIFEST_MAX_AGE_S / 3)
                if time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_interval_s:
                    self.write_checkpoints()
                    log.info("%s", self.metrics.summary())
            self._seal_due(force=True)
            self.write_checkpoints()
            graceful = self._drain()
            self._commit()
        finally:
            self.writer.close(abandon=not graceful)  # graceful: after the last checkpoint
            self.consumer.close()

    def _drain(self) -> bool:
        """Wait until the writer has written (or dropped) every block handed to it, for at
        most ``seal_shutdown_timeout_s``; whether it has.

        Consumption is paused meanwhile; polling keeps the group membership and serves
        rebalances. What a poll still returns is left unsealed: it is re-read next time, as
        are the records of blocks still unwritten at the deadline (S3 down: a stop must not
        wait for it forever).
        """
        self._paused = self._draining = True  # for good: nothing resumes consumption now
        if self.consumer.assignment():
            self.consumer.pause(self.consumer.assignment())
        deadline = time.monotonic() + self.settings.seal_shutdown_timeout_s
        while self.writer.in_flight:
            if time.monotonic() >= deadline:
                log.warning(
                    "stopping with %d blocks not written after %.0f s (S3 slow or down): their "
                    "records are not committed, the next sealer seals them",
                    self.writer.in_flight, self.settings.seal_shutdown_timeout_s,
                )  # fmt: skip
                return False
            self._collect(timeout=0.05)
            self.consumer.poll(0)
        return True

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

    def _accept(self, messages: list[Message]) -> None:
        """Add each message to its partition's batch; seal every batch that fills up.

        ``messages`` come from one fetch call: those fetched before a seek made while the
        previous call's messages were handled are behind it, so every batch ends its resync.
        """
        partitions, index, end = self.partitions, 0, len(messages)
        for assigned in partitions.values():
            assigned.batch.end_resync()
        self.metrics.consumed += end
        while index < end:
            message = messages[index]
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                index += 1
                continue
            state = partitions.get((message.topic() or "", message.partition() or 0))
            if state is None or state.writer is None or state.stopped:
                index += 1
                continue
            index = state.batch.fill(messages, index)  # this message and the rest of its run
            if state.batch.gap is not None:
                self._stop_at_gap(state, state.batch.gap)
            elif state.batch.full():
                self._seal(state)

    def _stop_at_gap(self, state: PartitionState, gap: OffsetGap) -> None:
        """Seal what came before a gap in the partition's offsets, then stop its chain.

        A block covers a contiguous range of offsets, and a sealer that skipped missing
        offsets would hide a removal the same way: the chain stops, with the reason, and
        the other partitions go on (docs/DEPLOYMENT.md, "Offset gaps").
        """
        batch = state.batch
        if batch.records:
            self._seal(state)
        chain = f"{batch.topic}[{batch.partition}]"
        if gap.backwards:
            reason = (
                f"offset rewind: {chain} went back from offset {gap.expected} to {gap.found}, "
                "which is sealed already (the topic was deleted and created again, an unclean "
                "leader election truncated it, or the broker lost its data: a new cluster id "
                "needs a sealer restart); the records there now are not the sealed ones, so "
                f"sealing this partition stopped at offset {gap.expected}. See "
                'docs/DEPLOYMENT.md, "Offset gaps".'
            )
        else:
            reason = (
                f"offset gap: {chain} has no records at offsets {gap.expected} to "
                f"{gap.found - 1} (compacted, expired before they were sealed, or transaction "
                "markers); a block cannot skip offsets, so sealing this partition stopped at "
                f'offset {gap.expected}. See docs/DEPLOYMENT.md, "Offset gaps".'
            )
        state.stopped = reason
        self.consumer.pause([TopicPartition(batch.topic, batch.partition)])
        log.error("%s", reason)
        self.metrics.stopped_chains += 1
        if self.on_chain_stopped is not None and state.writer is not None:
            self.on_chain_stopped(state.writer.head.chain, reason)

    def _seal_due(self, force: bool) -> None:
        for state in list(self.partitions.values()):
            if state.stopped or state.writer is None or not state.batch.records:
                continue
            if force or state.batch.due(self.settings.seal_max_age_s):
                self._seal(state)

    # --- sealing ---------------------------------------------------------------------------
    def _seal(self, state: PartitionState) -> None:
        """Hand the batch to the writer; wait for it when too much is waiting already.

        A short wait is the normal back pressure of a writer slower than the consumer. If
        the writer is still behind after ``seal_writer_wait_s`` (S3 is slow or down), consumption
        pauses instead, and the loop goes on polling so that rebalances are served.
        """
        self.writer.submit(SealJob(state, state.batch.take()))
        deadline = time.monotonic() + self.settings.seal_writer_wait_s
        while self.writer.in_flight >= self.settings.seal_in_flight_blocks and not self._paused:
            left = deadline - time.monotonic()
            if left <= 0:
                self._paused = True
                self.consumer.pause(self.consumer.assignment())
                break
            self._collect(timeout=left)

    def _collect(self, timeout: float = 0.0) -> None:
        """Act on what the writer reports: store offsets, or recover from a lost race."""
        for outcome in self.writer.outcomes(timeout):
            state = outcome.state
            writer = state.writer
            if writer is None or not self._owns(state):
                continue  # revoked meanwhile: its next owner goes by the chain head in S3
            chain = writer.head.chain
            if outcome.written is not None:
                self.consumer.store_offsets(
                    offsets=[TopicPartition(chain.topic, chain.partition, outcome.written + 1)]
                )
            elif outcome.lost_race:
                self._lost_race(state, chain)
        if (
            self._paused
            and not self._draining
            and self.writer.in_flight <= self.settings.seal_in_flight_blocks // 2
        ):
            self._paused = False
            self.consumer.resume(
                [
                    TopicPartition(topic, partition)
                    for (topic, partition), state in self.partitions.items()
                    if not state.stopped
                ]
            )

    def _owns(self, state: PartitionState) -> bool:
        chain = (state.batch.topic, state.batch.partition)
        return self.partitions.get(chain) is state

    def _lost_race(self, state: PartitionState, chain: ChainId) -> None:
        """Another sealer wrote our next block: drop the batch, re-read the head, seek."""
        state.active = False
        state.batch.clear()
        self.manifest_watch.refresh()  # the winner may sign with a key added since the start
        head = self._recover(chain)
        key = (chain.topic, chain.partition)
        if head is None:
            state.stopped = "head failed verification"
            return
        writer = ChainWriter(
            head, self.store, self.signer, self.settings.s3_prefix, self.settings.log_origin,
            may_sign=self.manifest_watch.may_sign,
        )  # fmt: skip
        self.partitions[key] = PartitionState(writer, self._new_batch(chain, head, resync=True))
        log.info(
            "chain %s: another sealer wrote seq %d; resuming after it", chain, head.next_seq - 1
        )
        self.consumer.seek(TopicPartition(chain.topic, chain.partition, head.next_offset or 0))

    def _new_batch(self, chain: ChainId, head: ChainHead, *, resync: bool = False) -> Batch:
        return Batch(
            self.encoder,
            chain.topic,
            chain.partition,
            head.next_offset,
            self.settings.seal_max_records,
            self.settings.seal_max_bytes,
            resync=resync,
        )

    # --- assignment --------------------------------------------------------------------------
    def _retire_now(self) -> bool:
        """Whether the key's cut-over is near enough to stop (and :attr:`retired` says so).

        A block is dated no earlier than its chain's last block or checkpoint, which another
        sealer's clock may have put ahead of this one's: the latest of those dates counts."""
        heads = [state.writer.head.not_before_ms for state in self.partitions.values()
                 if state.writer is not None]  # fmt: skip
        cut_over = self.manifest_watch.due_cut_over(max([keyring.now_ms(), *heads]))
        if cut_over is None:
            return False
        self.retired = (
            f"signing key {self.signer.key_id} retires at {iso_text(cut_over)} (key "
            f"manifest version {self.manifest_watch.manifest.version}); the sealer sealed what "
            "it held and stopped: start it with the key that took over "
            "(RISKSEAL_SIGNING_KEY_FILE)"
        )
        return True

    def _recover(self, chain: ChainId) -> ChainHead | None:
        delay = 0.2
        while True:
            try:
                return recover_head(
                    self.store, self.settings.s3_prefix, chain,
                    self.manifest_watch.manifest.public_keys(), self.manifest_watch.may_sign,
                    now_ms=time.time_ns() // 1_000_000,
                )  # fmt: skip
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
        self.manifest_watch.refresh()  # a head may be signed by a key added since the start
        positioned = []
        stopped = []
        for partition in partitions:
            chain = ChainId(self.cluster_id, partition.topic, partition.partition)
            head = self._recover(chain)
            if head is None:
                self.partitions[(partition.topic, partition.partition)] = PartitionState(
                    None, self._new_batch(chain, ChainHead.empty(chain)), "head failed verification"
                )
                stopped.append(partition)
                positioned.append(partition)
                continue
            writer = ChainWriter(
                head, self.store, self.signer, self.settings.s3_prefix, self.settings.log_origin,
                may_sign=self.manifest_watch.may_sign,
            )  # fmt: skip
            self.partitions[(partition.topic, partition.partition)] = PartitionState(
                writer, self._new_batch(chain, head)
            )
            start = head.next_offset if head.next_offset is not None else OFFSET_BEGINNING
            positioned.append(TopicPartition(partition.topic, partition.partition, start))
        consumer.assign(positioned)
        if self._paused:
            consumer.pause(positioned)  # resumed once the writer catches up
        elif stopped:
            consumer.pause(stopped)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Unsealed records are simply dropped: the next owner re-reads them from the head.
        for partition in partitions:
            state = self.partitions.pop((partition.topic, partition.partition), None)
            if state is not None:
                state.active = False  # the writer drops its blocks that are not written yet
        consumer.unassign()

    # --- checkpoints -------------------------------------------------------------------------
    def write_checkpoints(self) -> None:
        """Have the writer write a signed checkpoint of every chain this sealer owns that has
        blocks, after the blocks handed to it before."""
        self._last_checkpoint = time.monotonic()
        self.writer.submit(
            CheckpointJob(
                tuple(self.partitions.values()), self.settings.log_origin, self.settings.s3_prefix
            )
        )
