"""The Cedar policy layer: verdicts, policy ids, the shipped policy set, loading and reload."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import cedarpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.contract.events import (
    AccessRequest,
    Actor,
    AuthContext,
    Endpoint,
    Resource,
    Sensitivity,
    SourceStamp,
    Verdict,
)
from riskseal.errors import PolicyLoadError
from riskseal.generator import GeneratorConfig, generate_events
from riskseal.risk.entities import EntityBuilder, StaticEntities
from riskseal.risk.policy import (
    DEFAULT_DENY,
    EVALUATION_ERROR,
    INVALID_REQUEST,
    UNKNOWN_ACTION,
    PolicyDecision,
    PolicyEngine,
    PolicyRequest,
    shipped_policies,
)

SHIPPED = shipped_policies()
SCHEMA_TEXT = (SHIPPED / "riskseal.cedarschema").read_text()
T0 = 1_736_150_400_000

BASE = PolicyRequest(
    user_id="ada.smith",
    roles=("sales",),
    groups=("sales", "emea"),
    action="data.read",
    resource_type="document",
    resource_id="sales-playbook",
    resource_owner="sales",
    sensitivity="INTERNAL",
    risk_score=0,
    risk_level="allow",
    reasons=(),
    ip="10.0.1.7",
    event_time=T0,
    mfa_age_s=None,
    device_known=True,
    is_mfa=False,
)


def req(**changes: object) -> PolicyRequest:
    return dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


def decide(engine: PolicyEngine, **changes: object) -> PolicyDecision:
    return engine.evaluate(req(**changes))


def copy_shipped(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    shutil.copytree(SHIPPED, directory)
    return directory


def policy_dir(tmp_path: Path, policies: dict[str, str], entities: str | None = None) -> Path:
    directory = tmp_path / "custom"
    directory.mkdir()
    (directory / "riskseal.cedarschema").write_text(SCHEMA_TEXT)
    for name, text in policies.items():
        (directory / name).write_text(text)
    if entities is not None:
        (directory / "entities.json").write_text(entities)
    return directory


# --- verdict paths with the shipped policies ---------------------------------------------


def test_allow_names_the_permits_that_matched(engine: PolicyEngine) -> None:
    assert decide(engine) == PolicyDecision(
        Verdict.ALLOW, ("internal-collaboration", "owner-access")
    )
    other_team = decide(engine, resource_id="org-chart", resource_owner="hr")
    assert other_team == PolicyDecision(Verdict.ALLOW, ("internal-collaboration",))


def test_no_permit_is_a_default_deny(engine: PolicyEngine) -> None:
    decision = decide(
        engine, resource_type="record", resource_id="x-1", resource_owner="hr",
        sensitivity="RESTRICTED",
    )  # fmt: skip
    assert decision == PolicyDecision(Verdict.DENY, (DEFAULT_DENY,))


def test_risk_in_the_deny_band_is_refused_by_a_forbid(engine: PolicyEngine) -> None:
    decision = decide(engine, risk_score=90, risk_level="deny", reasons=("impossible_travel",))
    assert decision == PolicyDecision(Verdict.DENY, ("risk-deny",))


def test_risk_in_the_step_up_band_needs_a_fresh_mfa(engine: PolicyEngine) -> None:
    stepped = PolicyDecision(Verdict.STEP_UP, ("step_up:risk-mfa",))
    assert decide(engine, risk_score=45, risk_level="step_up") == stepped
    assert decide(engine, risk_score=45, risk_level="step_up", mfa_age_s=901) == stepped
    fresh = decide(engine, risk_score=45, risk_level="step_up", mfa_age_s=900, is_mfa=True)
    assert fresh.verdict is Verdict.ALLOW


def test_restricted_data_from_an_unknown_device_steps_up(engine: PolicyEngine) -> None:
    restricted = {"resource_id": "customer-contracts-emea", "sensitivity": "RESTRICTED"}
    assert decide(engine, **restricted).verdict is Verdict.ALLOW
    assert decide(engine, device_known=False, **restricted) == PolicyDecision(
        Verdict.STEP_UP, ("step_up:unknown-device-restricted",)
    )
    after_mfa = decide(engine, device_known=False, mfa_age_s=30, is_mfa=True, **restricted)
    assert after_mfa.verdict is Verdict.ALLOW


def test_no_step_up_when_no_permit_would_follow(engine: PolicyEngine) -> None:
    # An unknown device would step up, but no MFA makes another team's restricted data
    # readable: a step-up would be pointless, so it is a plain deny.
    decision = decide(
        engine, device_known=False, resource_type="record", resource_id="employee-records",
        resource_owner="hr", sensitivity="RESTRICTED",
    )  # fmt: skip
    assert decision == PolicyDecision(Verdict.DENY, (DEFAULT_DENY,))


def test_a_forbid_without_step_up_among_the_determining_ones_denies(
    engine: PolicyEngine,
) -> None:
    decision = decide(
        engine, roles=("admin",), groups=("it",), action="admin.config", resource_type="config",
        resource_id="mdm-profiles", resource_owner="it", sensitivity="CONFIDENTIAL",
        risk_score=60, risk_level="step_up",
    )  # fmt: skip
    assert decision == PolicyDecision(
        Verdict.DENY, ("admin-high-risk", "step_up:admin-mfa", "step_up:risk-mfa")
    )


def test_admin_actions_only_for_admins_with_mfa(engine: PolicyEngine) -> None:
    admin = {
        "roles": ("admin",), "groups": ("it", "amer"), "action": "role.grant",
        "resource_type": "role", "resource_id": "sales", "resource_owner": "it",
        "sensitivity": "RESTRICTED",
    }  # fmt: skip
    assert decide(engine, is_mfa=True, mfa_age_s=7200, **admin) == PolicyDecision(
        Verdict.ALLOW, ("admin-role",)
    )
    assert decide(engine, **admin) == PolicyDecision(Verdict.STEP_UP, ("step_up:admin-mfa",))
    escalation = {**admin, "roles": ("sales",), "groups": ("sales", "amer")}
    assert decide(engine, is_mfa=True, **escalation) == PolicyDecision(
        Verdict.DENY, (DEFAULT_DENY,)
    )


def test_every_action_the_generator_uses_is_declared(engine: PolicyEngine) -> None:
    generated = {"auth.login", "auth.mfa", "auth.logout", "data.read", "data.write"}
    generated |= {"data.share", "data.export", "data.delete", "admin.config"}
    generated |= {"role.grant", "role.revoke", "admin.role.grant", "admin.user.update"}
    assert generated <= engine.actions
    assert not {"read", "write", "egress", "admin", "auth"} & engine.actions


@pytest.mark.parametrize("action", ["data.frobnicate", "read", "admin", ""])
def test_unknown_actions_and_action_groups_are_denied(engine: PolicyEngine, action: str) -> None:
    decision = decide(engine, action=action)
    assert (decision.verdict, decision.policy_ids) == (Verdict.DENY, (UNKNOWN_ACTION,))
    assert "not declared" in decision.errors[0]


def test_a_request_cedar_cannot_build_is_denied(engine: PolicyEngine) -> None:
    decision = decide(engine, ip="not-an-ip")
    assert (decision.verdict, decision.policy_ids) == (Verdict.DENY, (INVALID_REQUEST,))
    assert decision.errors


# --- entities ----------------------------------------------------------------------------


def test_users_get_the_parents_the_entities_file_gives_them(engine: PolicyEngine) -> None:
    hr_record = {
        "resource_type": "record", "resource_id": "employee-records", "resource_owner": "hr",
        "sensitivity": "RESTRICTED",
    }  # fmt: skip
    assert decide(engine, user_id="audit.bot", roles=(), groups=(), **hr_record) == (
        PolicyDecision(Verdict.ALLOW, ("auditor-read",))
    )
    # sec.oncall: Role::"security-admin" (in Role::"admin") from the file, nothing in the event.
    admin_work = decide(
        engine, user_id="sec.oncall", roles=(), groups=(), action="admin.config",
        resource_type="config", resource_id="mdm-profiles", resource_owner="it",
        sensitivity="CONFIDENTIAL", is_mfa=True,
    )  # fmt: skip
    assert admin_work == PolicyDecision(Verdict.ALLOW, ("admin-role",))


def test_the_entities_file_overrides_what_the_request_says_of_a_resource(
    engine: PolicyEngine,
) -> None:
    # The request claims the SSO policy is public and owned by sales; the file says
    # restricted and owned by it.
    claimed = decide(
        engine, resource_type="config", resource_id="sso-policy", resource_owner="sales",
        sensitivity="PUBLIC",
    )  # fmt: skip
    assert claimed == PolicyDecision(Verdict.DENY, (DEFAULT_DENY,))


def test_request_built_entities_conform_to_the_schema() -> None:
    schema = cedarpy.Schema.from_str(SCHEMA_TEXT)
    builder = EntityBuilder(StaticEntities.parse("[]", schema, "entities.json"))
    user = builder.user_json("ada", ("sales", "manager"), ("sales", "emea"))
    owned = builder.resource_json("crm/x", "crm", "sales", "CONFIDENTIAL")
    unowned = builder.resource_json("crm/y", "crm", None, "PUBLIC")
    cedarpy.Entities.from_json_str(f"[{user},{owned},{unowned}]", schema)


def test_a_malformed_entities_file_is_refused(tmp_path: Path) -> None:
    directory = copy_shipped(tmp_path)
    (directory / "entities.json").write_text(
        '[{"uid": {"type": "Resource", "id": "x/y"}, "attrs": {"type": "x"}, "parents": []}]'
    )
    with pytest.raises(PolicyLoadError, match=r"entities\.json: .*conform"):
        PolicyEngine.load(directory)


# --- custom policy sets, loading and reload ----------------------------------------------


def test_context_ip_can_be_matched_against_ranges(tmp_path: Path) -> None:
    directory = policy_dir(
        tmp_path,
        {
            "office.cedar": '@id("office-only")\npermit (principal, action, resource)\n'
            'when { context has ip && context.ip.isInRange(ip("10.0.0.0/8")) };\n'
        },
    )
    engine = PolicyEngine.load(directory)
    assert engine.evaluate(req(ip="10.20.30.40")) == PolicyDecision(Verdict.ALLOW, ("office-only",))
    assert engine.evaluate(req(ip="192.0.2.7")).policy_ids == (DEFAULT_DENY,)
    assert engine.evaluate(req(ip=None)).policy_ids == (DEFAULT_DENY,)
    assert engine.evaluate(req(ip="2001:db8::1")).policy_ids == (DEFAULT_DENY,)


def test_an_allow_reached_over_a_failing_forbid_fails_closed(tmp_path: Path) -> None:
    directory = policy_dir(
        tmp_path,
        {
            "all.cedar": '@id("all")\npermit (principal, action, resource);\n'
            '@id("overflowing")\nforbid (principal, action, resource)\n'
            "when { context.event_time * 9223372036854775807 > 0 };\n"
        },
    )
    decision = PolicyEngine.load(directory).evaluate(req())
    assert (decision.verdict, decision.policy_ids) == (Verdict.DENY, (EVALUATION_ERROR,))
    assert any('@id("overflowing")' in error for error in decision.errors)


@pytest.mark.parametrize("required", ["mfa_age_s", "ip"])
def test_a_context_the_schema_refuses_is_an_invalid_request(tmp_path: Path, required: str) -> None:
    # Requests are not checked against the schema one by one: the load finds which shapes
    # of riskseal's context (without ip, without mfa_age_s) the schema refuses, and those
    # requests are denied as Cedar denied them when it checked each one.
    directory = policy_dir(
        tmp_path, {"all.cedar": '@id("all")\npermit (principal, action, resource);\n'}
    )
    schema = directory / "riskseal.cedarschema"
    declared = {"mfa_age_s": "mfa_age_s?: Long", "ip": "ip?: ipaddr"}[required]
    assert declared in SCHEMA_TEXT
    schema.write_text(SCHEMA_TEXT.replace(declared, declared.replace("?", "")))
    engine = PolicyEngine.load(directory)
    whole: dict[str, object] = {"mfa_age_s": 60, "ip": "10.0.0.1"}
    assert engine.evaluate(req(**whole)).verdict is Verdict.ALLOW
    decision = engine.evaluate(req(**{**whole, required: None}))
    assert (decision.verdict, decision.policy_ids) == (Verdict.DENY, (INVALID_REQUEST,))
    assert f"without {required}" in decision.errors[0]
    assert "optional" in decision.errors[0]
    [batched] = engine.evaluate_batch([req(**{**whole, required: None})])
    assert batched == decision


def test_only_the_entities_of_one_request_are_remembered(engine: PolicyEngine) -> None:
    compiled = engine._compiled
    compiled.entity_cache.clear()
    batch = [req(user_id=f"user-{n}", resource_id=f"doc-{n}") for n in range(5)]
    assert len(engine.evaluate_batch(batch)) == 5
    assert not compiled.entity_cache  # a batch's users and resources will not come again
    engine.evaluate(req(user_id="user-9", resource_id="doc-9"))
    assert len(compiled.entity_cache) == 1


def test_reload_picks_up_a_changed_file(tmp_path: Path) -> None:
    directory = copy_shipped(tmp_path)
    engine = PolicyEngine.load(directory)
    assert engine.reload() is False
    before = engine.version
    assert engine.evaluate(req()).verdict is Verdict.ALLOW
    (directory / "zz-freeze.cedar").write_text(
        '@id("change-freeze")\nforbid (principal, action in Action::"write", resource);\n'
    )
    assert engine.reload() is True
    assert engine.version != before
    assert engine.evaluate(req(action="data.write")) == PolicyDecision(
        Verdict.DENY, ("change-freeze",)
    )
    assert engine.reload() is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("permit (principal, action, resource) when { ", r"broken\.cedar: .*unexpected"),
        (
            '@id("typo")\npermit (principal, action, resource) when { context.risk == 1 };\n',
            r'broken\.cedar: .*@id\("typo"\).*attribute `risk`',
        ),
        ("permit (principal, action, resource);\n", r"broken\.cedar: every policy needs an @id"),
        ('@id("step_up:x")\npermit (principal, action, resource);\n', r"for forbid policies"),
        ('@id("default_deny")\nforbid (principal, action, resource);\n', r"reserved"),
        (
            '@id("risk-deny")\nforbid (principal, action, resource);\n',
            r'(broken|risk)\.cedar: @id\("risk-deny"\) is also in .*(risk|broken)\.cedar',
        ),
    ],
)
def test_a_refused_reload_keeps_the_active_set(tmp_path: Path, text: str, message: str) -> None:
    directory = copy_shipped(tmp_path)
    engine = PolicyEngine.load(directory)
    version = engine.version
    (directory / "broken.cedar").write_text(text)
    with pytest.raises(PolicyLoadError, match=message):
        engine.reload()
    assert engine.version == version
    assert engine.evaluate(req()).verdict is Verdict.ALLOW
    with pytest.raises(PolicyLoadError, match=message):
        PolicyEngine.load(directory)
    (directory / "broken.cedar").unlink()
    assert engine.reload() is False


def test_a_broken_schema_is_refused_and_the_active_set_kept(tmp_path: Path) -> None:
    directory = copy_shipped(tmp_path)
    engine = PolicyEngine.load(directory)
    (directory / "riskseal.cedarschema").write_text("entity User = { uid: Strin")
    with pytest.raises(PolicyLoadError, match=r"riskseal\.cedarschema: .*schema"):
        engine.reload()
    assert engine.evaluate(req()).verdict is Verdict.ALLOW


def test_versions_follow_the_contents(tmp_path: Path) -> None:
    directory = copy_shipped(tmp_path)
    shipped = PolicyEngine.load()
    engine = PolicyEngine.load(directory)
    assert (engine.version, engine.entities_version) == (
        shipped.version,
        shipped.entities_version,
    )
    assert engine.version.startswith("sha256:") and len(engine.version) == 7 + 64
    policies, entities = engine.version, engine.entities_version

    with (directory / "access.cedar").open("a") as file:
        file.write("\n// a comment is a change too\n")
    engine.reload()
    assert engine.version != policies and engine.entities_version == entities
    policies = engine.version

    document = json.loads((directory / "entities.json").read_text())
    (directory / "entities.json").write_text(json.dumps(document[:-1]))
    engine.reload()
    assert engine.version == policies and engine.entities_version != entities
    entities = engine.entities_version

    (directory / "riskseal.cedarschema").write_text(SCHEMA_TEXT + "\n")
    engine.reload()
    assert engine.version != policies and engine.entities_version == entities


# --- the request view --------------------------------------------------------------------


def test_from_request_takes_the_mfa_age_at_the_request_time() -> None:
    request = AccessRequest(
        event_id="0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70",
        time=T0,
        source=SourceStamp("test", 0, 0),
        actor=Actor("ada.smith", roles=("sales",), groups=("sales", "emea")),
        action="data.export",
        resource=Resource("crm", "accounts-emea", "sales", Sensitivity.CONFIDENTIAL),
        src_endpoint=Endpoint("10.0.1.7"),
        auth=AuthContext(is_mfa=True, mfa_time=T0 - 125_900),
        device_id="laptop-1",
    )
    view = PolicyRequest.from_request(
        request, risk_score=12, risk_level="allow", reasons=["new_ip"], device_known=False
    )
    assert view == PolicyRequest(
        "ada.smith", ("sales",), ("sales", "emea"), "data.export", "crm", "accounts-emea",
        "sales", "CONFIDENTIAL", 12, "allow", ("new_ip",), "10.0.1.7", T0, 125, False, True,
    )  # fmt: skip
    never = dataclasses.replace(request, auth=AuthContext(), src_endpoint=Endpoint())
    view = PolicyRequest.from_request(
        never, risk_score=0, risk_level="allow", reasons=(), device_known=True
    )
    assert (view.mfa_age_s, view.ip, view.is_mfa) == (None, None, False)


@pytest.mark.parametrize(("after_ms", "age_s"), [(60_000, 0), (60_001, None), (10**12, None)])
def test_an_mfa_dated_after_the_request_counts_only_within_clock_skew(
    after_ms: int, age_s: int | None
) -> None:
    # Believed, an MFA "a year from now" is an MFA done just now: it would lift a step-up.
    request = AccessRequest(
        event_id="0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70", time=T0, source=SourceStamp("t", 0, 0),
        actor=Actor("ada.smith"), action="data.read", resource=Resource("crm", "a"),
        auth=AuthContext(is_mfa=True, mfa_time=T0 + after_ms),
    )  # fmt: skip
    view = PolicyRequest.from_request(
        request, risk_score=40, risk_level="step_up", reasons=(), device_known=True
    )
    assert view.mfa_age_s == age_s


def test_normal_generated_traffic_is_allowed_at_low_risk(engine: PolicyEngine) -> None:
    requests = [
        PolicyRequest.from_request(
            generated.event, risk_score=0, risk_level="allow", reasons=(), device_known=True
        )
        for generated in generate_events(GeneratorConfig(users=30, sim_days=1, seed=11))
        if isinstance(generated.event, AccessRequest)
    ]
    assert len(requests) > 300
    decisions = engine.evaluate_batch(requests)
    allowed = sum(decision.verdict is Verdict.ALLOW for decision in decisions)
    assert allowed >= 0.99 * len(requests), [
        (r, d) for r, d in zip(requests, decisions, strict=True) if d.verdict is not Verdict.ALLOW
    ][:5]


# --- batch == single ---------------------------------------------------------------------

RESOURCES = st.sampled_from(
    [
        ("document", "sales-playbook", "sales", "INTERNAL"),
        ("crm", "accounts-emea", "sales", "CONFIDENTIAL"),
        ("crm", "accounts-emea", "support", "RESTRICTED"),  # the same resource, told otherwise
        ("record", "employee-records", "hr", "RESTRICTED"),
        ("config", "sso-policy", "it", "PUBLIC"),  # defined in entities.json
        ("role", "admin", "it", "RESTRICTED"),
        ("app", "mail", None, "PUBLIC"),
    ]
)
ACTIONS = st.sampled_from(
    ["data.read", "data.write", "data.export", "data.share", "admin.config", "role.grant",
     "auth.mfa", "data.unknown", "admin"]
)  # fmt: skip
LEVELS = {"allow": (0, 39), "step_up": (40, 69), "deny": (70, 100)}


@st.composite
def policy_requests(draw: st.DrawFn) -> PolicyRequest:
    resource_type, resource_id, owner, sensitivity = draw(RESOURCES)
    level = draw(st.sampled_from(sorted(LEVELS)))
    mfa_age = draw(st.none() | st.integers(0, 7200))
    return PolicyRequest(
        user_id=draw(st.sampled_from(["ada.smith", "ben.kim", "audit.bot", "sec.oncall"])),
        roles=tuple(draw(st.sets(st.sampled_from(["sales", "hr", "admin", "manager"])))),
        groups=tuple(draw(st.sets(st.sampled_from(["sales", "hr", "it", "emea"])))),
        action=draw(ACTIONS),
        resource_type=resource_type,
        resource_id=resource_id,
        resource_owner=owner,
        sensitivity=sensitivity,
        risk_score=draw(st.integers(*LEVELS[level])),
        risk_level=level,
        reasons=tuple(draw(st.sets(st.sampled_from(["new_ip", "new_device", "off_hours"])))),
        ip=draw(st.none() | st.sampled_from(["10.0.1.7", "192.0.2.9", "2001:db8::2"])),
        event_time=T0 + draw(st.integers(0, 10**9)),
        mfa_age_s=mfa_age,
        device_known=draw(st.booleans()),
        is_mfa=mfa_age is not None,
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(policy_requests(), max_size=25))
def test_a_batch_decides_as_single_requests_do(requests: list[PolicyRequest]) -> None:
    engine = _SHARED_ENGINE
    assert engine.evaluate_batch(requests) == [engine.evaluate(r) for r in requests]


_SHARED_ENGINE = PolicyEngine.load()


def test_the_policies_version_is_the_documented_digest(tmp_path: Path) -> None:
    directory = policy_dir(
        tmp_path,
        {"b.cedar": "// b\n", "a.cedar": '@id("a")\nforbid (principal, action, resource);\n'},
    )
    expected = hashlib.sha256(b"riskseal-policies-v1")
    for name in ("riskseal.cedarschema", "a.cedar", "b.cedar"):
        for part in (name.encode(), (directory / name).read_bytes()):
            expected.update(len(part).to_bytes(4, "big") + part)
    engine = PolicyEngine.load(directory)
    assert engine.version == f"sha256:{expected.hexdigest()}"
    assert engine.entities_version == f"sha256:{hashlib.sha256(b'').hexdigest()}"


def test_cedar_gets_an_ipv4_client_of_a_dual_stack_socket_as_ipv4(engine: PolicyEngine) -> None:
    # Cedar's ip() refuses "::ffff:10.0.1.7": the request was denied as invalid_request.
    request = AccessRequest(
        event_id="0b7d1a4e-3c52-4f0e-9a51-6d2f1e9b8c70", time=T0, source=SourceStamp("t", 0, 0),
        actor=Actor("ada.smith", roles=("sales",), groups=("sales", "emea")),
        action="data.read", src_endpoint=Endpoint("::ffff:10.0.1.7"),
        resource=Resource("crm", "accounts-emea", "sales", Sensitivity.INTERNAL),
    )  # fmt: skip
    view = PolicyRequest.from_request(
        request, risk_score=0, risk_level="allow", reasons=(), device_known=True
    )
    assert view.ip == "10.0.1.7"
    assert engine.evaluate(view).policy_ids != ("invalid_request",)
