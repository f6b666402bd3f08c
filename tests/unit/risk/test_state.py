"""Per-user and per-IP state: event-time windows, bounds, encoding."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.contract.events import Outcome, Resource, Sensitivity
from riskseal.errors import StateDecodeError
from riskseal.risk.alerts import ALERTS_KEPT_PER_ANALYTIC, should_alert
from riskseal.risk.state import (
    BASELINE_ROLE_TIME,
    BUCKET_SPAN_MINUTES,
    MAX_DECISIONS,
    MAX_RECENT_VALUES,
    MAX_RESOURCES,
    MAX_ROLES,
    MAX_SEEN_EVENTS,
    MAX_SIGN_INS,
    MAX_SPRAY_USERS,
    PROFILE_CAP,
    STATE_VERSION,
    Counter,
    GeoFix,
    IpState,
    MinuteBuckets,
    SignIn,
    UserState,
    hour_of_week,
)
from tests.unit.risk.builders import DAY, HOUR, MINUTE, MONDAY, T0, action, fold, login, request

# --- MinuteBuckets: windows on event time ------------------------------------------------------


def test_total_counts_the_minutes_ending_at_the_given_time() -> None:
    buckets = MinuteBuckets()
    for offset in (0, 1, 2, 4):
        buckets.add(T0 + offset * MINUTE, Counter.FAILED_AUTH)
    buckets.add(T0 + 2 * MINUTE, Counter.SENSITIVE, amount=3)
    end = T0 + 4 * MINUTE + 59_999  # still in minute 4
    assert buckets.total(Counter.FAILED_AUTH, end, 5) == 4
    assert buckets.total(Counter.FAILED_AUTH, end, 1) == 1
    assert buckets.total(Counter.SENSITIVE, end, 5) == 3
    assert buckets.total(Counter.DENIED, end, 5) == 0
    # One minute later the first minute has left the 5-minute window.
    assert buckets.total(Counter.FAILED_AUTH, T0 + 5 * MINUTE, 5) == 3
    # A window that ends before the events counts none of them.
    assert buckets.total(Counter.FAILED_AUTH, T0 - MINUTE, 60) == 0


def test_buckets_older_than_the_span_are_pruned_when_time_moves_on() -> None:
    buckets = MinuteBuckets()
    buckets.add(T0, Counter.EVENTS)
    buckets.add(T0 + 59 * MINUTE, Counter.EVENTS)
    assert len(buckets.buckets) == 2
    assert buckets.total(Counter.EVENTS, T0 + 59 * MINUTE, 60) == 2
    buckets.add(T0 + 60 * MINUTE, Counter.EVENTS)
    assert T0 // MINUTE not in buckets.buckets
    assert buckets.total(Counter.EVENTS, T0 + 60 * MINUTE, 120) == 2
    buckets.add(T0 + 5 * HOUR, Counter.EVENTS)
    assert list(buckets.buckets) == [(T0 + 5 * HOUR) // MINUTE]


def test_a_late_event_inside_the_span_counts_and_one_outside_is_dropped() -> None:
    buckets = MinuteBuckets()
    newest = T0 + 2 * HOUR
    buckets.add(newest, Counter.FAILED_AUTH)
    buckets.add(newest - 59 * MINUTE, Counter.FAILED_AUTH)  # late, still inside
    buckets.add(newest - 60 * MINUTE, Counter.FAILED_AUTH)  # late, outside: dropped
    assert buckets.newest_minute == newest // MINUTE
    assert buckets.total(Counter.FAILED_AUTH, newest, 24 * 60) == 2
    assert buckets.total(Counter.FAILED_AUTH, newest - 59 * MINUTE, 1) == 1


_minute_events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=BUCKET_SPAN_MINUTES * MINUTE - 1),
        st.integers(min_value=0, max_value=Counter.SIZE - 1),
        st.integers(min_value=1, max_value=5),
    ),
    max_size=60,
)


@given(events=_minute_events, data=st.data())
def test_events_within_the_span_count_the_same_in_any_order(
    events: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    """Within one span (newest - oldest < 60 min, minute-aligned start) nothing is lost."""
    start = T0 - T0 % MINUTE
    shuffled = data.draw(st.permutations(events))
    first, second = MinuteBuckets(), MinuteBuckets()
    for offset, counter, amount in events:
        first.add(start + offset, counter, amount)
    for offset, counter, amount in shuffled:
        second.add(start + offset, counter, amount)
    assert first == second
    end = start + BUCKET_SPAN_MINUTES * MINUTE - 1
    for counter in range(Counter.SIZE):
        expected = sum(amount for _, c, amount in events if c == counter)
        assert first.total(counter, end, BUCKET_SPAN_MINUTES) == expected


@given(
    events=st.lists(
        st.tuples(st.integers(min_value=0, max_value=5 * HOUR), st.integers(0, Counter.SIZE - 1)),
        max_size=80,
    ),
    data=st.data(),
)
def test_buckets_end_the_same_in_any_order_over_any_span(
    events: list[tuple[int, int]], data: st.DataObject
) -> None:
    """Events spread wider than the span: the surviving buckets do not depend on order."""
    shuffled = data.draw(st.permutations(events))
    first, second = MinuteBuckets(), MinuteBuckets()
    for offset, counter in events:
        first.add(T0 + offset, counter)
    for offset, counter in shuffled:
        second.add(T0 + offset, counter)
    assert first == second
    assert len(first.buckets) <= BUCKET_SPAN_MINUTES


# --- bounded collections -----------------------------------------------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=24)
_ROLES = ("sales", "engineering", "admin", "manager", "auditor", "hr", "finance", "support")


_STEPS = (0, 1_000, MINUTE, 7 * MINUTE, HOUR, DAY)
_LATE = (0, 30 * MINUTE, 3 * HOUR)


@st.composite
def _activity(draw: st.DrawFn, max_size: int = 300) -> list[Any]:
    """A long random stream of one user's requests, actions and sign-ins.

    Drawn as small integers (which hypothesis shrinks well) and turned into events; names
    come from pools, so values repeat as they do in real traffic.
    """
    ips = draw(st.lists(_names, min_size=1, max_size=80, unique=True))
    devices = draw(st.lists(_names, min_size=1, max_size=20, unique=True))
    resources = draw(st.lists(_names, min_size=1, max_size=150, unique=True))
    roles = draw(st.lists(_names | st.sampled_from(_ROLES), min_size=1, max_size=30))
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(_STEPS) - 1),  # time step
                st.integers(0, len(_LATE) - 1),  # how late the event is
                st.integers(0, 5),  # kind
                st.integers(0, 10_000),  # which ip / device / resource / roles
                st.sampled_from(list(Sensitivity)),
            ),
            min_size=1,
            max_size=max_size,
        )
    )
    time = T0
    events: list[Any] = []
    for step, late, kind, pick, sensitivity in steps:
        time += _STEPS[step]
        common: dict[str, Any] = {
            "at": time - _LATE[late],
            "ip": ips[pick % len(ips)],
            "device": devices[pick % len(devices)],
            "roles": tuple(roles[(pick + n) % len(roles)] for n in range(pick % 4)),
        }
        resource = Resource("document", resources[pick % len(resources)], None, sensitivity)
        if kind == 0:
            events.append(login(ok=False, **common))
        elif kind == 1:
            events.append(login(ok=True, **common))
        elif kind in (2, 3):
            events.append(request(resource=resource, **common))
        else:
            outcome = list(Outcome)[pick % len(Outcome)]
            events.append(action(resource=resource, outcome=outcome, **common))
    return events


def _assert_bounded(state: UserState) -> None:
    assert len(state.recent_values) <= MAX_RECENT_VALUES
    assert len(state.sign_ins) <= MAX_SIGN_INS
    assert len(state.resources) <= MAX_RESOURCES
    assert len(state.roles) <= MAX_ROLES
    assert len(state.seen) <= MAX_SEEN_EVENTS
    assert len(state.decisions) <= MAX_DECISIONS
    assert len(state.minutes.buckets) <= BUCKET_SPAN_MINUTES
    assert len(state.hour_of_week) == 168
    assert sum(state.hour_of_week) <= PROFILE_CAP
    assert all(len(times) <= ALERTS_KEPT_PER_ANALYTIC for times in state.alerted.values())


MAX_NAME = 24
MAX_DECISION_BYTES = 2_000
MAX_USER_STATE_BYTES = 48_000 + 2 * MAX_DECISIONS * MAX_DECISION_BYTES
"""Everything at its bound with the longest test names, plus the kept decisions (hex)."""


@settings(max_examples=40, deadline=None)
@given(events=_activity(), decision_ids=st.lists(st.uuids(), max_size=100))
def test_every_user_collection_stays_within_its_bound(
    events: list[Any], decision_ids: list[Any]
) -> None:
    state = UserState("alice")
    for event in events:
        fold([event], state)
        state.mark_seen(event.event_id)
        _assert_bounded(state)
    for number, request_id in enumerate(decision_ids):
        state.keep_decision(str(request_id), bytes([number % 256]) * MAX_DECISION_BYTES)
    _assert_bounded(state)
    assert len(state.to_bytes()) <= MAX_USER_STATE_BYTES


def test_the_encoded_state_of_a_user_at_every_bound_is_a_few_dozen_kilobytes() -> None:
    """The worst case that the property above samples, built on purpose."""
    state = UserState("u" * MAX_NAME)
    long = "x" * (MAX_NAME - 3)
    for number in range(1_000):
        at = T0 + number * MINUTE
        state.remember_value("ip", f"{long}{number:03}", at)
        state.add_sign_in(SignIn(at, f"{long}{number:03}", "FR", f"{long}{number:03}"))
        state.use_resource(f"{long}{number:03}", at)
        state.note_roles([f"{long}{number:03}"], at)
        state.mark_seen(f"{number:036}")
        state.keep_decision(f"{number:036}", b"\xff" * MAX_DECISION_BYTES)
        state.minutes.add(at, Counter.EVENTS, 1_000_000)
        state.count_activity(at)
        should_alert(state.alerted, f"{number % 20}", at, dedup_minutes=0)
    _assert_bounded(state)
    assert len(state.to_bytes()) <= MAX_USER_STATE_BYTES


@settings(max_examples=30, deadline=None)
@given(
    failures=st.lists(st.tuples(_names, st.integers(min_value=0, max_value=2 * HOUR)), max_size=600)
)
def test_ip_state_stays_within_its_bounds(failures: list[tuple[str, int]]) -> None:
    state = IpState("203.0.113.7")
    for number, (user, offset) in enumerate(failures):
        state.add_failure(user, T0 + offset)
        state.mark_seen(f"event-{number}")
        assert len(state.failures) <= MAX_SPRAY_USERS
        assert len(state.seen) <= MAX_SEEN_EVENTS
    assert IpState.from_bytes(state.to_bytes()) == state


def test_the_oldest_entries_are_evicted_first() -> None:
    state = UserState("alice")
    for number in range(MAX_RESOURCES + 5):
        state.use_resource(f"r{number}", T0 + number)
    assert "r0" not in state.resources
    assert f"r{MAX_RESOURCES + 4}" in state.resources
    assert len(state.resources) == MAX_RESOURCES
    for number in range(MAX_SIGN_INS + 3):
        state.add_sign_in(SignIn(T0 - number * MINUTE, f"ip{number}", None, None))
    assert [item.time for item in state.sign_ins] == sorted(item.time for item in state.sign_ins)
    assert state.sign_ins[-1].time == T0
    assert len(state.sign_ins) == MAX_SIGN_INS


def test_remembering_an_older_sighting_keeps_the_newest_time() -> None:
    state = UserState("alice")
    state.remember_value("ip", "10.0.0.1", T0)
    state.remember_value("ip", "10.0.0.1", T0 - HOUR)
    state.remember_value("ip", None, T0)
    assert state.recent_values == {"ip:10.0.0.1": T0}
    assert state.distinct_since("ip", T0) == 1
    assert state.distinct_since("ip", T0 + 1) == 0
    assert state.distinct_since("country", 0) == 0


def test_the_hour_of_week_profile_is_halved_past_its_cap() -> None:
    state = UserState("alice")
    state.hour_of_week[9] = PROFILE_CAP
    state.count_activity(T0)  # Monday 09:00 → index 9
    assert state.hour_of_week[9] == (PROFILE_CAP + 1) // 2


# --- encoding ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    events=_activity(),
    risk=st.floats(min_value=0, max_value=100),
    mfa=st.none() | st.integers(min_value=0, max_value=2**53),
    alerted=st.dictionaries(
        _names,
        st.lists(
            st.integers(min_value=0, max_value=2**53), min_size=1, max_size=ALERTS_KEPT_PER_ANALYTIC
        ),
        max_size=5,
    ),
    decisions=st.lists(st.tuples(st.uuids(), st.binary(max_size=64)), max_size=40),
)
def test_user_state_round_trips_through_bytes(
    events: list[Any],
    risk: float,
    mfa: int | None,
    alerted: dict[str, list[int]],
    decisions: list[tuple[Any, bytes]],
) -> None:
    state = fold(events, UserState("alice"))
    state.user_risk, state.user_risk_time, state.last_mfa = risk, T0, mfa
    state.last_challenge = mfa
    state.alerted.update(alerted)
    for request_id, encoded in decisions:
        state.keep_decision(str(request_id), encoded)
    for event in events:
        state.mark_seen(event.event_id)
    data = state.to_bytes()
    restored = UserState.from_bytes(data)
    assert restored == state
    assert restored.to_bytes() == data
    # The eviction order survives the round trip: oldest first, as before the restart.
    assert list(restored.decisions) == list(state.decisions)
    assert list(restored.seen) == list(state.seen)


def test_state_bytes_follow_a_kept_decision_that_changed_in_place() -> None:
    # Encoding the state reuses each kept decision's base64 text; it must notice new bytes.
    state = UserState("alice")
    state.keep_decision("r1", b"first")
    state.keep_decision("r2", b"second")
    state.to_bytes()
    state.decisions["r1"] = b"other"
    del state.decisions["r2"]
    restored = UserState.from_bytes(state.to_bytes())
    assert restored.decisions == {"r1": b"other"}


def test_a_restored_state_evicts_the_same_decisions_as_the_live_one() -> None:
    live = UserState("alice")
    for request_id in ("f", "a", "c"):  # insertion order is not sorted order
        live.keep_decision(request_id, request_id.encode())
    restored = UserState.from_bytes(live.to_bytes())
    for number in range(MAX_DECISIONS - 2):
        live.keep_decision(f"z{number}", b"z")
        restored.keep_decision(f"z{number}", b"z")
    assert "f" not in live.decisions
    assert list(restored.decisions) == list(live.decisions)


def test_ties_evict_the_same_entry_whatever_the_insertion_order() -> None:
    """Two workers (one restored from bytes) must evict alike, or they decide differently."""
    first, second = UserState("alice"), UserState("alice")
    first.note_roles([f"role{n:02}" for n in range(MAX_ROLES + 1)], T0)
    second.note_roles([f"role{n:02}" for n in reversed(range(MAX_ROLES + 1))], T0)
    assert set(first.roles) == set(second.roles)


def test_a_version_1_state_reads_its_first_event_roles_as_the_baseline() -> None:
    document = json.loads(fold([request(at=T0, roles=("sales",))]).to_bytes())
    document.update(v=1, roles={"sales": T0, "admin": T0 + HOUR})
    restored = UserState.from_bytes(json.dumps(document).encode())
    assert restored.roles == {"sales": BASELINE_ROLE_TIME, "admin": T0 + HOUR}


def test_an_empty_state_round_trips() -> None:
    state = UserState("bob")
    assert UserState.from_bytes(state.to_bytes()) == state
    ip = IpState("192.0.2.1")
    assert IpState.from_bytes(ip.to_bytes()) == ip


def test_state_with_a_geofix_and_sign_ins_round_trips() -> None:
    state = UserState("bob", first_time=T0, last_time=T0 + 5)
    state.last_fix = GeoFix(T0, 48.8566, 2.3522, "FR")
    state.add_sign_in(SignIn(T0, "10.0.0.1", None, "dev"))
    state.sensitive_peak, state.sensitive_peak_time = 6.5, T0
    assert UserState.from_bytes(state.to_bytes()) == state


def _valid_document() -> dict[str, Any]:
    state = fold([login(at=T0), request(at=T0 + MINUTE)])
    state.keep_decision("r", b"\x01")
    document: dict[str, Any] = json.loads(state.to_bytes())
    return document


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b"{truncated", "not JSON"),
        (b"[1, 2, 3]", "expected an object, got list"),
        (b'"text"', "expected an object, got str"),
        (b'{"user": "alice"}', "layout version None"),
        (b'{"v": 3, "user": "alice"}', "layout version 3"),
        (b'{"v": "1", "user": "alice"}', "layout version '1'"),
    ],
    ids=["empty", "binary", "truncated", "list", "string", "no-version", "v3", "v-as-text"],
)
def test_garbage_and_foreign_versions_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(StateDecodeError, match="user state") as caught:
        UserState.from_bytes(data)
    assert message in str(caught.value)
    with pytest.raises(StateDecodeError, match="IP state"):
        IpState.from_bytes(data)


@pytest.mark.parametrize("missing", sorted(set(_valid_document()) - {"v"}))
def test_a_missing_field_is_refused(missing: str) -> None:
    document = _valid_document()
    del document[missing]
    with pytest.raises(StateDecodeError, match="user state: malformed field"):
        UserState.from_bytes(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("events", "many"),
        ("last", None),
        ("buckets", []),
        ("buckets", {"x": [1, 2, 3, 4]}),
        ("values", [1, 2]),
        ("values", 5),
        ("sign_ins", [[1, 2]]),
        ("sign_ins", 7),
        ("fix", [1, 2]),
        ("peak", 3),
        ("peak", []),
        ("risk", "high"),
        ("resources", "doc"),
        ("seen", 5),
        ("decisions", {"r": "not hex"}),
        ("decisions", 9),
        ("alerted", {"self_grant": "soon"}),
        ("alerted", {"self_grant": [None]}),
        ("alerted", []),
    ],
)
def test_a_field_of_the_wrong_shape_is_refused(name: str, value: Any) -> None:
    document = _valid_document()
    document[name] = value
    with pytest.raises(StateDecodeError, match="user state: malformed field"):
        UserState.from_bytes(json.dumps(document).encode())


@pytest.mark.parametrize("missing", ["ip", "failures", "alerted", "seen"])
def test_an_ip_state_with_a_missing_field_is_refused(missing: str) -> None:
    document = json.loads(IpState("192.0.2.1").to_bytes())
    del document[missing]
    with pytest.raises(StateDecodeError, match="IP state: malformed field"):
        IpState.from_bytes(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("name", "value"), [("failures", [1]), ("seen", 3), ("failures", 3), ("alerted", "soon")]
)
def test_an_ip_state_field_of_the_wrong_shape_is_refused(name: str, value: Any) -> None:
    document = json.loads(IpState("192.0.2.1").to_bytes())
    document[name] = value
    with pytest.raises(StateDecodeError, match="IP state: malformed field"):
        IpState.from_bytes(json.dumps(document).encode())


@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_another_error(data: bytes) -> None:
    for kind in (UserState, IpState):
        with contextlib.suppress(StateDecodeError):
            kind.from_bytes(data)


def test_a_version_1_state_is_read_with_its_single_alert_times() -> None:
    user = json.loads(UserState("alice").to_bytes())
    user.update(v=1, alerted={"self_grant": T0, "user_risk": T0 + MINUTE})
    assert UserState.from_bytes(json.dumps(user).encode()).alerted == {
        "self_grant": [T0],
        "user_risk": [T0 + MINUTE],
    }
    for old, new in ((T0, [T0]), (None, [])):
        address = json.loads(IpState("192.0.2.1").to_bytes())
        address.update(v=1, alerted=old)
        assert IpState.from_bytes(json.dumps(address).encode()).alerted == new


def test_a_layout_version_this_riskseal_does_not_know_is_refused() -> None:
    document = json.loads(UserState("alice").to_bytes())
    document["v"] = STATE_VERSION + 1
    with pytest.raises(StateDecodeError, match=f"layout version {STATE_VERSION + 1}"):
        UserState.from_bytes(json.dumps(document).encode())


def test_the_layout_version_is_written() -> None:
    assert json.loads(UserState("a").to_bytes())["v"] == STATE_VERSION
    assert json.loads(IpState("a").to_bytes())["v"] == STATE_VERSION


# --- hour of week ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time_ms", "index"),
    [
        (MONDAY, 0),
        (MONDAY + HOUR - 1, 0),
        (MONDAY + HOUR, 1),
        (MONDAY + 9 * HOUR + 30 * MINUTE, 9),
        (MONDAY + DAY, 24),  # Tuesday 00:00
        (MONDAY + 7 * DAY - 1, 167),  # Sunday 23:59:59.999
        (MONDAY + 7 * DAY, 0),  # the next Monday
        (0, 72),  # 1970-01-01 was a Thursday
    ],
)
def test_hour_of_week_counts_from_monday_midnight_utc(time_ms: int, index: int) -> None:
    assert hour_of_week(time_ms) == index


@given(st.integers(min_value=0, max_value=2**50))
def test_hour_of_week_is_in_range_and_weekly(time_ms: int) -> None:
    assert 0 <= hour_of_week(time_ms) < 168
    assert hour_of_week(time_ms) == hour_of_week(time_ms + 7 * DAY)
