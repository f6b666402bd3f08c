"""Counters of the sealer: records, blocks, bytes, seal lag, S3 errors."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from riskseal.sealer.batch import SealedBatch


@dataclass
class SealerMetrics:
    """What the sealer has done since it started; read by logs, tests and benchmarks."""

    consumed: int = 0
    """Messages taken from Kafka (re-deliveries after a seek included)."""
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

    def sealed(self, batch: SealedBatch, written_ms: int, took_ms: float) -> None:
        """Account for a block of ``batch`` that was written in ``took_ms``."""
        self.block_ms.append(took_ms)
        self.blocks += 1
        self.records += len(batch.records)
        self.bytes += batch.size_bytes
        self.flagged += batch.flagged
        if batch.oldest_ms is not None:
            self.lag_ms.append(max(0, written_ms - batch.oldest_ms))
