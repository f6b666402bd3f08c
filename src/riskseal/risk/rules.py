"""Risk rules: versioned TOML files that turn features into points with reason codes.

A rules directory holds ``*.toml`` files, read in name order and merged: ``[levels]``,
``[user_risk]`` and ``[alerts]`` tables (the last file that sets a key wins) and
``[[rules]]`` entries (codes must be unique across files). A rule fires when all its
conditions hold::

    [[rules]]
    code = "impossible_travel"
    points = 80
    description = "Consecutive locations too far apart for the time between them"
    conditions = [
      { feature = "travel_speed_kmh", op = ">", value = 1000 },
      { feature = "travel_distance_km", op = ">", value = 500 },
    ]

``hard = true`` forces a deny whatever the score; ``on = ["request"]`` limits a rule to
requests (default: requests and actions). The version of a rule set is the SHA-256 of the
files' names and bytes, recorded in every decision.
"""

from __future__ import annotations

import hashlib
import math
import operator
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from riskseal.errors import RulesLoadError
from riskseal.risk.features import FEATURE_NAMES

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
EVENT_KINDS = frozenset({"request", "action"})


@dataclass(frozen=True, slots=True)
class Condition:
    """``feature op value``."""

    feature: str
    op: str
    value: float

    def holds(self, features: Mapping[str, float]) -> bool:
        """Whether the condition is true of ``features``."""
        return OPERATORS[self.op](features[self.feature], self.value)

    def describe(self) -> str:
        """``op value`` as shown in a reason's threshold."""
        return f"{self.op} {_number(self.value)}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: when every condition holds, add ``points`` with reason ``code``."""

    code: str
    points: int
    conditions: tuple[Condition, ...]
    description: str = ""
    hard: bool = False
    on: frozenset[str] = EVENT_KINDS

    def fires(self, features: Mapping[str, float], kind: str) -> bool:
        """Whether the rule fires for an event of ``kind`` with ``features``."""
        return kind in self.on and all(c.holds(features) for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Levels:
    """Score thresholds: allow < step_up ≤ score < deny ≤ score; alerts from ``alert``."""

    step_up: int = 30
    deny: int = 70
    alert: int = 60


@dataclass(frozen=True, slots=True)
class UserRiskPolicy:
    """How user risk accumulates and fades."""

    half_life_minutes: float = 240.0
    min_event_risk: int = 30
    """Only events at least this risky raise user risk."""
    step_up_relief: float = 0.5
    """Factor applied to user risk after a successful MFA that follows a step-up."""
    step_up_window_minutes: float = 15.0


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Alert deduplication."""

    dedup_minutes: float = 60.0
    spray_users_10m: int = 10
    """Distinct users failing from one address within 10 minutes that make a password spray."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A loaded, validated rule set and its version."""

    rules: tuple[Rule, ...]
    levels: Levels
    user_risk: UserRiskPolicy
    alerts: AlertPolicy
    version: str
    source: Path | None = None

    @classmethod
    def load(cls, directory: Path | None = None) -> RuleSet:
        """Load ``directory`` (``None``: the rules shipped with riskseal)."""
        files = _rule_files(directory)
        if not files:
            raise RulesLoadError(f"rules: no *.toml files in {directory}; add at least one")
        digest = hashlib.sha256()
        merged: dict[str, dict[str, Any]] = {"levels": {}, "user_risk": {}, "alerts": {}}
        rules: list[Rule] = []
        for name, data in files:
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
            try:
                document = tomllib.loads(data.decode())
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise RulesLoadError(f"rules file {name}: not valid TOML: {exc}") from exc
            unknown = set(document) - {"levels", "user_risk", "alerts", "rules", "version"}
            if unknown:
                raise RulesLoadError(f"rules file {name}: unknown tables {sorted(unknown)}")
            for table in ("levels", "user_risk", "alerts"):
                merged[table].update(_table(document, table, name))
            for index, entry in enumerate(document.get("rules", [])):
                rules.append(_rule(entry, f"{name}: rules[{index}]"))
        codes = [rule.code for rule in rules]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise RulesLoadError(f"rules: duplicate rule codes {duplicates}")
        levels = _build(Levels, merged["levels"], "levels")
        if not 0 < levels.step_up <= levels.deny <= 100:
            raise RulesLoadError(
                f"rules: levels need 0 < step_up <= deny <= 100, got {levels.step_up}/{levels.deny}"
            )
        return cls(
            rules=tuple(rules),
            levels=levels,
            user_risk=_build(UserRiskPolicy, merged["user_risk"], "user_risk"),
            alerts=_build(AlertPolicy, merged["alerts"], "alerts"),
            version=f"sha256:{digest.hexdigest()}",
            source=directory,
        )


def _rule_files(directory: Path | None) -> list[tuple[str, bytes]]:
    if directory is None:
        shipped = resources.files("riskseal.risk") / "rules"
        return sorted(
            (item.name, item.read_bytes())
            for item in shipped.iterdir()
            if item.name.endswith(".toml")
        )
    if not directory.is_dir():
        raise RulesLoadError(f"rules: {directory} is not a directory (RISKSEAL_RISK_RULES_DIR)")
    try:
        return [(path.name, path.read_bytes()) for path in sorted(directory.glob("*.toml"))]
    except OSError as exc:
        raise RulesLoadError(f"rules: cannot read {directory}: {exc}") from exc


def _table(document: Mapping[str, Any], table: str, name: str) -> dict[str, Any]:
    value = document.get(table, {})
    if not isinstance(value, dict):
        raise RulesLoadError(f"rules file {name}: [{table}] must be a table")
    return value


_LIMITS: dict[tuple[str, str], tuple[bool, float, float, bool]] = {
    # (table, key): (integer?, low, high, low inclusive?)
    ("levels", "step_up"): (True, 0, 100, True),
    ("levels", "deny"): (True, 0, 100, True),
    ("levels", "alert"): (True, 0, 100, True),
    ("user_risk", "half_life_minutes"): (False, 0, math.inf, False),
    ("user_risk", "min_event_risk"): (True, 0, 100, True),
    ("user_risk", "step_up_relief"): (False, 0, 1, True),
    ("user_risk", "step_up_window_minutes"): (False, 0, math.inf, True),
    ("alerts", "dedup_minutes"): (False, 0, math.inf, True),
    ("alerts", "spray_users_10m"): (True, 1, math.inf, True),
}
"""What each setting may be: a string, a boolean or an out-of-range value is refused at load,
not met later as a crash or a silent misreading in the engine."""


def _check_setting(table: str, key: str, value: Any) -> None:
    limits = _LIMITS.get((table, key))
    if limits is None:
        return  # an unknown key: the dataclass refuses it
    integer, low, high, low_inclusive = limits
    kinds = int if integer else int | float
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not (value >= low if low_inclusive else value > low)
        or value > high
    ):
        what = "an integer" if integer else "a number"
        bound = f"{'>=' if low_inclusive else '>'} {low}" + (
            f" and <= {high}" if math.isfinite(high) else ""
        )
        raise RulesLoadError(f"rules: [{table}]: {key} must be {what} {bound}, got {value!r}")


