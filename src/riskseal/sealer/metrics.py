"""Counters of the sealer: records, blocks, bytes, seal lag, S3 errors."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from riskseal.block import Block


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

    def sealed(self, block: Block, written_ms: int) -> None:
        """Account for a block that was written."""
        self.blocks += 1
        self.records += len(block.records)
        self.bytes += sum(len(record.value or b"") for record in block.records)
        self.flagged += sum(record.flag is not None for record in block.records)
        stamped = [record.timestamp for record in block.records if record.timestamp >= 0]
        if stamped:
            self.lag_ms.append(max(0, written_ms - min(stamped)))
