"""The generator's public API is what its package exports; changes to it are deliberate."""

from __future__ import annotations

import subprocess
import sys

import riskseal.generator


def test_generator_exports() -> None:
    assert sorted(riskseal.generator.__all__) == sorted(
        [
            "ATTACK_ID_HEADER", "DEFAULT_START_MS", "NORMAL", "SCENARIOS", "TRUTH_HEADER",
            "TRUTH_LABELS", "AttackInstance", "AttackKind", "GeneratedEvent", "GeneratorConfig",
            "Pacer", "RunLimits", "Scenario", "Simulation", "Tally", "UserProfile",
            "build_population", "drive", "generate_events", "parse_start", "resolve_scenarios",
            "simulate", "to_json_line",
        ]
    )  # fmt: skip


def test_the_core_does_not_pull_in_kafka() -> None:
    # A risk engine consumes the stream in-process; that must not need the Kafka edge.
    code = (
        "import sys, riskseal.generator; "
        "print(sorted(m for m in sys.modules if m.startswith(('confluent_kafka', "
        "'riskseal.sdk', 'riskseal.generator.publisher'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
