"""Typed Python views of the events in ``schemas/``.

Field names are the Avro (OCSF-aligned) names. Every class converts to the plain record that
the codec encodes (``to_record``) and back (``from_record``). Times are integers in
milliseconds since the Unix epoch (UTC); ids are lower-case hyphenated UUID strings.

Applications normally let the SDK build these (``AuditClient.request_access``); the classes
are also what decoding returns::

    event = typed_event(codec.decode(data))
    if isinstance(event, Decision):
        print(event.verdict, event.reasons)
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self


def now_ms() -> int:
    """Wall-clock time in ms since the epoch: the default event time set by applications."""
    return time.time_ns() // 1_000_000


class _RandomPool(threading.local):
    """Random bytes fetched from the OS in blocks: one getrandom() call per 256 ids."""

    BLOCK = 16 * 256

    def __init__(self) -> None:
        self.pid = -1
        self.data = b""
        self.offset = 0

    def take16(self) -> bytes:
        # A forked child must not reuse its parent's pool, or both would issue the same ids.
        if self.offset >= len(self.data) or self.pid != os.getpid():
            self.data, self.offset, self.pid = os.urandom(self.BLOCK), 0, os.getpid()
        chunk = self.data[self.offset : self.offset + 16]
        self.offset += 16
        return chunk


_POOL = _RandomPool()
_VERSION_4 = (0xFFFFFFFF_FFFF_0FFF_3FFF_FFFFFFFFFFFF, 0x00000000_0000_4000_8000_000000000000)


def new_event_id() -> str:
    """A fresh random event id: a UUID version 4 from the OS's random source."""
    mask, bits = _VERSION_4
    text = f"{(int.from_bytes(_POOL.take16()) & mask) | bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Sensitivity(enum.StrEnum):
    """Data classification of a resource."""

    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"
    CONFIDENTIAL = "CONFIDENTIAL"
    RESTRICTED = "RESTRICTED"


class Outcome(enum.StrEnum):
    """How an action ended (OCSF status)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    UNKNOWN = "UNKNOWN"


class Verdict(enum.StrEnum):
    """The access decision."""

    ALLOW = "ALLOW"
    STEP_UP = "STEP_UP"
    DENY = "DENY"

    @property
    def disposition(self) -> str:
        """The OCSF disposition name of this verdict."""
        return {"ALLOW": "Allowed", "STEP_UP": "Challenge", "DENY": "Blocked"}[self.value]


class RiskLevel(enum.StrEnum):
    """Risk band of a score."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class Severity(enum.StrEnum):
    """OCSF severity of a finding."""

    INFORMATIONAL = "INFORMATIONAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True, slots=True)
class SourceStamp:
    """Emitter id, process epoch and gap-free sequence number of an event."""

    source_id: str
    epoch: int
    seq: int

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {"source_id": self.source_id, "epoch": self.epoch, "seq": self.seq}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["source_id"], record["epoch"], record["seq"])


@dataclass(frozen=True, slots=True)
class Actor:
    """The user acting (OCSF actor.user)."""

    uid: str
    name: str | None = None
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "uid": self.uid,
            "name": self.name,
            "roles": list(self.roles),
            "groups": list(self.groups),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["uid"], record["name"], tuple(record["roles"]), tuple(record["groups"]))


@dataclass(frozen=True, slots=True)
class Location:
    """Geolocation of an endpoint (OCSF location)."""

    country: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {"country": self.country, "city": self.city, "lat": self.lat, "lon": self.lon}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["country"], record["city"], record["lat"], record["lon"])


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The source endpoint of a request (OCSF src_endpoint)."""

    ip: str | None = None
    location: Location | None = None

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "ip": self.ip,
            "location": self.location.to_record() if self.location is not None else None,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        location = record["location"]
        return cls(record["ip"], Location.from_record(location) if location else None)


@dataclass(frozen=True, slots=True)
class Resource:
    """What is acted upon (OCSF resources[])."""

    type: str
    uid: str
    owner: str | None = None
    sensitivity: Sensitivity = Sensitivity.INTERNAL

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "type": self.type,
            "uid": self.uid,
            "owner": self.owner,
            "sensitivity": str(self.sensitivity),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(
            record["type"], record["uid"], record["owner"], Sensitivity(record["sensitivity"])
        )


@dataclass(frozen=True, slots=True)
class AuthContext:
    """How the session was authenticated."""

    is_mfa: bool = False
    auth_protocol: str | None = None
    mfa_time: int | None = None

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "is_mfa": self.is_mfa,
            "auth_protocol": self.auth_protocol,
            "mfa_time": self.mfa_time,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["is_mfa"], record["auth_protocol"], record["mfa_time"])


NO_AUTH = AuthContext()
NO_ENDPOINT = Endpoint()


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """A user asks to do something to a resource (topic ``access.requests``)."""

    event_id: str
    time: int
    source: SourceStamp
    actor: Actor
    action: str
    resource: Resource
    src_endpoint: Endpoint = NO_ENDPOINT
    auth: AuthContext = NO_AUTH
    session_id: str | None = None
    device_id: str | None = None
    trace_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        """The actor's user id, which is also the Kafka key."""
        return self.actor.uid

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return _activity_record(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(**_activity_fields(record))


@dataclass(frozen=True, slots=True)
class AccessAction:
    """Something a user did, with its outcome (topic ``access.actions``)."""

    event_id: str
    time: int
    source: SourceStamp
    actor: Actor
    action: str
    resource: Resource
    outcome: Outcome
    src_endpoint: Endpoint = NO_ENDPOINT
    auth: AuthContext = NO_AUTH
    status_detail: str | None = None
    request_id: str | None = None
    session_id: str | None = None
    device_id: str | None = None
    trace_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        """The actor's user id, which is also the Kafka key."""
        return self.actor.uid

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            **_activity_record(self),
            "outcome": str(self.outcome),
            "status_detail": self.status_detail,
            "request_id": self.request_id,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(
            **_activity_fields(record),
            outcome=Outcome(record["outcome"]),
            status_detail=record["status_detail"],
            request_id=record["request_id"],
        )


def _activity_record(event: AccessRequest | AccessAction) -> dict[str, Any]:
    """The fields requests and actions share, as an Avro record."""
    return {
        "event_id": event.event_id,
        "time": event.time,
        "source": event.source.to_record(),
        "actor": event.actor.to_record(),
        "session_id": event.session_id,
        "device_id": event.device_id,
        "src_endpoint": event.src_endpoint.to_record(),
        "action": event.action,
        "resource": event.resource.to_record(),
        "auth": event.auth.to_record(),
        "trace_id": event.trace_id,
        "attributes": dict(event.attributes),
    }


def _activity_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The shared fields of a request or action record, as constructor arguments."""
    return {
        "event_id": record["event_id"],
        "time": record["time"],
        "source": SourceStamp.from_record(record["source"]),
        "actor": Actor.from_record(record["actor"]),
        "action": record["action"],
        "resource": Resource.from_record(record["resource"]),
        "src_endpoint": Endpoint.from_record(record["src_endpoint"]),
        "auth": AuthContext.from_record(record["auth"]),
        "session_id": record["session_id"],
        "device_id": record["device_id"],
        "trace_id": record["trace_id"],
        "attributes": dict(record["attributes"]),
    }


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that contributed to a risk score."""

    code: str
    value: str
    points: int
    threshold: str | None = None

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "code": self.code,
            "value": self.value,
            "threshold": self.threshold,
            "points": self.points,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["code"], record["value"], record["points"], record["threshold"])


