"""Invariants and attack signatures of a run, shared by the named tests and the property test."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

from riskseal.contract import AccessAction, AccessRequest, EventCodec, Outcome
from riskseal.generator import NORMAL, AttackKind, GeneratedEvent
from riskseal.generator.catalog import ADMIN_ROLE
from tests.unit.generator.conftest import Run
from tests.unit.generator.signatures import (
    MINUTE_MS,
    by_user,
    impossible_pairs,
    is_login,
    max_in_window,
    sensitive_read_times,
    speed_kmh,
    stuffing_ips,
)

CODEC = EventCodec()
NORMAL_BURST_LIMIT = 15
"""No normal user reads this many sensitive resources in ten minutes."""
EXFILTRATION_BURST = 50


def attacks_of(run: Run, kind: AttackKind) -> dict[str, list[GeneratedEvent]]:
    """The events of each attack of ``kind``, by attack id (every planned one listed)."""
    grouped: dict[str, list[GeneratedEvent]] = {
        a.attack_id: [] for a in run.simulation.attacks if a.kind is kind
    }
    for generated in run.events:
        if generated.attack_id in grouped:
            grouped[generated.attack_id].append(generated)
    return grouped


def normal_events(run: Run) -> list[GeneratedEvent]:
    """The events labelled normal."""
    return [e for e in run.events if e.truth == NORMAL]


def victim_events(run: Run, uid: str) -> list[GeneratedEvent]:
    """Every event of user ``uid``, in stream order."""
    return [e for e in run.events if e.user_id == uid]


def check_valid_events(run: Run) -> None:
    """Every event fits the contract."""
    for generated in run.events:
        CODEC.encode_event(generated.event)


def check_time_order(run: Run) -> None:
    """Event times never go backwards; nothing happens before the start."""
    times = [e.time_ms for e in run.events]
    assert times == sorted(times)
    assert not times or times[0] >= run.simulation.config.start_ms


def check_labels(run: Run) -> None:
    """Normal events have no attack id; every attack's events share its kind and id."""
    kinds = {a.attack_id: a.kind.value for a in run.simulation.attacks}
    for generated in run.events:
        if generated.truth == NORMAL:
            assert generated.attack_id is None
        else:
            assert generated.attack_id is not None
            assert kinds[generated.attack_id] == generated.truth
    seen = {e.attack_id for e in run.events if e.attack_id is not None}
    assert seen == set(kinds)


def check_impossible_travel(run: Run) -> None:
    """Each attack logs in > 500 km away faster than 1,000 km/h after a normal login."""
    pairs = impossible_pairs(run.events)
    for attack_id in attacks_of(run, AttackKind.IMPOSSIBLE_TRAVEL):
        assert any(
            first.truth == NORMAL and second.attack_id == attack_id for first, second in pairs
        ), f"impossible travel {attack_id} has no impossible pair"


def check_no_normal_travel(run: Run) -> None:
    """A normal user's events all come from one city, so no login pair is impossible."""
    normal = normal_events(run)
    assert impossible_pairs(normal) == []
    for events in by_user(normal).values():
        cities = {e.event.src_endpoint.location for e in events}
        assert len(cities) == 1


def check_credential_stuffing(run: Run) -> None:
    """>= 10 failed logins of >= 5 users from one address in 10 minutes; brute force."""
    for attack_id, events in attacks_of(run, AttackKind.CREDENTIAL_STUFFING).items():
        assert stuffing_ips(events, 10, 5, 10 * MINUTE_MS), attack_id
        victim = next(a.victim for a in run.simulation.attacks if a.attack_id == attack_id)
        failed = [e for e in events if e.user_id == victim and is_login(e, Outcome.FAILURE)]
        assert len(failed) >= 15
        assert len({e.event.src_endpoint.ip for e in failed}) == 1
        assert all(e.event.session_id is None for e in events if is_login(e, Outcome.FAILURE))
        succeeded = [e for e in events if is_login(e, Outcome.SUCCESS)]
        assert len(succeeded) <= 1
        if succeeded:
            assert succeeded[0].user_id == victim
            assert succeeded[0].time_ms > max(e.time_ms for e in failed)


def check_no_normal_stuffing(run: Run) -> None:
    """Normal typos never add up to a spray, even at lower thresholds."""
    assert stuffing_ips(normal_events(run), 5, 3, 10 * MINUTE_MS) == set()


def check_exfiltration(run: Run) -> None:
    """A burst of sensitive reads far above the victim's own and everyone's normal peak."""
    normal_peak = max(
        (
            max_in_window(sensitive_read_times(events), 10 * MINUTE_MS)
            for events in by_user(normal_events(run)).values()
        ),
        default=0,
    )
    for attack_id, events in attacks_of(run, AttackKind.EXFILTRATION).items():
        burst = max_in_window(sensitive_read_times(events), 10 * MINUTE_MS)
        victim = events[0].user_id
        own = [e for e in victim_events(run, victim) if e.truth == NORMAL]
        own_peak = max_in_window(sensitive_read_times(own), 10 * MINUTE_MS)
        assert burst >= EXFILTRATION_BURST, attack_id
        assert burst >= 3 * max(1, own_peak, normal_peak), (burst, own_peak, normal_peak)


