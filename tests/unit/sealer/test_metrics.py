"""Sealer metrics: the periodic log line."""

from __future__ import annotations

from riskseal.sealer.batch import SealedBatch
from riskseal.sealer.metrics import SealerMetrics


def test_sealer_metrics_summary_names_every_counter() -> None:
    metrics = SealerMetrics()
    metrics.sealed(SealedBatch([b"xyz", b"ab"], 0, 1, 5, 1, 1_000), 3_000, 4.0)
    metrics.s3_errors = 2
    assert metrics.summary() == (
        "sealed 2 records (1 flagged) in 1 blocks, 5 bytes; seal lag p50 2000 ms; "
        "0 lost races, 2 S3 errors, 0 checkpoints, 0 stopped chains"
    )
