"""Small, independent detectors of the signatures each attack kind claims to have.

They look only at the events (never at the generator's plans), the way a detector under
test would, so a generator change that loses a signature fails the tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from riskseal.contract import AccessAction, Outcome, Sensitivity
from riskseal.generator import GeneratedEvent
from riskseal.generator.geo import great_circle_km

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
SENSITIVE = {Sensitivity.CONFIDENTIAL, Sensitivity.RESTRICTED}


def actions(events: Iterable[GeneratedEvent]) -> list[GeneratedEvent]:
    """Only the actions."""
    return [e for e in events if isinstance(e.event, AccessAction)]


def is_login(generated: GeneratedEvent, outcome: Outcome) -> bool:
    """An auth.login action with ``outcome``."""
    event = generated.event
    return (
        isinstance(event, AccessAction)
        and event.action == "auth.login"
        and event.outcome is outcome
    )


def by_user(events: Iterable[GeneratedEvent]) -> dict[str, list[GeneratedEvent]]:
    """Events grouped by user, each list in stream order."""
    grouped: dict[str, list[GeneratedEvent]] = defaultdict(list)
    for generated in events:
        grouped[generated.user_id].append(generated)
    return grouped


def speed_kmh(a: GeneratedEvent, b: GeneratedEvent) -> tuple[float, float]:
    """(distance km, speed km/h) between the endpoints of two events."""
    la, lb = a.event.src_endpoint.location, b.event.src_endpoint.location
    assert la is not None and lb is not None
    assert la.lat is not None and la.lon is not None and lb.lat is not None and lb.lon is not None
    distance = great_circle_km(la.lat, la.lon, lb.lat, lb.lon)
    hours = max(abs(b.time_ms - a.time_ms), 1) / HOUR_MS
    return distance, distance / hours


def impossible_pairs(
    events: Sequence[GeneratedEvent],
) -> list[tuple[GeneratedEvent, GeneratedEvent]]:
    """Pairs of successful logins of one user over > 500 km faster than 1,000 km/h."""
    pairs = []
    for user_events in by_user(events).values():
        logins = [e for e in user_events if is_login(e, Outcome.SUCCESS)]
        for i, first in enumerate(logins):
            for second in logins[i + 1 :]:
                distance, speed = speed_kmh(first, second)
                if distance > 500 and speed > 1_000:
                    pairs.append((first, second))
    return pairs


def max_in_window(times: Sequence[int], window_ms: int) -> int:
    """The most of ``times`` (sorted) that fall in any window of ``window_ms``."""
    best, low = 0, 0
    for high, time in enumerate(times):
        while time - times[low] >= window_ms:
            low += 1
        best = max(best, high - low + 1)
    return best


def sensitive_read_times(events: Iterable[GeneratedEvent]) -> list[int]:
    """Times of data.read / data.export actions on CONFIDENTIAL or RESTRICTED resources."""
    return [
        e.time_ms
        for e in actions(events)
        if e.event.action in ("data.read", "data.export")
        and e.event.resource.sensitivity in SENSITIVE
    ]


def stuffing_ips(
    events: Sequence[GeneratedEvent], min_failures: int, min_users: int, window_ms: int
) -> set[str]:
    """Addresses with >= ``min_failures`` failed logins of >= ``min_users`` users in a window."""
    failures: dict[str, list[GeneratedEvent]] = defaultdict(list)
    for generated in events:
        if is_login(generated, Outcome.FAILURE) and generated.event.src_endpoint.ip:
            failures[generated.event.src_endpoint.ip].append(generated)
    found = set()
    for ip, failed in failures.items():
        low = 0
        for high in range(len(failed)):
            while failed[high].time_ms - failed[low].time_ms >= window_ms:
                low += 1
            window = failed[low : high + 1]
            if len(window) >= min_failures and len({e.user_id for e in window}) >= min_users:
                found.add(ip)
    return found
