"""The rules files: the shipped rules each fire in a situation built for them; bad files fail."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from riskseal.errors import RulesLoadError
from riskseal.risk.features import Event, extract
from riskseal.risk.rules import Levels, RuleSet
from riskseal.risk.scoring import score
from riskseal.risk.state import Counter, UserState
from tests.unit.risk.builders import (
    BERLIN,
    DAY,
    HOUR,
    MINUTE,
    MONDAY,
    NEW_YORK,
    PARIS,
    REPORT,
    SECRET,
    T0,
    fold,
    login,
    request,
)

SHIPPED = RuleSet.load(None)
SHIPPED_DIR = Path(__file__).parents[3] / "rules"

Situation = tuple[UserState, Event]


def _established() -> UserState:
    """A user with a normal history: signed in from Paris on their laptop, working 09:00."""
    return fold([login(at=T0 - DAY), request(at=T0 - DAY + MINUTE)])


def _failed_burst(count: int) -> Situation:
    state = fold([login(at=T0 + n * 10_000, ok=False) for n in range(count - 1)], _established())
    return state, login(at=T0 + count * 10_000, ok=False)


def _success_after_failures() -> Situation:
    state = fold([login(at=T0 + n * 10_000, ok=False) for n in range(5)], _established())
    return state, login(at=T0 + MINUTE)


def _impossible_travel() -> Situation:
    state = fold([login(at=T0, location=PARIS)], _established())
    return state, request(at=T0 + 10 * MINUTE, location=NEW_YORK)


def _new_country() -> Situation:
    return _established(), login(at=T0, location=BERLIN)


def _new_device() -> Situation:
    return _established(), login(at=T0, device="unknown-tablet")


def _new_ip() -> Situation:
    return _established(), login(at=T0, ip="198.51.100.23")


def _many_countries() -> Situation:
    # Hours apart, so no travel is impossible; all within the hour-long window.
    state = fold([request(at=T0, location=PARIS), request(at=T0 + 20 * MINUTE, location=BERLIN)])
    return state, request(at=T0 + 50 * MINUTE, location=NEW_YORK)


def _many_addresses() -> Situation:
    state = fold([request(at=T0 + n * MINUTE, ip=f"10.0.0.{n}") for n in range(4)])
    return state, request(at=T0 + 5 * MINUTE, ip="10.0.0.99")


def _off_hours() -> Situation:
    state = fold([request(at=MONDAY + day * DAY + 9 * HOUR) for day in range(50)])
    return state, request(at=MONDAY + 60 * DAY + 3 * HOUR)


def _sensitive_burst() -> Situation:
    state = fold([request(at=T0 + n * 3_000, resource=REPORT) for n in range(19)], _established())
    return state, request(at=T0 + MINUTE, resource=REPORT)


def _new_restricted_resource() -> Situation:
    return _established(), request(at=T0, resource=SECRET)


def _denied_burst() -> Situation:
    state = _established()
    for n in range(5):  # what the engine records for each refused or challenged request
        state = fold([request(at=T0 + n * 10_000)], state)
        state.minutes.add(T0 + n * 10_000, Counter.DENIED)
    return state, request(at=T0 + MINUTE)


def _self_grant() -> Situation:
    grant = request(at=T0, action="role.grant", attributes={"grantee": "alice", "role": "admin"})
    return _established(), grant


def _privileged_role_added() -> Situation:
    return _established(), request(at=T0, roles=("admin",))


def _role_added() -> Situation:
    return _established(), request(at=T0, roles=("manager",))


def _privileged_action_new_role() -> Situation:
    state = fold([request(at=T0, roles=("admin",))], _established())
    return state, request(at=T0 + HOUR, action="admin.config", roles=("admin",))


def _cold_start() -> Situation:
    return UserState("alice"), request(at=T0)


SITUATIONS: dict[str, Callable[[], Situation]] = {
    "failed_auth_burst": lambda: _failed_burst(5),
    "brute_force": lambda: _failed_burst(10),
    "success_after_failures": _success_after_failures,
    "impossible_travel": _impossible_travel,
    "new_country": _new_country,
    "new_device": _new_device,
    "new_ip": _new_ip,
    "many_countries": _many_countries,
    "many_addresses": _many_addresses,
    "off_hours": _off_hours,
    "sensitive_burst": _sensitive_burst,
    "new_restricted_resource": _new_restricted_resource,
    "denied_burst": _denied_burst,
    "self_grant": _self_grant,
    "privileged_role_added": _privileged_role_added,
    "role_added": _role_added,
    "privileged_action_new_role": _privileged_action_new_role,
    "cold_start": _cold_start,
}


def _fired(state: UserState, event: Event, rules: RuleSet = SHIPPED) -> set[str]:
    kind = "action" if hasattr(event, "outcome") else "request"
    return {reason.code for reason in score(rules, extract(state, event), kind).reasons}


@pytest.mark.parametrize("code", [rule.code for rule in SHIPPED.rules])
def test_every_shipped_rule_fires_in_its_situation(code: str) -> None:
    """A new rule without a situation here fails this test: add one."""
    assert code in SITUATIONS, f"no situation for rule {code!r}: add one to SITUATIONS"
    state, event = SITUATIONS[code]()
    assert code in _fired(state, event)


def test_every_situation_names_a_shipped_rule() -> None:
    assert set(SITUATIONS) == {rule.code for rule in SHIPPED.rules}


def test_an_established_user_doing_the_usual_fires_nothing() -> None:
    state = _established()
    assert _fired(state, request(at=T0)) == set()
    assert _fired(state, login(at=T0)) == set()


def test_a_request_only_rule_does_not_fire_on_actions() -> None:
    assert "cold_start" not in _fired(UserState("alice"), login(at=T0))


def test_the_shipped_rules_load_with_their_levels() -> None:
    assert SHIPPED.levels == Levels(step_up=30, deny=70, alert=60)
    assert SHIPPED.version.startswith("sha256:")
    assert len(SHIPPED.version) == len("sha256:") + 64
    assert SHIPPED.source is None
    self_grant = next(rule for rule in SHIPPED.rules if rule.code == "self_grant")
    assert self_grant.hard
    assert [rule.code for rule in SHIPPED.rules if rule.hard] == ["self_grant"]


# --- load errors --------------------------------------------------------------------------------

GOOD_RULE = """
[[rules]]
code = "x"
points = 10
conditions = [{ feature = "new_ip", op = "==", value = 1 }]
"""


def _dir(tmp_path: Path, **files: str) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    for name, text in files.items():
        (directory / f"{name}.toml").write_text(text)
    return directory


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[rules]\ncode = 'x'", "a.toml: not valid TOML"),
        ("[weights]\nx = 1", "a.toml: unknown tables ['weights']"),
        ("levels = 5", "a.toml: [levels] must be a table"),
        ("rules = [5]", "a.toml: rules[0]: must be a table"),
        (GOOD_RULE.replace("new_ip", "no_such_feature"), "(x): unknown feature 'no_such_feature'"),
        (GOOD_RULE.replace('"=="', '"=~"'), "(x): unknown operator '=~'"),
        (GOOD_RULE.replace("value = 1", 'value = "1"'), "(x): value of new_ip must be a number"),
        (GOOD_RULE.replace("value = 1", "value = true"), "(x): value of new_ip must be a number"),
        (GOOD_RULE.replace("value = 1 }", "value = 1, extra = 2 }"), "(x): a condition is"),
        (GOOD_RULE.replace("points = 10", "points = 101"), "(x): `points` must be an integer"),
        (GOOD_RULE.replace("points = 10", "points = -1"), "(x): `points` must be an integer"),
        (GOOD_RULE.replace("points = 10", "points = 1.5"), "(x): `points` must be an integer"),
        (GOOD_RULE.replace("points = 10", 'points = "10"'), "(x): `points` must be an integer"),
        (GOOD_RULE.replace("points = 10", "points = true"), "(x): `points` must be an integer"),
        (GOOD_RULE.replace("points = 10\n", ""), "(x): `points` must be an integer"),
        (GOOD_RULE.replace('code = "x"', 'code = ""'), "a.toml: rules[0]: `code` must be"),
        (GOOD_RULE.replace('code = "x"', "code = 3"), "a.toml: rules[0]: `code` must be"),
        (GOOD_RULE.replace('code = "x"', 'code = "x"\nweight = 3'), "unknown keys ['weight']"),
        (GOOD_RULE.replace("conditions = [{", "conditions = []\n#"), "(x): `conditions` must"),
        (GOOD_RULE.replace('code = "x"', 'code = "x"\non = ["login"]'), "(x): `on` must list"),
        (GOOD_RULE.replace('code = "x"', 'code = "x"\non = []'), "(x): `on` must list"),
        (GOOD_RULE.replace('code = "x"', 'code = "x"\nhard = "no"'), "(x): `hard` must be"),
        (GOOD_RULE.replace('code = "x"', 'code = "x"\ndescription = 5'), "(x): `description`"),
    ],
    ids=[
        "bad-toml",
        "unknown-table",
        "levels-not-table",
        "rule-not-table",
        "unknown-feature",
        "unknown-op",
        "value-text",
        "value-bool",
        "condition-extra-key",
        "points-over",
        "points-negative",
        "points-float",
        "points-text",
        "points-bool",
        "points-missing",
        "code-empty",
        "code-number",
        "unknown-rule-key",
        "conditions-empty",
        "on-unknown",
        "on-empty",
        "hard-text",
        "description-number",
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_file_and_rule(
    tmp_path: Path, text: str, fragment: str
) -> None:
    directory = _dir(tmp_path, a=text)
    with pytest.raises(RulesLoadError) as caught:
        RuleSet.load(directory)
    assert fragment in str(caught.value)
    assert "a.toml" in str(caught.value) or "rules:" in str(caught.value)


def test_duplicate_codes_across_files_are_refused(tmp_path: Path) -> None:
    directory = _dir(tmp_path, a=GOOD_RULE, b=GOOD_RULE)
    with pytest.raises(RulesLoadError, match=r"duplicate rule codes \['x'\]"):
        RuleSet.load(directory)


@pytest.mark.parametrize(
    ("levels", "fragment"),
    [
        ("step_up = 80\ndeny = 70", "0 < step_up <= deny <= 100, got 80/70"),
        ("step_up = 0", "got 0/70"),
        ("deny = 101", "[levels]: deny must be an integer >= 0 and <= 100, got 101"),
        ("warn = 50", "[levels]"),
        ('step_up = "30"', "[levels]: step_up must be"),
        ("alert = true", "[levels]: alert must be"),
        ("alert = 101", "[levels]: alert must be"),
    ],
)
def test_bad_levels_are_refused(tmp_path: Path, levels: str, fragment: str) -> None:
    directory = _dir(tmp_path, a=f"[levels]\n{levels}\n{GOOD_RULE}")
    with pytest.raises(RulesLoadError) as caught:
        RuleSet.load(directory)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("table", "entry", "fragment"),
    [
        ("user_risk", "half_life_minutes = 0", "[user_risk]: half_life_minutes must be"),
        ("user_risk", 'half_life_minutes = "4h"', "[user_risk]: half_life_minutes must be"),
        ("user_risk", "step_up_relief = 1.5", "[user_risk]: step_up_relief must be"),
        ("user_risk", "decay = 1", "[user_risk]"),
        ("alerts", "dedup_minutes = -1", "[alerts]: dedup_minutes must be"),
        ("alerts", "spray_users_10m = 0", "[alerts]: spray_users_10m must be"),
        ("alerts", "spray_users_10m = 2.5", "[alerts]: spray_users_10m must be"),
    ],
)
def test_bad_user_risk_and_alert_settings_are_refused(
    tmp_path: Path, table: str, entry: str, fragment: str
) -> None:
    directory = _dir(tmp_path, a=f"[{table}]\n{entry}\n{GOOD_RULE}")
    with pytest.raises(RulesLoadError) as caught:
        RuleSet.load(directory)
    assert fragment in str(caught.value)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not rules")
    with pytest.raises(RulesLoadError, match=r"no \*\.toml files in"):
        RuleSet.load(tmp_path)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesLoadError, match="is not a directory"):
        RuleSet.load(tmp_path / "absent")


def test_files_merge_in_name_order_the_last_setting_winning(tmp_path: Path) -> None:
    second = GOOD_RULE.replace('"x"', '"y"')
    directory = _dir(
        tmp_path, a=f"[levels]\ndeny = 80\n{GOOD_RULE}", b=f"[levels]\ndeny = 90\n{second}"
    )
    rules = RuleSet.load(directory)
    assert [rule.code for rule in rules.rules] == ["x", "y"]
    assert rules.levels == Levels(step_up=30, deny=90, alert=60)
    assert rules.source == directory


def test_a_rule_with_on_and_hard_is_read() -> None:
    rule = next(rule for rule in SHIPPED.rules if rule.code == "cold_start")
    assert rule.on == frozenset({"request"})
    assert not rule.hard
    assert rule.conditions[0].describe() == "== 1"


# --- version ------------------------------------------------------------------------------------


def _copy_shipped(tmp_path: Path) -> Path:
    directory = tmp_path / "copy"
    shutil.copytree(SHIPPED_DIR, directory)
    return directory


def test_the_version_is_stable_and_independent_of_the_directory(tmp_path: Path) -> None:
    copy = _copy_shipped(tmp_path)
    assert RuleSet.load(copy).version == SHIPPED.version
    assert RuleSet.load(copy).version == RuleSet.load(copy).version
    (copy / "README.txt").write_text("not a rules file")
    assert RuleSet.load(copy).version == SHIPPED.version


def test_the_version_changes_with_any_content(tmp_path: Path) -> None:
    copy = _copy_shipped(tmp_path)
    path = copy / "default.toml"
    path.write_text(path.read_text() + "\n# a comment\n")
    commented = RuleSet.load(copy).version
    assert commented != SHIPPED.version
    path.write_text(path.read_text().replace("points = 10\n", "points = 11\n"))
    assert RuleSet.load(copy).version not in {SHIPPED.version, commented}


def test_the_version_covers_file_names(tmp_path: Path) -> None:
    copy = _copy_shipped(tmp_path)
    (copy / "default.toml").rename(copy / "main.toml")
    assert RuleSet.load(copy).version != SHIPPED.version