@dataclass(frozen=True, slots=True)
class Versions:
    """Versions of everything that computed a decision."""

    engine: str
    rules: str
    policies: str
    entities: str

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "engine": self.engine,
            "rules": self.rules,
            "policies": self.policies,
            "entities": self.entities,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["engine"], record["rules"], record["policies"], record["entities"])


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision on one access request (topic ``risk.decisions``).

    ``fallback`` is never on the wire: the SDK sets it on a decision it made up itself
    because no decision arrived in time (see ``AuditClient.authorize``).
    """

    event_id: str
    time: int
    source: SourceStamp
    request_id: str
    user_id: str
    verdict: Verdict
    request_risk: int
    user_risk: int
    risk_level: RiskLevel
    versions: Versions
    reasons: tuple[Reason, ...] = ()
    policy_ids: tuple[str, ...] = ()
    fallback: bool = False

    @property
    def disposition(self) -> str:
        """OCSF disposition: Allowed, Challenge or Blocked."""
        return self.verdict.disposition

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "event_id": self.event_id,
            "time": self.time,
            "source": self.source.to_record(),
            "request_id": self.request_id,
            "user_id": self.user_id,
            "verdict": str(self.verdict),
            "disposition": self.disposition,
            "request_risk": self.request_risk,
            "user_risk": self.user_risk,
            "risk_level": str(self.risk_level),
            "reasons": [reason.to_record() for reason in self.reasons],
            "policy_ids": list(self.policy_ids),
            "versions": self.versions.to_record(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(
            event_id=record["event_id"],
            time=record["time"],
            source=SourceStamp.from_record(record["source"]),
            request_id=record["request_id"],
            user_id=record["user_id"],
            verdict=Verdict(record["verdict"]),
            request_risk=record["request_risk"],
            user_risk=record["user_risk"],
            risk_level=RiskLevel(record["risk_level"]),
            versions=Versions.from_record(record["versions"]),
            reasons=tuple(Reason.from_record(r) for r in record["reasons"]),
            policy_ids=tuple(record["policy_ids"]),
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence behind an alert."""

    kind: str
    value: str
    event_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {"kind": self.kind, "value": self.value, "event_id": self.event_id}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["kind"], record["value"], record["event_id"])


@dataclass(frozen=True, slots=True)
class Analytic:
    """The detection rule that raised an alert."""

    uid: str
    name: str
    version: str

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {"uid": self.uid, "name": self.name, "version": self.version}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(record["uid"], record["name"], record["version"])


@dataclass(frozen=True, slots=True)
class Alert:
    """A risk alert for the SOC, an OCSF Detection Finding (topic ``risk.alerts``)."""

    event_id: str
    time: int
    source: SourceStamp
    user_id: str
    title: str
    analytic: Analytic
    severity: Severity
    risk_score: int
    risk_level: RiskLevel
    evidences: tuple[Evidence, ...] = ()
    request_ids: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The Avro record."""
        return {
            "event_id": self.event_id,
            "time": self.time,
            "source": self.source.to_record(),
            "user_id": self.user_id,
            "title": self.title,
            "analytic": self.analytic.to_record(),
            "severity": str(self.severity),
            "risk_score": self.risk_score,
            "risk_level": str(self.risk_level),
            "evidences": [evidence.to_record() for evidence in self.evidences],
            "request_ids": list(self.request_ids),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From an Avro record."""
        return cls(
            event_id=record["event_id"],
            time=record["time"],
            source=SourceStamp.from_record(record["source"]),
            user_id=record["user_id"],
            title=record["title"],
            analytic=Analytic.from_record(record["analytic"]),
            severity=Severity(record["severity"]),
            risk_score=record["risk_score"],
            risk_level=RiskLevel(record["risk_level"]),
            evidences=tuple(Evidence.from_record(e) for e in record["evidences"]),
            request_ids=tuple(record["request_ids"]),
        )


Event = AccessRequest | AccessAction | Decision | Alert
