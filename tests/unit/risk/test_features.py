"""Each behaviour feature, with hand-built events at fixed event times."""

from __future__ import annotations

import pytest

from riskseal.contract.events import AccessRequest, AuthContext, Outcome, Resource, Sensitivity
from riskseal.risk.features import (
    FEATURE_NAMES,
    MIN_SENSITIVE_PEAK,
    PROFILE_MIN_EVENTS,
    SENSITIVE_PEAK_HALF_LIFE_MS,
    Event,
    Features,
    extract,
    great_circle_km,
    observe,
    sensitive_peak,
)
from riskseal.risk.state import BASELINE_ROLE_TIME, MAX_ROLES, Counter, UserState
from tests.unit.risk.builders import (
    BERLIN,
    DAY,
    DOC,
    HOUR,
    LYON,
    MINUTE,
    MONDAY,
    NEW_YORK,
    PARIS,
    PARIS_EAST,
    REPORT,
    SECRET,
    T0,
    action,
    features_after,
    fold,
    login,
    request,
)


def test_extract_does_not_change_the_state() -> None:
    state = fold([login(at=T0), request(at=T0 + MINUTE, resource=SECRET)])
    before = state.to_bytes()
    extract(state, login(at=T0 + 2 * MINUTE, ok=False, location=NEW_YORK))
    extract(state, request(at=T0 + 3 * MINUTE, resource=REPORT, roles=("admin",)))
    assert state.to_bytes() == before


def test_feature_names_are_the_fields() -> None:
    features = extract(UserState("alice"), request())
    assert set(features.as_mapping()) == FEATURE_NAMES
    assert all(isinstance(value, float) for value in features.as_mapping().values())


def test_is_request_tells_requests_from_actions() -> None:
    assert extract(UserState("alice"), request()).is_request == 1
    assert extract(UserState("alice"), action()).is_request == 0


# --- failed sign-ins ---------------------------------------------------------------------------


def test_failed_auth_counts_this_and_earlier_refusals_in_5_minutes_and_1_hour() -> None:
    history = [login(at=T0 + offset * MINUTE, ok=False) for offset in (0, 1, 2)]
    state = fold(history)
    last_minute_of_window = T0 + 4 * MINUTE + 59_999
    now = extract(state, login(at=last_minute_of_window, ok=False))
    assert (now.failed_auth_5m, now.failed_auth_1h) == (4, 4)
    later = extract(state, login(at=T0 + 5 * MINUTE, ok=False))
    assert (later.failed_auth_5m, later.failed_auth_1h) == (3, 4)  # minute 0 left the 5 min
    much_later = extract(state, login(at=T0 + 61 * MINUTE, ok=False))
    assert (much_later.failed_auth_5m, much_later.failed_auth_1h) == (1, 2)


def test_a_successful_sign_in_or_request_is_not_a_failure_but_sees_the_earlier_ones() -> None:
    state = fold([login(at=T0, ok=False), login(at=T0 + MINUTE, ok=False)])
    for event in (login(at=T0 + 2 * MINUTE), request(at=T0 + 2 * MINUTE)):
        features = extract(state, event)
        assert (features.failed_auth_5m, features.failed_auth_1h) == (2, 2)


def test_a_failed_action_other_than_sign_in_is_not_a_failed_sign_in() -> None:
    state = fold([action(at=T0, outcome=Outcome.FAILURE), action(at=T0, outcome=Outcome.UNKNOWN)])
    assert extract(state, login(at=T0 + MINUTE)).failed_auth_5m == 0


def test_a_sign_in_with_unknown_outcome_counts_as_refused() -> None:
    event = action(at=T0, action="auth.login", outcome=Outcome.UNKNOWN)
    assert extract(UserState("alice"), event).failed_auth_5m == 1


def test_failures_before_success_counts_the_last_hour_on_a_successful_sign_in_only() -> None:
    state = fold([login(at=T0 + offset * MINUTE, ok=False) for offset in range(6)])
    assert extract(state, login(at=T0 + 10 * MINUTE)).failures_before_success == 6
    assert extract(state, login(at=T0 + 10 * MINUTE, ok=False)).failures_before_success == 0
    assert extract(state, request(at=T0 + 10 * MINUTE)).failures_before_success == 0
    assert extract(state, login(at=T0 + 2 * HOUR)).failures_before_success == 0


# --- distinct values per hour ------------------------------------------------------------------


