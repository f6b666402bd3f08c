"""Counters of the sealer: records, blocks, bytes, seal lag, S3 errors."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from riskseal.sealer.batch import PendingRecord


@dataclass
class SealerMetrics:
    """What the sealer has done since it started; read by logs, tests and benchmarks."""

    records: int = 0
    blocks: int = 0
    bytes: int = 0
    flagged: int = 0
    conflicts: int = 0
    s3_errors: int = 0
    checkpoints: int = 0
    stopped_chains: int = 0
    lag_ms: deque[int] = field(default_factory=lambda: deque(maxlen=10_000))
    """Seal lag of recent blocks: oldest record timestamp to block written, in ms."""
    block_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    """Time to build, sign and write each recent block, in ms."""

    def summary(self) -> str:
        """One log line: totals and the median seal lag of recent blocks."""
        lag = sorted(self.lag_ms)
        median = f"{lag[len(lag) // 2]} ms" if lag else "n/a"
        return (
            f"sealed {self.records} records ({self.flagged} flagged) in {self.blocks} blocks, "
            f"{self.bytes} bytes; seal lag p50 {median}; {self.conflicts} lost races, "
            f"{self.s3_errors} S3 errors, {self.checkpoints} checkpoints, "
            f"{self.stopped_chains} stopped chains"
        )

    def sealed(self, records: Sequence[PendingRecord], written_ms: int, took_ms: float) -> None:
        """Account for a block of ``records`` that was written in ``took_ms``."""
        self.block_ms.append(took_ms)
        self.blocks += 1
        self.records += len(records)
        self.bytes += sum(len(record.data) for record in records)
        self.flagged += sum(record.flagged for record in records)
        stamped = [record.timestamp for record in records if record.timestamp >= 0]
        if stamped:
            self.lag_ms.append(max(0, written_ms - min(stamped)))
