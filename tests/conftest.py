"""Marks every test under tests/integration as needing the real local stack; in CI, runs
the property tests on hypothesis' derandomized examples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

INTEGRATION_DIR = Path(__file__).parent / "integration"

# Locally every run draws new examples, which is how property tests find new bugs. CI runs
# the same examples every time (derived from each test), so a change is judged on its own
# and not on a draw; a failure found locally is kept with an @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