def test_distinct_ips_countries_devices_in_the_last_hour_include_the_current_event() -> None:
    history = [
        request(at=T0, ip="10.0.0.1", location=PARIS, device="d1"),
        request(at=T0 + MINUTE, ip="10.0.0.2", location=PARIS, device="d1"),
        request(at=T0 + 2 * MINUTE, ip="10.0.0.3", location=BERLIN, device="d2"),
    ]
    state = fold(history)
    same = extract(state, request(at=T0 + 3 * MINUTE, ip="10.0.0.1", location=PARIS, device="d1"))
    assert (same.distinct_ips_1h, same.distinct_countries_1h, same.distinct_devices_1h) == (
        3,
        2,
        2,
    )
    new = extract(state, request(at=T0 + 3 * MINUTE, ip="10.0.0.9", location=NEW_YORK, device="x"))
    assert (new.distinct_ips_1h, new.distinct_countries_1h, new.distinct_devices_1h) == (4, 3, 3)
    # Over an hour later only the last request's values count, plus the current address.
    later = T0 + HOUR + 2 * MINUTE
    late = extract(state, request(at=later, ip="10.0.0.1", location=None, device=None))
    assert (late.distinct_ips_1h, late.distinct_countries_1h, late.distinct_devices_1h) == (
        2,
        1,
        1,
    )


def test_unknown_values_are_not_counted() -> None:
    features = extract(UserState("alice"), request(ip=None, location=None, device=None))
    assert (features.distinct_ips_1h, features.distinct_countries_1h) == (0, 0)
    assert features.distinct_devices_1h == 0


# --- impossible travel -------------------------------------------------------------------------


def test_paris_to_new_york_in_ten_minutes_is_impossible_travel() -> None:
    distance = great_circle_km(PARIS.lat or 0, PARIS.lon or 0, NEW_YORK.lat or 0, NEW_YORK.lon or 0)
    assert 5_800 < distance < 5_880  # about 5,837 km
    state = fold([login(at=T0, location=PARIS)])
    features = extract(state, request(at=T0 + 10 * MINUTE, location=NEW_YORK))
    assert features.travel_distance_km == round(distance, 1)
    assert features.travel_speed_kmh == round(distance * 6, 1)  # 10 minutes = 1/6 h
    assert features.travel_speed_kmh > 30_000


def test_the_same_city_is_no_travel_and_a_short_hop_is_slow() -> None:
    state = fold([login(at=T0, location=PARIS)])
    same = extract(state, request(at=T0 + MINUTE, location=PARIS))
    assert (same.travel_speed_kmh, same.travel_distance_km) == (0.0, 0.0)
    hop = extract(state, request(at=T0 + 30 * MINUTE, location=PARIS_EAST))
    assert hop.travel_distance_km < 1
    assert hop.travel_speed_kmh < 2


def test_a_plausible_flight_is_fast_but_not_impossible() -> None:
    state = fold([login(at=T0, location=PARIS)])
    flight = extract(state, login(at=T0 + 9 * HOUR, location=NEW_YORK))
    assert flight.travel_distance_km > 5_800
    assert flight.travel_speed_kmh < 700


def test_events_within_a_minute_are_timed_as_one_minute_apart() -> None:
    state = fold([login(at=T0, location=PARIS)])
    instant = extract(state, request(at=T0, location=LYON))
    assert instant.travel_speed_kmh == round(instant.travel_distance_km * 60, 1)


def test_failed_sign_ins_neither_travel_nor_move_the_user() -> None:
    state = fold([login(at=T0, location=PARIS)])
    failed = extract(state, login(at=T0 + 5 * MINUTE, ok=False, location=NEW_YORK))
    assert (failed.travel_speed_kmh, failed.travel_distance_km) == (0.0, 0.0)
    state = fold([login(at=T0 + 5 * MINUTE, ok=False, location=NEW_YORK)], state)
    assert state.last_fix is not None and state.last_fix.country == "FR"
    back_home = extract(state, request(at=T0 + 10 * MINUTE, location=PARIS))
    assert back_home.travel_distance_km == 0.0


