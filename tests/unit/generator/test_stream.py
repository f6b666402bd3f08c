"""The merged stream: time order, lazy merging, sessions, habits in time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from riskseal.contract import AccessAction, Actor, Outcome, Resource
from riskseal.generator import NORMAL, GeneratedEvent, GeneratorConfig
from riskseal.generator.catalog import CONFIG_RESOURCES, SSO_APP, role_resource
from riskseal.generator.merge import merge_sources
from riskseal.generator.model import GENERATOR_SOURCE
from riskseal.generator.sessions import (
    DAY_MS,
    GRANTABLE_ROLES,
    HOUR_MS,
    is_weekday,
    local_day,
)
from tests.unit.generator import checks
from tests.unit.generator.conftest import Run, run_of


def _event(time_ms: int, name: str) -> GeneratedEvent:
    return GeneratedEvent(
        AccessAction(
            event_id="00000000-0000-4000-8000-000000000000",
            time=time_ms,
            source=GENERATOR_SOURCE,
            actor=Actor(name),
            action="data.read",
            resource=Resource("doc", "d"),
            outcome=Outcome.SUCCESS,
        )
    )


@dataclass
class FakeSource:
    start_ms: int
    label: str
    times: list[int]
    built: int = 0

    def events(self) -> list[GeneratedEvent]:
        self.built += 1
        return [_event(time, self.label) for time in self.times]


def test_merge_orders_by_time_then_label_then_position() -> None:
    sources = [
        FakeSource(10, "b", [10, 20, 20, 50]),
        FakeSource(10, "a", [10, 20, 60]),
        FakeSource(5, "c", [5, 70]),
        FakeSource(30, "d", []),
    ]
    merged = [(e.time_ms, e.user_id) for e in merge_sources(sources)]
    assert merged == [
        (5, "c"), (10, "a"), (10, "b"), (20, "a"), (20, "b"), (20, "b"), (50, "b"), (60, "a"),
        (70, "c"),
    ]  # fmt: skip


def test_merge_opens_a_source_only_when_the_clock_reaches_it() -> None:
    early = FakeSource(0, "early", [0, 1, 2])
    late = FakeSource(1_000, "late", [1_000])
    stream = merge_sources([late, early])
    assert next(stream).time_ms == 0
    assert (early.built, late.built) == (1, 0)
    assert [e.time_ms for e in stream] == [1, 2, 1_000]
    assert late.built == 1


def test_stream_is_in_time_order_and_ids_are_unique(mixed_run: Run) -> None:
    checks.check_time_order(mixed_run)
    checks.check_unique_ids(mixed_run)


def test_sessions_start_with_a_login_and_keep_device_and_endpoint(mixed_run: Run) -> None:
    checks.check_sessions(mixed_run)


def test_actions_link_to_their_requests(mixed_run: Run) -> None:
    checks.check_requests_link_actions(mixed_run)
    linked = [
        e for e in mixed_run.events if isinstance(e.event, AccessAction) and e.event.request_id
    ]
    assert len(linked) > 100


def test_normal_sessions_sometimes_begin_with_one_typo(mixed_run: Run) -> None:
    normal = checks.normal_events(mixed_run)
    logins = [
        e.event
        for e in normal
        if isinstance(e.event, AccessAction) and e.event.action == "auth.login"
    ]
    typos = [i for i, login in enumerate(logins) if login.outcome is Outcome.FAILURE]
    assert 0 < len(typos) < 0.1 * len(logins)
    for i in typos:
        typo = logins[i]
        assert typo.status_detail == "bad_password"
        assert typo.session_id is None  # a refused login starts no session
        retry = next(later for later in logins[i + 1 :] if later.actor.uid == typo.actor.uid)
        assert retry.outcome is Outcome.SUCCESS
        assert 4_000 <= retry.time - typo.time <= 25_000


def test_working_hours_weekdays_and_weekends() -> None:
    run = run_of(GeneratorConfig(seed=5, users=40, sim_days=7))
    profiles = {user.uid: user for user in run.simulation.population}
    weekend = 0
    hours: Counter[int] = Counter()
    for generated in run.events:
        user = profiles[generated.user_id]
        local = generated.time_ms + user.utc_offset_ms
        hours[(local % DAY_MS) // HOUR_MS] += 1
        if not is_weekday(local_day(generated.time_ms, user)):
            weekend += 1
    assert 0 < weekend < 0.06 * len(run.events)
    assert set(hours) <= set(range(6, 22))
    busiest = hours.most_common(1)[0][0]
    assert 9 <= busiest <= 17


def test_sessions_start_within_the_simulated_period() -> None:
    config = GeneratorConfig(seed=9, users=25, sim_days=0.5, start_ms=1_736_154_000_000)
    run = run_of(config)
    assert run.events
    logins = [e for e in run.events if e.event.action == "auth.login"]
    assert all(config.start_ms <= e.time_ms < config.end_ms for e in logins)
    # The last sessions may finish after the end, but not by hours.
    assert run.events[-1].time_ms < config.end_ms + 6 * HOUR_MS


def test_normal_users_keep_their_habits(mixed_run: Run) -> None:
    profiles = {user.uid: user for user in mixed_run.simulation.population}
    for generated in mixed_run.events:
        if generated.truth != NORMAL:
            continue
        user = profiles[generated.user_id]
        event = generated.event
        assert event.device_id in user.devices
        assert event.src_endpoint in user.endpoints
        assert event.actor == user.actor
        usual = {*user.resources, SSO_APP}
        if user.is_admin:
            usual.update(CONFIG_RESOURCES)
            usual.update(role_resource(role) for role in GRANTABLE_ROLES)
        assert event.resource in usual
