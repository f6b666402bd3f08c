"""Running a risk worker: the app, its topics, tables and agents, under a Faust worker.

``run_worker(settings)`` is what ``riskseal risk worker`` calls. It creates the topics the
worker needs (explicitly, with their partition counts: a broker that auto-creates topics
would pick its own count and break co-partitioning by user), builds the app and runs it
until SIGTERM or Ctrl-C, on which Faust commits what was processed and leaves the group.

The web server listens on 127.0.0.1 at ``risk_web_port``; the data directory of the
tables is ``risk_data_dir`` (a setting of the app, which the ``faust`` command line would
take as its own ``--datadir`` option, before ``worker``).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.types import TP

from riskseal.contract.codec import EventCodec
from riskseal.errors import ConfigError
from riskseal.risk.agents import RiskProcessor, register_agents
from riskseal.risk.alignment import Lane, Merger
from riskseal.risk.app import WEB_HOST, ConsumerPositions, build_app
from riskseal.risk.engine import RiskEngine
from riskseal.risk.shutdown import ShutdownWatchdog
from riskseal.risk.tables import RiskTables, build_tables
from riskseal.risk.topics import RiskTopics, build_topics, worker_topic_partitions
from riskseal.risk.web import register_pages
from riskseal.settings import Settings
from riskseal.stack.ports import port_is_free
from riskseal.stack.provision import ensure_settings_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RiskApp:
    """A configured Faust app with everything declared on it."""

    app: faust.App
    topics: RiskTopics
    tables: RiskTables
    processor: RiskProcessor


def worker_source_id(settings: Settings) -> str:
    """The source id this worker stamps on its decisions and alerts."""
    return settings.source_id or f"{settings.risk_app_id}@{socket.gethostname()}/{os.getpid()}"


def create_risk_app(settings: Settings, engine: RiskEngine | None = None) -> RiskApp:
    """The app for ``settings``; the engine is loaded from the settings unless given."""
    if engine is None:
        engine = RiskEngine.load(
            settings, source_id=worker_source_id(settings), epoch=time.time_ns() // 1_000_000
        )
    app = build_app(settings)
    topics = build_topics(app, settings)
    tables = build_tables(app, settings)
    processor = RiskProcessor(
        engine,
        topics,
        tables,
        EventCodec(max_event_bytes=settings.max_event_bytes),
        max_event_ahead_s=settings.risk_max_event_ahead_s,
    )
    lanes = {Lane.REQUESTS: settings.topic_requests, Lane.ACTIONS: settings.topic_actions}
    merger: Merger[Any] = Merger(ConsumerPositions(app, lanes))
    register_agents(app, processor, merger, settings.risk_reload_interval_s)
    app.before_commit(processor.write_states)
    app.after_commit(processor.forget_committed)

    def forget_revoked(sender: object, revoked: set[TP], **kwargs: object) -> None:
        processor.forget_partitions(revoked)
        for lane, topic in lanes.items():
            merger.forget(lane, [tp.partition for tp in revoked if tp.topic == topic])

    # mode types signal receivers loosely (any positional arguments); this one takes the set.
    app.on_partitions_revoked.connect(cast(Any, forget_revoked))
    register_pages(app, topics, processor.user_state, processor.output_status)
    return RiskApp(app, topics, tables, processor)


def provision_topics(settings: Settings) -> None:
    """Create the topics the worker reads and writes, if missing; check their partitions."""
    ensure_settings_topics(settings, worker_topic_partitions(settings))


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    """Provision the topics and run a worker until SIGTERM / SIGINT; raises SystemExit."""
    _check_local_resources(settings)
    provision_topics(settings)
    risk = create_risk_app(settings)
    log.info(
        "risk worker %s: store %s in %s, web on 127.0.0.1:%d, engine %s",
        settings.risk_app_id,
        settings.risk_store,
        settings.risk_data_dir,
        settings.risk_web_port,
        risk.processor.engine.versions,
    )
    watchdog = ShutdownWatchdog(settings.risk_shutdown_timeout_s)
    worker = _BoundedStopWorker(risk.app, loglevel=loglevel, redirect_stdouts=False)
    worker.watchdog = watchdog
    # At --loglevel warning or above, Faust's terminal spinner sets the root logger to DEBUG
    # so that every debug record of Faust and aiokafka turns it: measured, that costs ~5% of
    # a busy worker's CPU, and a worker is a service, not a terminal program.
    worker.spinner = None
    # What was built so far (modules, the engine, the app and its declarations) lives as
    # long as the process: out of the collector's way, a full collection walks only what
    # came after (measured: pauses of ~40 ms every few seconds at 1,000 requests/s, which
    # showed as decision latency; ~12 ms after).
    gc.collect()
    gc.freeze()
    worker.execute_from_commandline()


def _check_local_resources(settings: Settings) -> None:
    """ConfigError, before anything starts, for a web port in use or a data directory that
    cannot be made (Faust fails on them later, with a traceback)."""
    port = settings.risk_web_port
    if not port_is_free(WEB_HOST, port):
        raise ConfigError(
            f"port {port} on {WEB_HOST} (the worker's web pages) is in use, by another worker?"
            " Give each worker its own: --web-port or RISKSEAL_RISK_WEB_PORT"
        )
    try:
        settings.risk_data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot make the worker's data directory {settings.risk_data_dir}: "
            f"{exc.strerror or exc}; choose another with --data-dir or RISKSEAL_RISK_DATA_DIR"
        ) from exc


class _BoundedStopWorker(faust.Worker):
    """Faust's worker whose stop on a signal is bounded by a :class:`ShutdownWatchdog`."""

    watchdog: ShutdownWatchdog

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        self.watchdog.signalled()
        super()._schedule_shutdown(signal)
