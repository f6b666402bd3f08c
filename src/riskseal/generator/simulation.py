"""A whole run planned from its config: population, sessions, attacks; then the stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from riskseal.generator.attacks import plan_attacks
from riskseal.generator.attacks.base import AttackContext, AttackInstance, EventSource
from riskseal.generator.config import GeneratorConfig
from riskseal.generator.merge import merge_sources
from riskseal.generator.model import GeneratedEvent
from riskseal.generator.population import UserProfile, build_population
from riskseal.generator.sessions import plan_sessions


@dataclass(frozen=True, slots=True)
class Simulation:
    """A planned run: who the users are, which attacks happen, and the event sources."""

    config: GeneratorConfig
    population: tuple[UserProfile, ...]
    attacks: tuple[AttackInstance, ...]
    sources: tuple[EventSource, ...]

    def events(self) -> Iterator[GeneratedEvent]:
        """The run's events in time order (built lazily; each call starts over)."""
        return merge_sources(self.sources)


def simulate(config: GeneratorConfig) -> Simulation:
    """Plan the run ``config`` describes."""
    population = build_population(config.seed, config.users)
    sessions = {
        user.index: plan_sessions(config.seed, user, config.start_ms, config.end_ms)
        for user in population
    }
    window_start, window_end = config.attack_window
    context = AttackContext(config.seed, population, sessions, window_start, window_end)
    planned = plan_attacks(context, config.attacks, config.attack_fraction)
    sources: list[EventSource] = [plan for plans in sessions.values() for plan in plans]
    sources.extend(source for attack in planned for source in attack.sources)
    return Simulation(
        config, population, tuple(attack.instance for attack in planned), tuple(sources)
    )


def generate_events(config: GeneratorConfig) -> Iterator[GeneratedEvent]:
    """The events of the run ``config`` describes, in time order, with their truth labels.

    A risk engine can consume this in-process for detection benchmarks::

        for generated in generate_events(GeneratorConfig(seed=7, users=200, sim_days=7,
                                                         attacks=frozenset(AttackKind))):
            engine.process(generated.event)
            score(generated.truth, generated.attack_id)
    """
    return simulate(config).events()
