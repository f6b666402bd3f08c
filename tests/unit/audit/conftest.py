"""Fixtures of the auditor's tests: the settings a sealed test trail needs, and the trail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.audit.trail import ORIGIN, PREFIX, Trail, build_trail


@pytest.fixture(autouse=True)
def _trail_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the trail under the prefix and log origin it was sealed with."""
    monkeypatch.setenv("RISKSEAL_S3_PREFIX", PREFIX)
    monkeypatch.setenv("RISKSEAL_LOG_ORIGIN", ORIGIN)


@pytest.fixture
def trail(tmp_path: Path) -> Trail:
    """Nine requests (users u0..u2, time NOW+n) in three blocks, their nine decisions in two."""
    return build_trail(tmp_path / "bucket")
