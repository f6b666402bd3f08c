"""The topics of the risk workers, all carrying raw bytes.

Values stay bytes end to end: the agents decode them with the event codec themselves, so a
record that does not decode is routed to the dead-letter topic instead of crashing the agent
(Faust's own value decoding raises inside the stream). Keys are user ids, except on the
internal per-IP stream, which is keyed by source IP.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

from riskseal.settings import Settings

RAW = "raw"


def ip_failures_topic(settings: Settings) -> str:
    """Name of the internal topic of failed sign-ins keyed by source IP."""
    return f"{settings.risk_app_id}-auth-failures-by-ip"


def worker_topic_partitions(settings: Settings) -> dict[str, int]:
    """Every topic a worker reads or writes, with its partition count, for provisioning.

    Faust's changelog topics are not listed: Faust creates them itself, with
    ``partitions_access`` partitions (the app's ``topic_partitions``).
    """
    return {
        **settings.topic_partitions,
        ip_failures_topic(settings): settings.partitions_access,
    }


@dataclass(frozen=True, slots=True)
class RiskTopics:
    """The Faust topic objects of one app."""

    requests: TopicT
    actions: TopicT
    decisions: TopicT
    alerts: TopicT
    deadletter: TopicT
    ip_failures: TopicT


def build_topics(app: faust.App, settings: Settings) -> RiskTopics:
    """Declare the risk topics on ``app``, each with its partition count."""

    def raw(name: str, partitions: int, *, allow_empty: bool = False) -> TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer=RAW,
            value_serializer=RAW,
            partitions=partitions,
            allow_empty=allow_empty,
        )

    return RiskTopics(
        # allow_empty: a record without a value reaches the agent and is dead-lettered.
        requests=raw(settings.topic_requests, settings.partitions_access, allow_empty=True),
        actions=raw(settings.topic_actions, settings.partitions_access, allow_empty=True),
        decisions=raw(settings.topic_decisions, settings.partitions_decisions),
        alerts=raw(settings.topic_alerts, settings.partitions_alerts),
        deadletter=raw(settings.topic_deadletter, settings.partitions_deadletter),
        ip_failures=raw(ip_failures_topic(settings), settings.partitions_access),
    )
