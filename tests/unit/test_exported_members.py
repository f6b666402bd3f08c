"""The public API is what the packages export; changes to it are deliberate."""

from __future__ import annotations

import riskseal
import riskseal.stack


def test_top_level_exports() -> None:
    assert sorted(riskseal.__all__) == ["RiskSealError", "Settings", "__version__"]


def test_stack_exports() -> None:
    assert sorted(riskseal.stack.__all__) == [
        "LocalStack",
        "StackEndpoints",
        "StackPorts",
        "StackStatus",
        "find_free_ports",
    ]
