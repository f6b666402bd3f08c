"""Scenario names, start dates and config checks."""

from __future__ import annotations

import pytest

from riskseal.errors import ConfigError
from riskseal.generator import (
    DEFAULT_START_MS,
    SCENARIOS,
    AttackKind,
    GeneratorConfig,
    parse_start,
    resolve_scenarios,
)


def test_scenarios_resolve_to_attack_kinds() -> None:
    assert resolve_scenarios(["normal"]) == frozenset()
    assert resolve_scenarios([]) == frozenset()
    assert resolve_scenarios(["mixed"]) == frozenset(AttackKind)
    assert resolve_scenarios(["normal", "exfiltration", "exfiltration"]) == {
        AttackKind.EXFILTRATION
    }
    assert resolve_scenarios(["impossible_travel", "new_device_country"]) == {
        AttackKind.IMPOSSIBLE_TRAVEL,
        AttackKind.NEW_DEVICE_COUNTRY,
    }
    assert set(SCENARIOS) == {"normal", "mixed", *AttackKind}


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown scenario 'ddos'; choose from normal, mixed"):
        resolve_scenarios(["ddos"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-06", DEFAULT_START_MS),
        ("2025-01-06T00:00:00Z", DEFAULT_START_MS),
        ("2025-01-06T08:30:00", DEFAULT_START_MS + 8 * 3_600_000 + 1_800_000),
        ("2025-01-06T01:00:00+01:00", DEFAULT_START_MS),
    ],
)
def test_start_dates(text: str, expected: int) -> None:
    assert parse_start(text) == expected


def test_bad_start_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--start 'yesterday' is not an ISO date"):
        parse_start("yesterday")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"users": 0}, "users must be at least 1"),
        ({"sim_days": 0.0}, "sim_days must be positive"),
        ({"sim_days": float("nan")}, "sim_days must be positive"),
        ({"sim_days": 0.0001}, "at least one minute"),
        ({"attack_fraction": -0.1}, "attack_fraction must be in 0..1"),
        ({"sim_days": 1e9}, "sim_days is at most 3,660"),
        ({"start_ms": -1}, "between 1970-01-01 and 9999-12-30"),
        ({"start_ms": 253_402_214_400_000, "sim_days": 5}, "between 1970-01-01 and 9999-12-30"),
        ({"users": 1, "attacks": frozenset({AttackKind.CREDENTIAL_STUFFING})}, "at least 2 users"),
    ],
)
def test_config_checks(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GeneratorConfig(**fields)  # type: ignore[arg-type]


def test_period_and_attack_window() -> None:
    config = GeneratorConfig(sim_days=2)
    assert config.span_ms == 2 * 86_400_000
    assert config.end_ms == DEFAULT_START_MS + config.span_ms
    assert config.attack_window == (DEFAULT_START_MS + 43_200_000, config.end_ms)
