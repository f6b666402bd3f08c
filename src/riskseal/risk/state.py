"""Per-user and per-IP behaviour state: one bounded value per key, driven by event time.

The risk processor keeps one :class:`UserState` per user in a plain (not windowed) table, so
no part of it depends on wall-clock expiry: every window here is a set of minute buckets
pruned against the newest event time the user has produced. Every collection has a fixed
upper bound, so a user's state stays within tens of kilobytes however long they are active.

Windows are order-insensitive within their span: the same events in any order leave the
same buckets. State encodes to compact JSON with sorted keys (``to_bytes``; orjson, as a
worker encodes a state after every event) for the Faust table, with a version number so an
incompatible layout is refused rather than misread.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from riskseal.errors import StateDecodeError
from riskseal.risk.addresses import canonical_ip

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

STATE_VERSION = 2
"""Layout written; version 1 (one alert time per analytic, baseline roles stamped with the
first event's time) is still read."""
BUCKET_SPAN_MINUTES = 60
"""Minute buckets are kept for the last hour of the user's event time."""
MAX_SIGN_INS = 20
"""Successful sign-ins remembered for new device / IP / country checks."""
MAX_RECENT_VALUES = 48
"""Distinct (kind, value) pairs remembered for distinct-per-hour counts."""
MAX_RESOURCES = 128
"""Resources remembered as known to the user."""
MAX_ROLES = 64
"""Roles remembered per user (roles on the current event and protected ones are kept first)."""
BASELINE_ROLE_TIME = 0
"""First-seen time of the roles on a user's first event: their baseline, never "added"."""
MAX_SEEN_EVENTS = 256
"""Event ids remembered to recognise redelivered events.

At-least-once redelivers what a worker processed since its last commit (a few seconds). A
state is written to the changelog with every decision of its user, so every entry here costs
on each request; a redelivered request older than the kept decisions would be decided again.
"""
MAX_DECISIONS = 32
"""Recent decisions kept to answer a redelivered request identically (see MAX_SEEN_EVENTS).

Once the offset of a request is committed (it cannot come again), a worker drops its decision
at the user's next event, so a state normally keeps only the decisions of its user's last
few seconds; this bounds them when commits do not happen.
"""
PROFILE_CAP = 10_000
"""The hour-of-week profile is halved when its total passes this, so old habits fade."""


class Counter:
    """Indexes of the per-minute counters."""

    FAILED_AUTH = 0
    SENSITIVE = 1
    DENIED = 2
    EVENTS = 3
    SIZE = 4


def _minute(time_ms: int) -> int:
    return time_ms // MINUTE_MS


@dataclass(slots=True)
class MinuteBuckets:
    """Per-minute counters over the last :data:`BUCKET_SPAN_MINUTES` of event time."""

    buckets: dict[int, list[int]] = field(default_factory=dict)
    newest_minute: int = 0

    def add(self, time_ms: int, counter: int, amount: int = 1) -> None:
        """Count ``amount`` at ``time_ms``; too-old events are not counted."""
        minute = _minute(time_ms)
        if minute > self.newest_minute:
            self.newest_minute = minute
            self._prune()
        if minute <= self.newest_minute - BUCKET_SPAN_MINUTES:
            return
        bucket = self.buckets.get(minute)
        if bucket is None:
            bucket = self.buckets[minute] = [0] * Counter.SIZE
        bucket[counter] += amount

    def total(self, counter: int, time_ms: int, minutes: int) -> int:
        """Sum of ``counter`` over the ``minutes`` minutes ending at ``time_ms`` (inclusive)."""
        last = _minute(time_ms)
        first = last - minutes + 1
        return sum(
            bucket[counter] for minute, bucket in self.buckets.items() if first <= minute <= last
        )

    def _prune(self) -> None:
        horizon = self.newest_minute - BUCKET_SPAN_MINUTES
        for minute in [minute for minute in self.buckets if minute <= horizon]:
            del self.buckets[minute]


@dataclass(frozen=True, slots=True)
class SignIn:
    """A successful sign-in: where from, with which device."""

    time: int
    ip: str | None
    country: str | None
    device: str | None


@dataclass(frozen=True, slots=True)
class GeoFix:
    """Where the user was at ``time``."""

    time: int
    lat: float
    lon: float
    country: str | None


@dataclass(slots=True)
class UserState:
    """Everything the engine remembers about one user, bounded in size."""

    user_id: str
    events: int = 0
    first_time: int | None = None
    last_time: int = 0
    minutes: MinuteBuckets = field(default_factory=MinuteBuckets)
    recent_values: dict[str, int] = field(default_factory=dict)
    """``kind:value`` → last time seen (ip, country, device), at most MAX_RECENT_VALUES."""
    sign_ins: list[SignIn] = field(default_factory=list)
    last_fix: GeoFix | None = None
    hour_of_week: list[int] = field(default_factory=lambda: [0] * 168)
    sensitive_peak: float = 0.0
    """Highest sliding 5-minute sensitive-access count seen (decays by event time)."""
    sensitive_peak_time: int = 0
    resources: dict[str, int] = field(default_factory=dict)
    """Known resource uids → last time used, at most MAX_RESOURCES."""
    roles: dict[str, int] = field(default_factory=dict)
    """Roles seen on the user's events → time first seen (:data:`BASELINE_ROLE_TIME` for the
    roles of the first event processed), at most :data:`MAX_ROLES`."""
    user_risk: float = 0.0
    user_risk_time: int = 0
    last_mfa: int | None = None
    last_challenge: int | None = None
    """Time of the latest step-up decision, so a following MFA can lower user risk."""
    alerted: dict[str, list[int]] = field(default_factory=dict)
    """Analytic uid → times of its latest alerts, most recently raised last (deduplication)."""
    seen: dict[str, None] = field(default_factory=dict)
    """Recently processed event ids, oldest first."""
    decisions: dict[str, bytes] = field(default_factory=dict)
    """Recent request ids → their encoded decision, oldest first."""
    _decision_texts: dict[str, tuple[bytes, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Base64 text of each kept decision, so encoding the state does not redo it per event."""

    # --- bounded updates -----------------------------------------------------------------
    def remember_value(self, kind: str, value: str | None, time_ms: int) -> None:
        """Note that ``kind`` (ip, country, device) had ``value`` at ``time_ms``."""
        if value is None:
            return
        key = f"{kind}:{value}"
        self.recent_values[key] = max(time_ms, self.recent_values.get(key, time_ms))
        _evict_oldest(self.recent_values, MAX_RECENT_VALUES)

    def distinct_since(self, kind: str, since_ms: int) -> int:
        """How many distinct values of ``kind`` were seen at or after ``since_ms``."""
        prefix = f"{kind}:"
        return sum(
            1
            for key, seen in self.recent_values.items()
            if key.startswith(prefix) and seen >= since_ms
        )

    def add_sign_in(self, sign_in: SignIn) -> None:
        """Remember a successful sign-in, keeping the newest :data:`MAX_SIGN_INS`."""
        self.sign_ins.append(sign_in)
        self.sign_ins.sort(key=lambda item: item.time)
        del self.sign_ins[:-MAX_SIGN_INS]

    def use_resource(self, uid: str, time_ms: int) -> None:
        """Note that the user acted on resource ``uid``."""
        self.resources[uid] = max(time_ms, self.resources.get(uid, time_ms))
        _evict_oldest(self.resources, MAX_RESOURCES)

    def note_roles(
        self,
        roles: Iterable[str],
        time_ms: int,
        *,
        baseline: bool = False,
        protected: frozenset[str] = frozenset(),
    ) -> None:
        """Record first-seen times of ``roles``, the roles of the event at ``time_ms``
        (``baseline``: the user's first event).

        Over :data:`MAX_ROLES`, roles the event no longer carries go first, then roles not
        in ``protected``, each oldest first: a user keeping more roles than the bound would
        otherwise have their own roles evicted and seen as new again on every event.
        """
        current = set(roles)
        first_seen = BASELINE_ROLE_TIME if baseline else time_ms
        for role in sorted(current):
            if role not in self.roles:
                self.roles[role] = first_seen
        excess = len(self.roles) - MAX_ROLES
        if excess > 0:
            known = self.roles
            order = sorted(known, key=lambda r: (r in current, r in protected, known[r], r))
            for role in order[:excess]:
                del known[role]

    def count_activity(self, time_ms: int) -> None:
        """Add one event to the hour-of-week profile."""
        self.hour_of_week[hour_of_week(time_ms)] += 1
        if sum(self.hour_of_week) > PROFILE_CAP:
            self.hour_of_week = [count // 2 for count in self.hour_of_week]

    def mark_seen(self, event_id: str) -> None:
        """Remember that ``event_id`` was processed."""
        self.seen[event_id] = None
        while len(self.seen) > MAX_SEEN_EVENTS:
            del self.seen[next(iter(self.seen))]

    def keep_decision(self, request_id: str, encoded: bytes) -> None:
        """Keep the decision of ``request_id`` to answer a redelivery identically."""
        self.decisions[request_id] = encoded
        while len(self.decisions) > MAX_DECISIONS:
            del self.decisions[next(iter(self.decisions))]

    def forget_decisions(self, request_ids: Iterable[str]) -> bool:
        """Drop the kept decisions of ``request_ids``; True when one of them was kept."""
        forgotten = False
        for request_id in request_ids:
            forgotten = self.decisions.pop(request_id, None) is not None or forgotten
        return forgotten

    # --- encoding --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Compact JSON encoding for the state table."""
        document = {
            "v": STATE_VERSION,
            "user": self.user_id,
            "events": self.events,
            "first": self.first_time,
            "last": self.last_time,
            "buckets": {str(minute): counts for minute, counts in self.minutes.buckets.items()},
            "newest_minute": self.minutes.newest_minute,
            "values": self.recent_values,
            "sign_ins": [[s.time, s.ip, s.country, s.device] for s in self.sign_ins],
            "fix": None
            if self.last_fix is None
            else [self.last_fix.time, self.last_fix.lat, self.last_fix.lon, self.last_fix.country],
            "how": self.hour_of_week,
            "peak": [self.sensitive_peak, self.sensitive_peak_time],
            "resources": self.resources,
            "roles": self.roles,
            "risk": [self.user_risk, self.user_risk_time],
            "mfa": self.last_mfa,
            "challenge": self.last_challenge,
            "alerted": self.alerted,
            "seen": list(self.seen),
            # A list, not an object: the order (oldest first) decides which one is evicted.
            "decisions": self._decision_list(),
        }
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)

    def _decision_list(self) -> list[list[str]]:
        texts = self._decision_texts
        kept: dict[str, tuple[bytes, str]] = {}
        for request_id, encoded in self.decisions.items():
            entry = texts.get(request_id)
            if entry is None or entry[0] is not encoded:
                entry = (encoded, base64.b64encode(encoded).decode())
            kept[request_id] = entry
        self._decision_texts = kept
        return [[request_id, entry[1]] for request_id, entry in kept.items()]

    @classmethod
    def from_bytes(cls, data: bytes) -> UserState:
        """Decode :meth:`to_bytes` output; anything else raises :class:`StateDecodeError`."""
        document = _load(data, "user state")
        try:
            fix = document["fix"]
            return cls(
                user_id=str(document["user"]),
                events=int(document["events"]),
                first_time=document["first"],
                last_time=int(document["last"]),
                minutes=MinuteBuckets(
                    {int(minute): list(counts) for minute, counts in document["buckets"].items()},
                    int(document["newest_minute"]),
                ),
                recent_values=_canonical_values(document["values"]),
                sign_ins=[
                    SignIn(time, canonical_ip(ip), country, device)
                    for time, ip, country, device in document["sign_ins"]
                ],
                last_fix=None if fix is None else GeoFix(*fix),
                hour_of_week=list(document["how"]),
                sensitive_peak=float(document["peak"][0]),
                sensitive_peak_time=int(document["peak"][1]),
                resources=dict(document["resources"]),
                roles=_roles(document),
                user_risk=float(document["risk"][0]),
                user_risk_time=int(document["risk"][1]),
                last_mfa=document["mfa"],
                last_challenge=document["challenge"],
                alerted={
                    analytic: _alert_times(times) for analytic, times in document["alerted"].items()
                },
                seen=dict.fromkeys(document["seen"]),
                decisions={
                    key: base64.b64decode(value, validate=True)
                    for key, value in document["decisions"]
                },
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise StateDecodeError(f"user state: malformed field ({exc!r})") from exc


@dataclass(slots=True)
class IpState:
    """Failed sign-ins from one source address, across users (password spray)."""

    ip: str
    failures: dict[str, int] = field(default_factory=dict)
    """Targeted user → time of the latest failure from this address, at most MAX_SPRAY_USERS."""
    alerted: list[int] = field(default_factory=list)
    """Times of the latest password-spray alerts from this address, most recent last."""
    seen: dict[str, None] = field(default_factory=dict)

    def add_failure(self, user_id: str, time_ms: int) -> None:
        """Note a failed sign-in of ``user_id`` from this address."""
        self.failures[user_id] = max(time_ms, self.failures.get(user_id, time_ms))
        _evict_oldest(self.failures, MAX_SPRAY_USERS)

    def users_since(self, since_ms: int) -> int:
        """Distinct users with a failure at or after ``since_ms``."""
        return sum(1 for seen in self.failures.values() if seen >= since_ms)

    def mark_seen(self, event_id: str) -> None:
        """Remember that ``event_id`` was processed."""
        self.seen[event_id] = None
        while len(self.seen) > MAX_SEEN_EVENTS:
            del self.seen[next(iter(self.seen))]

    def to_bytes(self) -> bytes:
        """Compact JSON encoding for the state table."""
        document = {
            "v": STATE_VERSION,
            "ip": self.ip,
            "failures": self.failures,
            "alerted": self.alerted,
            "seen": list(self.seen),
        }
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> IpState:
        """Decode :meth:`to_bytes` output; anything else raises :class:`StateDecodeError`."""
        document = _load(data, "IP state")
        try:
            return cls(
                ip=str(document["ip"]),
                failures=dict(document["failures"]),
                alerted=_alert_times(document["alerted"]),
                seen=dict.fromkeys(document["seen"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateDecodeError(f"IP state: malformed field ({exc!r})") from exc


MAX_SPRAY_USERS = 256
"""Users remembered per source address."""


def hour_of_week(time_ms: int) -> int:
    """0 (Monday 00:00-01:00 UTC) to 167."""
    # 1970-01-01 was a Thursday: shift so that index 0 is Monday.
    return ((time_ms // HOUR_MS) + 3 * 24) % 168


def _canonical_values(values: dict[str, int]) -> dict[str, int]:
    """Recent values with each address in one spelling (a state written before addresses
    were compared so), two spellings of one address merged at the later time."""
    merged: dict[str, int] = {}
    for key, seen in values.items():
        if key.startswith("ip:"):
            key = f"ip:{canonical_ip(key[3:])}"
        merged[key] = max(seen, merged.get(key, seen))
    return merged


def _evict_oldest(values: dict[str, int], limit: int) -> None:
    # Ties go to the smallest key, not to insertion order: a state restored from bytes
    # (whose objects come back key-sorted) must evict exactly what the live one would.
    while len(values) > limit:
        oldest = min(values, key=lambda key: (values[key], key))
        del values[oldest]


def _roles(document: dict[str, Any]) -> dict[str, int]:
    roles = {str(role): int(since) for role, since in document["roles"].items()}
    if document["v"] == 1:  # baseline roles carried the first event's time
        first = document["first"]
        return {
            role: BASELINE_ROLE_TIME if since == first else since for role, since in roles.items()
        }
    return roles


def _alert_times(value: Any) -> list[int]:
    # Layout version 1 kept one time (or none) where version 2 keeps a list.
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(time) for time in value]


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = orjson.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateDecodeError(f"{what}: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise StateDecodeError(f"{what}: expected an object, got {type(document).__name__}")
    if document.get("v") not in (1, STATE_VERSION):
        raise StateDecodeError(
            f"{what}: layout version {document.get('v')!r}, "
            f"this riskseal reads 1 and {STATE_VERSION}"
        )
    return document