def test_no_travel_without_coordinates_or_for_a_late_event() -> None:
    state = fold([login(at=T0, location=PARIS)])
    no_coordinates = extract(state, request(at=T0 + MINUTE, location=None))
    assert no_coordinates.travel_speed_kmh == 0.0
    late = extract(state, request(at=T0 - 10 * MINUTE, location=NEW_YORK))
    assert late.travel_speed_kmh == 0.0
    # A late event does not replace the newer fix either.
    state = fold([request(at=T0 - 10 * MINUTE, location=NEW_YORK)], state)
    assert state.last_fix is not None and state.last_fix.time == T0
    assert extract(UserState("bob"), request(location=NEW_YORK)).travel_speed_kmh == 0.0


# --- novelty against the last sign-ins, and cold start -----------------------------------------


def test_nothing_is_new_before_the_first_sign_in_which_is_cold_start() -> None:
    state = UserState("alice")
    first = extract(state, login(at=T0, ip="10.9.9.9", location=NEW_YORK, device="new"))
    assert first.cold_start == 1
    assert (first.new_device, first.new_ip, first.new_country) == (0, 0, 0)
    # Requests and failed sign-ins do not end the cold start.
    state = fold([request(at=T0), login(at=T0 + MINUTE, ok=False)], state)
    assert extract(state, request(at=T0 + 2 * MINUTE)).cold_start == 1
    state = fold([login(at=T0 + 3 * MINUTE)], state)
    assert extract(state, request(at=T0 + 4 * MINUTE)).cold_start == 0


def test_a_sign_in_from_a_new_device_ip_and_country_is_new_on_each() -> None:
    state = fold([login(at=T0, ip="10.0.0.1", location=PARIS, device="laptop-1")])
    known = extract(state, login(at=T0 + HOUR, ip="10.0.0.1", location=PARIS, device="laptop-1"))
    assert (known.new_device, known.new_ip, known.new_country) == (0, 0, 0)
    new = extract(state, login(at=T0 + HOUR, ip="198.51.100.4", location=NEW_YORK, device="x"))
    assert (new.new_device, new.new_ip, new.new_country, new.cold_start) == (1, 1, 1, 0)
    device_only = extract(state, login(at=T0 + HOUR, device="phone-1"))
    assert (device_only.new_device, device_only.new_ip, device_only.new_country) == (1, 0, 0)


def test_novelty_is_judged_on_successful_sign_ins_only() -> None:
    state = fold([login(at=T0)])
    for event in (
        login(at=T0 + HOUR, ok=False, ip="198.51.100.4", location=NEW_YORK, device="x"),
        request(at=T0 + HOUR, ip="198.51.100.4", location=NEW_YORK, device="x"),
    ):
        features = extract(state, event)
        assert (features.new_device, features.new_ip, features.new_country) == (0, 0, 0)


def test_a_value_seen_only_in_requests_or_failures_is_still_new_at_sign_in() -> None:
    state = fold(
        [
            login(at=T0),
            request(at=T0 + MINUTE, ip="198.51.100.4", location=NEW_YORK, device="x"),
            login(at=T0 + 2 * MINUTE, ok=False, ip="198.51.100.4", location=NEW_YORK, device="x"),
        ]
    )
    features = extract(
        state, login(at=T0 + 3 * MINUTE, ip="198.51.100.4", location=NEW_YORK, device="x")
    )
    assert (features.new_device, features.new_ip, features.new_country) == (1, 1, 1)


def test_unknown_values_are_never_new() -> None:
    state = fold([login(at=T0)])
    features = extract(state, login(at=T0 + HOUR, ip=None, location=None, device=None))
    assert (features.new_device, features.new_ip, features.new_country) == (0, 0, 0)


# --- off hours against the user's own profile --------------------------------------------------


def _working_days(
    hour: int, days: int = PROFILE_MIN_EVENTS, start: int = MONDAY
) -> list[AccessRequest]:
    """One request a day at ``hour``:00 UTC on ``days`` consecutive days."""
    return [request(at=start + day * DAY + hour * HOUR) for day in range(days)]


def test_an_hour_the_user_is_never_active_is_off_hours() -> None:
    state = fold(_working_days(9))
    now = MONDAY + 60 * DAY
    night = extract(state, request(at=now + 3 * HOUR))
    assert (night.off_hours, night.hour_share_pct) == (1, 0.0)
    work = extract(state, request(at=now + 9 * HOUR + 30 * MINUTE))
    assert (work.off_hours, work.hour_share_pct) == (0, 100.0)
    # The neighbouring hours share the habit: 10:00 is not off hours for a 09:00 worker.
    assert extract(state, request(at=now + 10 * HOUR)).off_hours == 0
    assert extract(state, request(at=now + 11 * HOUR)).off_hours == 1


