"""Options of the commands that read the sealed trail (verify, export, replay, prove)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from riskseal.audit.report import VerifyOptions

LocalCopyOption = Annotated[
    Path | None,
    typer.Option(
        "--local", help="Read a local copy of the bucket (made with any S3 tool) instead of S3."
    ),
]
TrustOption = Annotated[
    list[Path] | None,
    typer.Option("--trust", help="File with a trusted vkey (repeatable); pins the keys."),
]
ChainOption = Annotated[
    str | None, typer.Option("--chain", help="Only this chain: cluster/topic/partition.")
]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number of seconds; give e.g. 3600")
    return value


MaxCheckpointAgeOption = Annotated[
    float,
    typer.Option(
        "--max-checkpoint-age",
        help="Newest checkpoint older than this (seconds) is stale.",
        min=0.0,
        callback=_finite,
    ),
]
MinRetentionDaysOption = Annotated[
    int | None,
    typer.Option(
        "--min-retention-days",
        help="Minimum Object Lock retention, in days.",
        show_default="the setting object_lock_retention_days",
        min=1,
    ),
]
ProgressOption = Annotated[
    bool,
    typer.Option(
        "--progress", help="Draw a progress bar on stderr even when it is not a terminal."
    ),
]
DEFAULT_MAX_CHECKPOINT_AGE_S = VerifyOptions.max_checkpoint_age_s
"""The default of ``--max-checkpoint-age``: :class:`VerifyOptions`' own."""
