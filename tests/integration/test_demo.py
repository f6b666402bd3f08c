"""`make demo` keeps working: the demo runs end to end and shows every guarantee."""

from __future__ import annotations

import io

from rich.console import Console

from riskseal.demo import run_demo
from riskseal.settings import Settings


def test_demo_runs_end_to_end_and_catches_the_tampered_copy() -> None:
    output = io.StringIO()
    run_demo(Console(file=output, width=200), Settings.local())
    text = output.getvalue()
    assert "bob reads step-payroll: STEP_UP" in text
    assert "REFUSED before reaching Kafka: invalid AccessRequest: src_endpoint.ip" in text
    assert "sealed 9 records" in text
    assert "CAUGHT one flipped bit in a local copy" in text
    assert "records do not match the signed Merkle root" in text
    assert "still has exactly one version, unchanged" in text
