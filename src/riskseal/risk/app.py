"""The Faust app of the risk workers, configured from :class:`~riskseal.settings.Settings`.

Only configuration lives here; topics, tables and agents are declared on the app by
:mod:`riskseal.risk.topics`, :mod:`riskseal.risk.tables` and :mod:`riskseal.risk.agents`,
and :mod:`riskseal.risk.worker` puts them together.

Timing follows the settings' profile: the local broker (Tansu) holds every JoinGroup for
half the session timeout, so the ``local`` profile's 6 s session gives ~3 s joins where
Faust's 60 s default would give ~30 s ones.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import Any, cast

import faust
from faust.auth import SASLCredentials, SSLCredentials
from faust.exceptions import ConsumerNotStarted
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT

from riskseal.risk import lenient_records
from riskseal.risk.alignment import Lane
from riskseal.risk.recovery import table_manager_for
from riskseal.settings import Settings

WEB_HOST = "127.0.0.1"
"""Workers serve their web endpoints on loopback only (Faust's default is every interface)."""

STANDBY_REPLICAS = 1
"""Each table partition has one standby copy on another worker, for fast failover."""

PRODUCER_LINGER_S = 0.005
"""How long the producer waits to fill a batch: decisions, alerts and table changelog
records of many events go out in one produce request instead of one request each."""

PRODUCER_MAX_BATCH_BYTES = 1_048_576
"""Largest producer batch per partition. Faust's 16 KiB default is smaller than one busy
user's state record, which then travelled alone in its own produce request."""

FETCH_MAX_WAIT_MS = 10
"""How long a fetch may wait for records. Faust fixes it at 1,500 ms, and the local broker
holds a fetch for a good part of that even when records arrive (measured: a record every
10 ms reached a consumer after 258 ms at the median with 1,500 ms, 26 ms with 100 ms and
2 ms with 10 ms): a decision would wait that long before its request was even read. On
Apache Kafka a fetch returns as soon as records are there; a short wait only means more
fetch requests while the topics are idle."""

MIN_REQUEST_TIMEOUT_S = 30.0
"""Floor of the broker request timeout; it is also never below twice the session timeout."""


def faust_settings(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of :class:`faust.App` for ``settings`` (without the app id)."""
    session_s = settings.kafka_session_timeout_ms / 1000
    config: dict[str, Any] = {
        "broker": [f"kafka://{address.strip()}" for address in settings.kafka_bootstrap.split(",")],
        "store": f"{settings.risk_store}://",
        "datadir": str(settings.risk_data_dir),
        "autodiscover": False,
        # Consumer group timing (see the module docstring).
        "broker_session_timeout": session_s,
        "broker_rebalance_timeout": session_s,
        "broker_heartbeat_interval": settings.kafka_heartbeat_interval_ms / 1000,
        "broker_request_timeout": max(MIN_REQUEST_TIMEOUT_S, 2 * session_s),
        "broker_commit_interval": settings.risk_commit_interval_s,
        "consumer_auto_offset_reset": "earliest",
        # Topics Faust creates (changelogs) match the co-partitioned access topics.
        "topic_partitions": settings.partitions_access,
        "topic_replication_factor": settings.kafka_replication_factor,
        "producer_acks": -1,  # acks=all
        "producer_linger": PRODUCER_LINGER_S,
        "producer_max_batch_size": PRODUCER_MAX_BATCH_BYTES,
        "producer_max_request_size": 4 * PRODUCER_MAX_BATCH_BYTES,
        "processing_guarantee": "at_least_once",
        "table_standby_replicas": STANDBY_REPLICAS,
        # Recovery reads changelogs to their true end (riskseal.risk.recovery).
        "TableManager": table_manager_for(settings),
        "web_enabled": True,
        "web_host": WEB_HOST,
        "web_bind": WEB_HOST,
        "web_port": settings.risk_web_port,
    }
    credentials = broker_credentials(settings)
    if credentials is not None:
        config["broker_credentials"] = credentials
    return config


def broker_credentials(settings: Settings) -> SASLCredentials | SSLCredentials | None:
    """Faust credentials for the settings' security protocol; None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context: ssl.SSLContext | None = None
    if protocol.endswith("SSL"):
        cafile = settings.kafka_ssl_ca_location
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if protocol == "SSL":
        return SSLCredentials(context)
    # The settings validator makes sure the SASL triple is complete for SASL_*.
    password = settings.kafka_sasl_password
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password is not None else None,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )


class RiskConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with a fetch wait of :data:`FETCH_MAX_WAIT_MS`, asking aiokafka
    only for the partitions active when the fetch runs."""

    def _create_worker_consumer(self, transport: Any) -> Any:  # an AIOKafkaConsumer
        lenient_records.install()  # a header name that is not UTF-8 must not stop the fetch
        consumer = super()._create_worker_consumer(transport)
        # Faust passes no setting for it; aiokafka reads this when the consumer starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        # Faust hands over its live set of active partitions, which other code empties (every
        # partition paused, as at the end of a recovery) while this call waits for records;
        # aiokafka reads an empty set as "every partition", and Faust then drops the records
        # of the paused ones after their positions moved past them: those records were
        # never processed (seen: a worker taking over partitions skipped all of them).
        snapshot = set(active_partitions)
        if not snapshot:
            return {}
        return await super()._fetch_records(
            consumer, snapshot, timeout=timeout, max_records=max_records
        )


class RiskConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, running :class:`RiskConsumerThread`, that runs the app's
    :meth:`RiskFaustApp.before_commit` hooks before it commits offsets and its
    :meth:`RiskFaustApp.after_commit` hooks once they are committed."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return RiskConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit_offsets(
        self, offsets: Mapping[TP, int], start_new_transaction: bool = True
    ) -> bool:
        # Every offset commit goes through here (the commit timer, a rebalance, a stop), and
        # Faust flushes its producer between this point and the commit itself.
        app = cast(RiskFaustApp, self.app)
        app.run_before_commit()
        committed: bool = await super()._commit_offsets(
            offsets, start_new_transaction=start_new_transaction
        )
        if committed:
            assignment = self.assignment()  # Faust discards the offsets of revoked partitions
            app.run_after_commit({tp: offset for tp, offset in offsets.items() if tp in assignment})
        return committed


class ConsumerPositions:
    """Where the worker's consumer stands in the requests and actions partitions: the
    :class:`~riskseal.risk.alignment.LogPositions` of the worker's merger."""

    def __init__(self, app: faust.App, topics: Mapping[Lane, str]) -> None:
        self._app = app
        self._topics = dict(topics)

    def highwater(self, lane: Lane, partition: int) -> int | None:
        """The high watermark of the last fetch of the partition; None when there was none,
        or the partition is not assigned here (any more)."""
        try:
            highwater: int | None = self._app.consumer.highwater(self._tp(lane, partition))
        except (AssertionError, ConsumerNotStarted):  # aiokafka asserts the assignment
            return None
        return highwater

    def start_offset(self, lane: Lane, partition: int) -> int | None:
        """The partition's committed offset as Faust knows it (it seeks there on assignment)."""
        committed: Mapping[TP, int | None] = getattr(self._app.consumer, "_committed_offset", {})
        return committed.get(self._tp(lane, partition))

    def rebalancing(self) -> bool:
        """Whether Faust is rebalancing (from the group's first revocation to the end of
        the table recovery that follows the assignment)."""
        return bool(self._app.rebalancing)

    def _tp(self, lane: Lane, partition: int) -> TP:
        return TP(self._topics[lane], partition)


class RiskTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with :class:`RiskConsumer`."""

    Consumer = RiskConsumer


class RiskFaustApp(faust.App):
    """A Faust app whose stream consumer fetches as :class:`RiskConsumerThread` does and runs
    hooks before and after every offset commit."""

    _before_commit: tuple[Callable[[], object], ...] = ()
    _after_commit: tuple[Callable[[Mapping[TP, int]], object], ...] = ()

    def _new_transport(self) -> TransportT:
        return RiskTransport(self.conf.broker_consumer, self)

    def before_commit(self, hook: Callable[[], object]) -> None:
        """Run ``hook`` before every offset commit, before Faust flushes its producer: what
        it sends is out before the offsets are committed."""
        self._before_commit = (*self._before_commit, hook)

    def run_before_commit(self) -> None:
        """Run the :meth:`before_commit` hooks."""
        for hook in self._before_commit:
            hook()

    def after_commit(self, hook: Callable[[Mapping[TP, int]], object]) -> None:
        """Run ``hook`` with the committed offsets (of partitions still assigned) after every
        successful offset commit."""
        self._after_commit = (*self._after_commit, hook)

    def run_after_commit(self, offsets: Mapping[TP, int]) -> None:
        """Run the :meth:`after_commit` hooks."""
        for hook in self._after_commit:
            hook(offsets)


def build_app(settings: Settings) -> RiskFaustApp:
    """A Faust app with the id ``settings.risk_app_id``, configured by :func:`faust_settings`."""
    return RiskFaustApp(settings.risk_app_id, **faust_settings(settings))
