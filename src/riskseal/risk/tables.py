"""The state tables of the risk workers: one bounded value per user and per source IP.

Both are plain (not windowed) tables of raw bytes: ``users`` maps a user id to
``UserState.to_bytes()``, ``ips`` maps a source IP to ``IpState.to_bytes()``. The time
windows live inside those values and move with event time. Faust's windowed tables would
not do: their expiry runs on wall-clock time, windows restored from the changelog never
expire, and hopping ``current()`` is inconsistent.

A table partition is written from the stream partition of the same number, so ``users``
follows the co-partitioned ``access.requests`` / ``access.actions`` and ``ips`` the internal
per-IP topic; all have ``partitions_access`` partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TableT

from riskseal.settings import Settings

USERS_TABLE = "users"
IPS_TABLE = "ips"


@dataclass(frozen=True, slots=True)
class RiskTables:
    """The Faust tables of one app."""

    users: TableT[bytes, bytes]
    ips: TableT[bytes, bytes]


def build_tables(app: faust.App, settings: Settings) -> RiskTables:
    """Declare the ``users`` and ``ips`` tables on ``app``."""

    def table(name: str, help_text: str) -> TableT[bytes, bytes]:
        return app.Table(
            name,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions_access,
            help=help_text,
        )

    return RiskTables(
        users=table(USERS_TABLE, "UserState.to_bytes() by user id"),
        ips=table(IPS_TABLE, "IpState.to_bytes() by source IP"),
    )


def changelog_topic(settings: Settings, table: str) -> str:
    """The changelog topic Faust writes for ``table`` of the app ``settings.risk_app_id``."""
    return f"{settings.risk_app_id}-{table}-changelog"
