"""Table recovery that reads every changelog partition to its true end.

Faust restores a table by reading its changelog from the stored offset up to the
partition's end as ``ListOffsets`` reports it (``Recovery._build_highwaters`` via
``end_offsets``). The local broker (Tansu) answers ``ListOffsets(latest)`` with the base
offset + 1 of the newest record batch, ignoring the other records in that batch. Seen on
this stack, with unpatched Faust:

* memory store: recovery stops before the last records of each changelog partition, so a
  restarted worker resumes from older per-user states (lost updates);
* RocksDB store: the offset persisted with the local data is past that wrong end, and
  Faust's consistency check stops the worker at start (``ConsistencyError: The persisted
  offset for changelog topic partition … is higher than the last offset in that topic
  (highwater) (41 > 39)``).

:class:`TrueEndRecovery` keeps Faust's recovery and corrects its end offsets: for each
changelog partition it reads from the reported end's batch (offset ``reported - 1``) with a
plain consumer until the broker signals end of partition, which librdkafka decides from
the high watermark of fetch responses, and that one is right. It never moves an end
offset down, so on Apache Kafka (whose ``ListOffsets`` is right) it changes nothing.

It also seeks the stream partitions to their committed offsets *before* it resumes them.
Faust resumes first and seeks while the fetcher already runs; the records it delivers in
that window are then thrown away twice over: ``perform_seek`` moves the consumer's read
offset back, and resuming the flow control clears the stream queues, while the rest of the
batch in hand is still delivered. Faust takes the jump that follows for a compaction gap and
commits past it. Seen on this stack: a worker taking over a SIGKILLed worker's partitions
skipped 5-7 requests per partition, which were never decided.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, cast

from confluent_kafka import Consumer, KafkaError, TopicPartition
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP

from riskseal.errors import ChangelogEndError
from riskseal.settings import KafkaConfig, Settings

log = logging.getLogger(__name__)

PROBE_GROUP = "riskseal-changelog-end-probe"  # required by librdkafka; never joined
PROBE_TIMEOUT_S = 30.0


def true_end_offsets(
    kafka_config: KafkaConfig, reported: Mapping[TP, int], timeout_s: float = PROBE_TIMEOUT_S
) -> dict[TP, int]:
    """The end offset (next offset to be written) of each partition, read, not asked.

    ``reported`` holds the end offsets ``ListOffsets`` gave; reading starts one below each,
    in the newest batch the broker knows of, and stops at the end-of-partition event.
    Raises ChangelogEndError when a partition does not reach its end within ``timeout_s``.
    """
    if not reported:
        return {}
    consumer = Consumer(
        {
            **kafka_config,
            "group.id": PROBE_GROUP,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
            "logger": log,
        }
    )
    pending = {(tp.topic, tp.partition): tp for tp in reported}
    ends: dict[TP, int] = {}
    try:
        consumer.assign(
            [
                TopicPartition(tp.topic, tp.partition, max(end - 1, 0))
                for tp, end in reported.items()
            ]
        )
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise ChangelogEndError(
                    f"cannot read to the end of {_names(pending.values())} within "
                    f"{timeout_s:g} s; table recovery would be incomplete"
                )
            message = consumer.poll(0.05)
            if message is None:
                continue
            error = message.error()
            where = (cast(str, message.topic()), cast(int, message.partition()))
            if error is None or error.code() != KafkaError._PARTITION_EOF:
                if error is not None and error.fatal():
                    raise ChangelogEndError(f"reading {where[0]}/{where[1]}: {error.str()}")
                continue
            tp = pending.pop(where, None)
            if tp is not None:
                ends[tp] = cast(int, message.offset())
    finally:
        consumer.close()
    return ends


class TrueEndRecovery(Recovery):
    """Faust's recovery with end offsets read to the true end, and stream partitions sought
    to their commits before they are resumed (see the module docstring).

    ``_resume_streams`` and ``on_recovery_completed`` are faust-streaming 0.15.3's, reordered;
    ``tests/unit/risk/test_recovery_order.py`` pins the order they must keep.
    """

    kafka_config: ClassVar[KafkaConfig] = {}

    async def _build_highwaters(
        self, consumer: Any, tps: set[TP], destination: Any, title: str
    ) -> None:
        await super()._build_highwaters(consumer, tps, destination, title)
        if not tps:
            return
        # Faust keeps "highwater" as end offset - 1.
        reported = {tp: destination[tp] + 1 for tp in tps}
        ends = await asyncio.to_thread(true_end_offsets, self.kafka_config, reported)
        moved = {tp: (reported[tp], end) for tp, end in ends.items() if end > reported[tp]}
        for tp, end in ends.items():
            destination[tp] = max(end, reported[tp]) - 1
        if moved:
            log.warning(
                "%s changelog ends reported too low by the broker, corrected by reading: %s",
                title,
                ", ".join(f"{tp.topic}/{tp.partition} {a}->{b}" for tp, (a, b) in moved.items()),
            )

    async def _resume_streams(self, generation_id: int = 0) -> None:
        """Faust's, with the stream partitions resumed only once they are at their commits."""
        app = self.app
        await app.on_rebalance_complete.send()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        await self._resume_streams_at_commits()
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """Faust's, with the stream partitions resumed only once they are at their commits."""
        app = self.app
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        completions = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if completions:
            await asyncio.wait(completions)
        if app.consumer_generation_id != generation_id:
            self.log.warning(
                f"Recovery rebalancing again app id {app.consumer_generation_id} "
                f"param {generation_id}"
            )
            return
        await self._resume_streams_at_commits()
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _resume_streams_at_commits(self) -> None:
        consumer = self.app.consumer
        if consumer.assignment():
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
            # No await from here to the flow's resumption: nothing reaches a stream queue
            # before resuming the flow control clears those queues.
            consumer.resume_partitions(
                {tp for tp in consumer.assignment() if not self._is_changelog_tp(tp)}
            )
        else:
            self.log.info("Resuming streams with empty assignment")
        self.completed.set()
        self.app.flow_control.resume()
        consumer.resume_flow()
        await cast(Any, self.app)._fetcher.maybe_start()


def table_manager_for(settings: Settings) -> type[TableManager]:
    """A Faust TableManager class whose recovery reads changelogs to their true end."""
    recovery_class = type(
        "SettingsTrueEndRecovery", (TrueEndRecovery,), {"kafka_config": settings.kafka_config()}
    )

    class TrueEndTableManager(TableManager):
        """Faust's TableManager with :class:`TrueEndRecovery`."""

        @property
        def recovery(self) -> Recovery:
            if self._recovery is None:
                self._recovery = recovery_class(self.app, self, beacon=self.beacon, loop=self.loop)
            return self._recovery

    return TrueEndTableManager


def _names(tps: Iterable[TP]) -> str:
    return ", ".join(f"{tp.topic}/{tp.partition}" for tp in tps)
