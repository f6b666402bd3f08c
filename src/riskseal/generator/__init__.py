"""Realistic, labelled, reproducible traffic: normal office behaviour with injected attacks.

The core is pure (no I/O): :func:`generate_events` turns a :class:`GeneratorConfig` into a
time-ordered stream of :class:`GeneratedEvent` (a contract ``AccessRequest`` or
``AccessAction`` plus its ground-truth label), which a risk engine can consume in-process.
``riskseal generate`` drives the same stream into Kafka (:mod:`riskseal.generator.publisher`)
or into JSON lines (:mod:`riskseal.generator.jsonl`).

**Reproducible.** Everything derives from the seed: users, habits, session times, event
ids (UUIDs drawn from seeded generators), attack victims and times. The same config gives the
same events byte for byte; only the SDK's source stamp differs between two publications.

**Simulated time.** Event times are simulated: the stream covers ``sim_days`` days from
``start_ms`` (sessions start in that period) regardless of how fast it is consumed. How
many events a run sends and how fast is the publisher's business (:class:`RunLimits`), so a
run can replay weeks of history in seconds, or trickle at a demo's pace.

**Ground truth outside the payload.** ``truth`` is ``"normal"`` or an :class:`AttackKind`
value and ``attack_id`` groups one attack instance; on Kafka they are the headers
``riskseal-truth`` and ``riskseal-attack-id``.

**Signatures.** Normal users work from their home city (usual addresses and devices,
working hours in their time zone) and pause at least 45 s between actions; each attack adds
what a detector should find — see the modules of :mod:`riskseal.generator.attacks`.
"""

from riskseal.generator.attacks.base import AttackInstance
from riskseal.generator.config import (
    DEFAULT_START_MS,
    SCENARIOS,
    GeneratorConfig,
    Scenario,
    parse_start,
    resolve_scenarios,
)
from riskseal.generator.jsonl import to_json_line
from riskseal.generator.model import (
    ATTACK_ID_HEADER,
    NORMAL,
    TRUTH_HEADER,
    TRUTH_LABELS,
    AttackKind,
    GeneratedEvent,
)
from riskseal.generator.pacing import Pacer, RunLimits
from riskseal.generator.population import UserProfile, build_population
from riskseal.generator.runner import drive
from riskseal.generator.simulation import Simulation, generate_events, simulate
from riskseal.generator.tally import Tally

__all__ = [
    "ATTACK_ID_HEADER",
    "DEFAULT_START_MS",
    "NORMAL",
    "SCENARIOS",
    "TRUTH_HEADER",
    "TRUTH_LABELS",
    "AttackInstance",
    "AttackKind",
    "GeneratedEvent",
    "GeneratorConfig",
    "Pacer",
    "RunLimits",
    "Scenario",
    "Simulation",
    "Tally",
    "UserProfile",
    "build_population",
    "drive",
    "generate_events",
    "parse_start",
    "resolve_scenarios",
    "simulate",
    "to_json_line",
]