def _build(kind: Any, values: dict[str, Any], table: str) -> Any:
    for key, value in values.items():
        _check_setting(table, key, value)
    try:
        return kind(**values)
    except TypeError as exc:
        raise RulesLoadError(f"rules: [{table}]: {exc}") from exc


def _rule(entry: Any, where: str) -> Rule:
    if not isinstance(entry, dict):
        raise RulesLoadError(f"{where}: must be a table")
    unknown = set(entry) - {"code", "points", "conditions", "description", "hard", "on"}
    if unknown:
        raise RulesLoadError(f"{where}: unknown keys {sorted(unknown)}")
    code = entry.get("code")
    if not isinstance(code, str) or not code:
        raise RulesLoadError(f"{where}: `code` must be a non-empty string")
    points = entry.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= 100:
        raise RulesLoadError(f"{where} ({code}): `points` must be an integer 0-100")
    raw_conditions = entry.get("conditions")
    if not isinstance(raw_conditions, list) or not raw_conditions:
        raise RulesLoadError(f"{where} ({code}): `conditions` must be a non-empty list")
    on = entry.get("on", sorted(EVENT_KINDS))
    if not isinstance(on, list) or not on or not set(on) <= EVENT_KINDS:
        raise RulesLoadError(f"{where} ({code}): `on` must list some of {sorted(EVENT_KINDS)}")
    hard = entry.get("hard", False)
    if not isinstance(hard, bool):
        raise RulesLoadError(f"{where} ({code}): `hard` must be true or false, got {hard!r}")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise RulesLoadError(f"{where} ({code}): `description` must be a string")
    return Rule(
        code=code,
        points=points,
        conditions=tuple(_condition(item, f"{where} ({code})") for item in raw_conditions),
        description=description,
        hard=hard,
        on=frozenset(on),
    )


def _condition(item: Any, where: str) -> Condition:
    if not isinstance(item, dict) or set(item) != {"feature", "op", "value"}:
        raise RulesLoadError(f"{where}: a condition is {{feature, op, value}}, got {item!r}")
    feature, op, value = item["feature"], item["op"], item["value"]
    if feature not in FEATURE_NAMES:
        raise RulesLoadError(
            f"{where}: unknown feature {feature!r}; known: {', '.join(sorted(FEATURE_NAMES))}"
        )
    if op not in OPERATORS:
        raise RulesLoadError(f"{where}: unknown operator {op!r}; use one of {sorted(OPERATORS)}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesLoadError(f"{where}: value of {feature} must be a number, got {value!r}")
    return Condition(feature, op, float(value))


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)
