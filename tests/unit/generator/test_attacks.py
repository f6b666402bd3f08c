"""Each attack kind has the signature it claims; normal traffic has none of them."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from riskseal.generator import DEFAULT_START_MS, AttackKind, GeneratorConfig
from riskseal.generator.attacks import victim_count
from tests.unit.generator import checks
from tests.unit.generator.conftest import Run, run_of


def test_every_kind_is_injected_for_the_requested_share_of_users(mixed_run: Run) -> None:
    attacks = mixed_run.simulation.attacks
    assert {a.kind for a in attacks} == set(AttackKind)
    assert len(attacks) == 6  # 20 % of 30 users
    assert len({a.victim for a in attacks}) == len(attacks)
    for attack in attacks:
        window_start, window_end = mixed_run.simulation.config.attack_window
        assert window_start <= attack.start_ms < window_end


def test_labels_and_attack_ids(mixed_run: Run) -> None:
    checks.check_labels(mixed_run)


def test_impossible_travel_is_a_far_login_minutes_after_a_normal_one(mixed_run: Run) -> None:
    checks.check_impossible_travel(mixed_run)


def test_normal_users_never_travel(mixed_run: Run) -> None:
    checks.check_no_normal_travel(mixed_run)


def test_credential_stuffing_sprays_many_users_from_one_address(mixed_run: Run) -> None:
    assert len(checks.attacks_of(mixed_run, AttackKind.CREDENTIAL_STUFFING)) == 2
    checks.check_credential_stuffing(mixed_run)


def test_normal_typos_never_look_like_a_spray(mixed_run: Run) -> None:
    checks.check_no_normal_stuffing(mixed_run)


def test_exfiltration_bursts_far_above_the_baseline(mixed_run: Run) -> None:
    checks.check_exfiltration(mixed_run)


def test_normal_users_never_burst(mixed_run: Run) -> None:
    checks.check_no_normal_burst(mixed_run)
    checks.check_normal_pauses(mixed_run)


def test_privilege_escalation_grants_admin_then_configures(mixed_run: Run) -> None:
    checks.check_privilege_escalation(mixed_run)


def test_normal_traffic_never_grants_admin(mixed_run: Run) -> None:
    checks.check_no_normal_escalation(mixed_run)


def test_new_device_country_is_never_seen_before_yet_reachable(mixed_run: Run) -> None:
    checks.check_new_device_country(mixed_run, max_kmh=600)


def test_new_device_country_trips_are_plausible_for_every_office() -> None:
    config = GeneratorConfig(
        seed=21,
        users=80,
        sim_days=3,
        attacks=frozenset({AttackKind.NEW_DEVICE_COUNTRY}),
        attack_fraction=0.5,
    )
    run = run_of(config)
    homes = {user.home.name for user in run.simulation.population if user.uid in
             {attack.victim for attack in run.simulation.attacks}}  # fmt: skip
    assert len(homes) >= 10
    checks.check_new_device_country(run, max_kmh=600)


def test_normal_scenario_has_no_attacks() -> None:
    run = run_of(GeneratorConfig(seed=3, users=15, sim_days=1))
    assert run.simulation.attacks == ()
    assert {e.truth for e in run.events} == {"normal"}


def test_single_kind_scenario_injects_only_that_kind() -> None:
    config = GeneratorConfig(
        seed=3, users=40, attacks=frozenset({AttackKind.EXFILTRATION}), attack_fraction=0.1
    )
    run = run_of(config)
    assert [a.kind for a in run.simulation.attacks] == [AttackKind.EXFILTRATION] * 4
    assert {e.truth for e in run.events} == {"normal", "exfiltration"}
    checks.check_exfiltration(run)


def test_privilege_escalation_is_never_planned_for_an_admin() -> None:
    config = GeneratorConfig(
        seed=11, users=60, attacks=frozenset({AttackKind.PRIVILEGE_ESCALATION}), attack_fraction=1
    )
    run = run_of(config)
    admins = {user.uid for user in run.simulation.population if user.is_admin}
    assert admins
    victims = {attack.victim for attack in run.simulation.attacks}
    assert len(victims) == 60 - len(admins)
    assert not victims & admins


def test_victim_count() -> None:
    assert victim_count(users=100, kinds=5, fraction=0.05) == 5
    assert victim_count(users=100, kinds=1, fraction=0.05) == 5
    assert victim_count(users=100, kinds=1, fraction=0.0) == 1
    assert victim_count(users=100, kinds=5, fraction=0.2) == 20
    assert victim_count(users=3, kinds=5, fraction=0.05) == 3
    assert victim_count(users=100, kinds=0, fraction=0.5) == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**63),
    users=st.integers(min_value=12, max_value=24),
    sim_days=st.sampled_from([0.5, 1.0, 1.5, 3.0]),
    start_day=st.integers(min_value=0, max_value=6),
)
# A victim whose sessions left no pause long enough to reach the nearest foreign city was
# sent there anyway (new device and country at 1,064 km/h); such a user is no longer eligible.
@example(seed=955412, users=24, sim_days=0.5, start_day=2)
def test_invariants_and_signatures_hold_for_any_seed(
    seed: int, users: int, sim_days: float, start_day: int
) -> None:
    config = GeneratorConfig(
        seed=seed,
        users=users,
        sim_days=sim_days,
        start_ms=DEFAULT_START_MS + start_day * 86_400_000,
        attacks=frozenset(AttackKind),
        attack_fraction=0.3,
    )
    run = run_of(config)
    for check in checks.ALL_CHECKS:
        check(run)