def check_no_normal_burst(run: Run) -> None:
    """No normal user ever reads sensitive resources in a burst."""
    for user, events in by_user(normal_events(run)).items():
        peak = max_in_window(sensitive_read_times(events), 10 * MINUTE_MS)
        assert peak < NORMAL_BURST_LIMIT, (user, peak)


def check_privilege_escalation(run: Run) -> None:
    """A non-admin grants themself admin, then configures as admin."""
    for attack_id, events in attacks_of(run, AttackKind.PRIVILEGE_ESCALATION).items():
        grants = [
            e
            for e in events
            if isinstance(e.event, AccessAction)
            and e.event.action == "role.grant"
            and e.event.resource.uid == ADMIN_ROLE
            and e.event.outcome is Outcome.SUCCESS
        ]
        assert len(grants) == 1, attack_id
        grant = grants[0].event
        assert ADMIN_ROLE not in grant.actor.roles
        assert grant.attributes["grantee"] == grant.actor.uid
        after = [e.event for e in events if e.time_ms > grant.time]
        configs = [e for e in after if e.action == "admin.config"]
        assert configs
        assert all(ADMIN_ROLE in e.actor.roles and e.actor.uid == grant.actor.uid for e in after)


def check_no_normal_escalation(run: Run) -> None:
    """Normal traffic never grants admin; only admins configure."""
    for generated in normal_events(run):
        event = generated.event
        if event.action in ("role.grant", "role.revoke"):
            assert event.resource.uid != ADMIN_ROLE
        if event.action in ("admin.config", "role.grant", "role.revoke"):
            assert ADMIN_ROLE in event.actor.roles


def check_new_device_country(run: Run, max_kmh: float = 1_000) -> None:
    """A successful login from a device and a country the user was never seen with.

    The trip from the user's normal activity must be possible: below ``max_kmh``.
    """
    for attack_id, events in attacks_of(run, AttackKind.NEW_DEVICE_COUNTRY).items():
        login = events[0]
        assert is_login(login, Outcome.SUCCESS), attack_id
        earlier = [e for e in victim_events(run, login.user_id) if e.time_ms < login.time_ms]
        location = login.event.src_endpoint.location
        assert location is not None
        assert login.event.device_id not in {e.event.device_id for e in earlier}
        seen_countries = {
            e.event.src_endpoint.location.country
            for e in earlier
            if e.event.src_endpoint.location is not None
            and not (isinstance(e.event, AccessAction) and e.event.outcome is Outcome.FAILURE)
        }
        assert location.country not in seen_countries
        # Kept apart from impossible travel: the trip from any normal activity is possible.
        for other in victim_events(run, login.user_id):
            if other.truth == NORMAL:
                distance, speed = speed_kmh(other, login)
                assert distance <= 500 or speed <= max_kmh, (attack_id, distance, speed)


def check_requests_link_actions(run: Run) -> None:
    """An action's request_id names an earlier request of the same user, action and resource."""
    requests: dict[str, AccessRequest] = {}
    for generated in run.events:
        event = generated.event
        if isinstance(event, AccessRequest):
            requests[event.event_id] = event
        elif event.request_id is not None:
            request = requests[event.request_id]
            assert request.time <= event.time
            assert (request.actor.uid, request.action, request.resource) == (
                event.actor.uid,
                event.action,
                event.resource,
            )
            assert request.trace_id == event.trace_id


def check_sessions(run: Run) -> None:
    """A session starts with a successful login and keeps its user, device and endpoint."""
    sessions: dict[str, list[GeneratedEvent]] = defaultdict(list)
    for generated in run.events:
        if generated.event.session_id is not None:
            sessions[generated.event.session_id].append(generated)
    assert sessions
    for events in sessions.values():
        assert is_login(events[0], Outcome.SUCCESS)
        first = events[0].event
        for generated in events:
            event = generated.event
            assert (event.actor.uid, event.device_id, event.src_endpoint) == (
                first.actor.uid,
                first.device_id,
                first.src_endpoint,
            )
            assert generated.attack_id == events[0].attack_id


def check_normal_pauses(run: Run) -> None:
    """In a normal session, things done are at least 45 s apart (so there are no bursts)."""
    starts: dict[str, dict[str, int]] = defaultdict(dict)
    for generated in normal_events(run):
        event = generated.event
        if event.session_id is not None and event.trace_id is not None:
            starts[event.session_id].setdefault(event.trace_id, event.time)
    assert starts
    for traces in starts.values():
        times = sorted(traces.values())
        assert all(later - earlier >= 45_000 for earlier, later in pairwise(times))


def check_unique_ids(run: Run) -> None:
    """Event ids never repeat."""
    ids = [e.event.event_id for e in run.events]
    assert len(ids) == len(set(ids))


ALL_CHECKS = (
    check_valid_events,
    check_time_order,
    check_labels,
    check_unique_ids,
    check_sessions,
    check_requests_link_actions,
    check_impossible_travel,
    check_no_normal_travel,
    check_credential_stuffing,
    check_no_normal_stuffing,
    check_exfiltration,
    check_no_normal_burst,
    check_normal_pauses,
    check_privilege_escalation,
    check_no_normal_escalation,
    check_new_device_country,
)