def test_off_hours_follows_the_users_own_clock_not_office_hours() -> None:
    state = fold(_working_days(2))
    now = MONDAY + 60 * DAY
    assert extract(state, request(at=now + 2 * HOUR)).off_hours == 0
    assert extract(state, request(at=now + 14 * HOUR)).off_hours == 1


def test_off_hours_is_not_judged_on_a_short_history() -> None:
    state = fold(_working_days(9, days=PROFILE_MIN_EVENTS - 1))
    features = extract(state, request(at=MONDAY + 60 * DAY + 3 * HOUR))
    assert features.off_hours == 0
    assert features.hour_share_pct == 0.0
    assert extract(UserState("alice"), request(at=T0)).hour_share_pct == 100.0


def test_failed_sign_ins_do_not_train_the_profile() -> None:
    failures = [login(at=MONDAY + day * DAY + 3 * HOUR, ok=False) for day in range(50)]
    state = fold([*_working_days(9), *failures])
    assert extract(state, request(at=MONDAY + 60 * DAY + 3 * HOUR)).off_hours == 1


# --- sensitive access against the user's own peak ----------------------------------------------


def test_sensitive_access_is_a_read_or_export_of_confidential_or_restricted_data() -> None:
    state = UserState("alice")
    assert extract(state, request(action="data.read", resource=REPORT)).sensitive_5m == 1
    assert extract(state, request(action="data.export", resource=SECRET)).sensitive_5m == 1
    assert extract(state, request(action="data.write", resource=SECRET)).sensitive_5m == 0
    assert extract(state, request(action="data.read", resource=DOC)).sensitive_5m == 0
    refused = action(action="data.read", resource=SECRET, outcome=Outcome.FAILURE)
    assert extract(state, refused).sensitive_5m == 0
    done = action(action="data.read", resource=SECRET, outcome=Outcome.SUCCESS)
    assert extract(state, done).sensitive_5m == 1


def _reads(start: int, count: int, spacing_ms: int = 5_000) -> list[AccessRequest]:
    return [request(at=start + n * spacing_ms, resource=REPORT) for n in range(count)]


def test_sensitive_5m_counts_the_window_and_the_ratio_uses_the_minimum_peak() -> None:
    state = fold(_reads(T0, 6))
    features = extract(state, request(at=T0 + MINUTE, resource=REPORT))
    assert features.sensitive_5m == 7
    assert features.sensitive_ratio == round(7 / MIN_SENSITIVE_PEAK, 2)
    assert extract(state, request(at=T0 + 5 * MINUTE, resource=REPORT)).sensitive_5m == 1


def test_the_peak_is_learned_from_completed_windows() -> None:
    state = fold(_reads(T0, 8))
    assert state.sensitive_peak == 0.0  # the window in progress does not teach
    state = fold(_reads(T0 + 6 * MINUTE, 1), state)
    assert state.sensitive_peak == 8.0
    assert state.sensitive_peak_time == T0 + 6 * MINUTE
    # The same volume again is the user's normal.
    features = extract(state, request(at=T0 + 6 * MINUTE + 1_000, resource=REPORT))
    assert features.sensitive_ratio == round(2 / 8, 2)


def test_a_burst_does_not_become_its_own_baseline() -> None:
    baseline = fold(_reads(T0, 6) + _reads(T0 + 6 * MINUTE, 1))
    assert baseline.sensitive_peak == 6.0
    burst_start = T0 + HOUR
    state = fold(_reads(burst_start, 60, spacing_ms=2_000), baseline)
    in_burst = extract(state, request(at=burst_start + 2 * MINUTE + 1_000, resource=REPORT))
    assert in_burst.sensitive_5m == 61
    assert in_burst.sensitive_ratio > 10
    # After the burst the completed window (60) is over PEAK_GROWTH times the peak: refused.
    state = fold(_reads(burst_start + 7 * MINUTE, 1), state)
    assert state.sensitive_peak == 6.0
    second_burst = fold(_reads(burst_start + 8 * MINUTE, 30, spacing_ms=2_000), state)
    again = extract(second_burst, request(at=burst_start + 9 * MINUTE + 1_000, resource=REPORT))
    assert again.sensitive_ratio >= 30 / 6


