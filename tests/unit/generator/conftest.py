"""One mixed run shared by the generator tests (planning and building it takes ~0.1 s)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from riskseal.generator import AttackKind, GeneratedEvent, GeneratorConfig, Simulation, simulate

MIXED = GeneratorConfig(
    seed=7, users=30, sim_days=2, attacks=frozenset(AttackKind), attack_fraction=0.2
)


@dataclass(frozen=True)
class Run:
    """A planned simulation and every event it produced."""

    simulation: Simulation
    events: list[GeneratedEvent]


def run_of(config: GeneratorConfig) -> Run:
    """Simulate ``config`` and collect its events."""
    simulation = simulate(config)
    return Run(simulation, list(simulation.events()))


@pytest.fixture(scope="session")
def mixed_run() -> Run:
    """30 users over two days, every attack kind, 20 % of the users attacked."""
    return run_of(MIXED)