def test_the_peak_decays_with_event_time() -> None:
    state = UserState("alice", sensitive_peak=16.0, sensitive_peak_time=T0)
    assert sensitive_peak(state, T0) == 16.0
    assert sensitive_peak(state, T0 + SENSITIVE_PEAK_HALF_LIFE_MS) == pytest.approx(8.0)
    assert sensitive_peak(state, T0 - DAY) == 16.0  # never grows for a late event
    features = extract(state, request(at=T0 + 2 * SENSITIVE_PEAK_HALF_LIFE_MS, resource=REPORT))
    assert features.sensitive_ratio == round(1 / 4.0, 2)


def test_a_new_restricted_resource_is_flagged_once_history_exists() -> None:
    warm = fold([login(at=T0), request(at=T0 + MINUTE, resource=DOC)])
    assert extract(warm, request(at=T0 + 2 * MINUTE, resource=SECRET)).new_sensitive_resource == 1
    # Known, confidential only, not a read, or cold start: not flagged.
    known = fold([request(at=T0 + 2 * MINUTE, resource=SECRET)], warm)
    assert extract(known, request(at=T0 + 3 * MINUTE, resource=SECRET)).new_sensitive_resource == 0
    assert extract(warm, request(at=T0 + 2 * MINUTE, resource=REPORT)).new_sensitive_resource == 0
    write = request(at=T0 + 2 * MINUTE, resource=SECRET, action="data.write")
    assert extract(warm, write).new_sensitive_resource == 0
    assert extract(UserState("alice"), request(resource=SECRET)).new_sensitive_resource == 0
    other = Resource("secret", "other", None, Sensitivity.RESTRICTED)
    assert extract(known, request(at=T0 + 3 * MINUTE, resource=other)).new_sensitive_resource == 1


# --- roles and privileges ----------------------------------------------------------------------


def test_roles_on_the_first_event_are_the_baseline() -> None:
    first = extract(UserState("alice"), request(roles=("admin", "sales")))
    assert (first.role_added, first.privileged_role_added) == (0, 0)
    state = fold([request(at=T0, roles=("admin", "sales"))])
    again = extract(state, request(at=T0 + HOUR, roles=("admin", "sales")))
    assert (again.role_added, again.privileged_role_added) == (0, 0)
    admin_action = extract(state, request(at=T0 + HOUR, action="admin.config", roles=("admin",)))
    assert admin_action.privileged_action_new_role == 0


def test_a_role_the_user_did_not_have_is_added() -> None:
    state = fold([request(at=T0, roles=("sales",))])
    sales = extract(state, request(at=T0 + HOUR, roles=("sales", "manager")))
    assert (sales.role_added, sales.privileged_role_added) == (1, 0)
    admin = extract(state, request(at=T0 + HOUR, roles=("sales", "admin")))
    assert (admin.role_added, admin.privileged_role_added) == (1, 1)
    dropped = extract(state, request(at=T0 + HOUR, roles=()))
    assert dropped.role_added == 0


def test_a_user_with_more_roles_than_a_state_keeps_has_none_of_them_added_again() -> None:
    roles = ("admin", *(f"team-{n:03}" for n in range(MAX_ROLES)))
    state = fold([request(at=T0 + n * MINUTE, roles=roles) for n in range(3)])
    again = extract(state, request(at=T0 + HOUR, roles=roles))
    assert (again.role_added, again.privileged_role_added) == (0, 0)
    assert "admin" in state.roles  # privileged roles are kept first
    # Beyond the bound only privileged roles can be judged: the others cannot all be known.
    other = extract(state, request(at=T0 + HOUR, roles=(*roles, "team-new")))
    assert other.role_added == 0


def test_roles_kept_over_the_bound_prefer_those_the_user_still_has() -> None:
    lasting = tuple(f"lasting-{n:03}" for n in range(MAX_ROLES - 24))
    lost = tuple(f"lost-{n:03}" for n in range(24))
    gained = tuple(f"gained-{n:03}" for n in range(24))
    state = fold(
        [
            request(at=T0, roles=lasting),
            request(at=T0 + MINUTE, roles=(*lasting, *lost)),
            request(at=T0 + 2 * MINUTE, roles=(*lasting, *gained)),
        ]
    )
    # The lost roles go, though the lasting ones were seen first.
    assert set(state.roles) == {*lasting, *gained}
    later = extract(state, request(at=T0 + HOUR, roles=(*lasting, *gained)))
    assert later.role_added == 0


def test_a_late_event_before_the_first_does_not_make_baseline_roles_recent() -> None:
    state = fold([request(at=T0, roles=("admin",)), request(at=T0 - MINUTE, roles=("admin",))])
    assert state.first_time == T0 - MINUTE
    admin = extract(state, request(at=T0 + HOUR, action="admin.config", roles=("admin",)))
    assert admin.privileged_action_new_role == 0


def test_a_self_grant_is_a_role_grant_to_the_actor() -> None:
    state = UserState("alice")
    grant = request(action="role.grant", attributes={"grantee": "alice", "role": "admin"})
    assert extract(state, grant).self_grant == 1
    to_other = request(action="role.grant", attributes={"grantee": "bob"})
    assert extract(state, to_other).self_grant == 0
    assert extract(state, request(action="role.grant")).self_grant == 0
    other_action = request(action="role.revoke", attributes={"grantee": "alice"})
    assert extract(state, other_action).self_grant == 0
    done = action(action="role.grant", attributes={"grantee": "alice"})
    assert extract(state, done).self_grant == 1


def test_an_admin_action_within_a_day_of_gaining_admin_is_flagged() -> None:
    state = fold(
        [request(at=T0, roles=("sales",)), request(at=T0 + HOUR, roles=("sales", "admin"))]
    )
    within = request(at=T0 + 2 * HOUR, action="admin.config", roles=("sales", "admin"))
    assert extract(state, within).privileged_action_new_role == 1
    grant = request(at=T0 + 2 * HOUR, action="role.grant", roles=("admin",))
    assert extract(state, grant).privileged_action_new_role == 1
    read = request(at=T0 + 2 * HOUR, action="data.read", roles=("sales", "admin"))
    assert extract(state, read).privileged_action_new_role == 0
    after = request(at=T0 + HOUR + DAY + 1, action="admin.config", roles=("sales", "admin"))
    assert extract(state, after).privileged_action_new_role == 0
    without = request(at=T0 + 2 * HOUR, action="admin.config", roles=("sales",))
    assert extract(state, without).privileged_action_new_role == 0
    # Gaining admin and acting with it in the same event counts too.
    first_use = request(at=T0 + 2 * HOUR, action="admin.config", roles=("admin",))
    assert extract(fold([request(at=T0)]), first_use).privileged_action_new_role == 1


# --- denied requests ---------------------------------------------------------------------------


def test_denied_5m_counts_the_refusals_the_engine_recorded() -> None:
    state = fold([request(at=T0)])
    for offset in (0, 1, 3):
        state.minutes.add(T0 + offset * MINUTE, Counter.DENIED)
    assert extract(state, request(at=T0 + 4 * MINUTE)).denied_5m == 3
    assert extract(state, request(at=T0 + 5 * MINUTE)).denied_5m == 2
    assert extract(state, request(at=T0 + HOUR)).denied_5m == 0


# --- observe ------------------------------------------------------------------------------------


def test_observe_folds_the_event_into_the_state() -> None:
    state = UserState("alice")
    event = request(
        at=T0,
        resource=SECRET,
        roles=("sales",),
        auth=AuthContext(is_mfa=True, mfa_time=T0 - MINUTE),
    )
    observe(state, event, extract(state, event))
    assert (state.events, state.first_time, state.last_time) == (1, T0, T0)
    assert state.minutes.total(Counter.EVENTS, T0, 1) == 1
    assert state.minutes.total(Counter.SENSITIVE, T0, 1) == 1
    assert state.resources == {SECRET.uid: T0}
    assert state.roles == {"sales": BASELINE_ROLE_TIME}
    assert state.last_mfa == T0 - MINUTE
    assert sum(state.hour_of_week) == 1
    mfa = action(at=T0 + MINUTE, action="auth.mfa", outcome=Outcome.SUCCESS)
    observe(state, mfa, extract(state, mfa))
    assert state.last_mfa == T0 + MINUTE
    late = request(at=T0 - HOUR)
    observe(state, late, extract(state, late))
    assert (state.first_time, state.last_time) == (T0 - HOUR, T0 + MINUTE)


def test_features_after_a_history_are_those_of_a_folded_state() -> None:
    history: list[Event] = [login(at=T0), request(at=T0 + MINUTE)]
    event = request(at=T0 + 2 * MINUTE)
    assert features_after(history, event) == extract(fold(history), event)
    assert isinstance(features_after(history, event), Features)
