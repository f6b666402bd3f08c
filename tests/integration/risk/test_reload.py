"""A running worker picks up changed policies and rules without a restart, and refuses bad ones.

The worker runs on copies of the shipped policies and rules in the test's directory. A new
forbid policy turns the next decision on that resource into DENY, naming the policy and the
new policy-set hash; a policy that does not validate against the Cedar schema is refused
and the last good set keeps deciding; a changed rules file shows in the next decision's
rules version.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from riskseal.contract.events import Actor, Decision, Resource, Sensitivity, Verdict
from riskseal.sdk import AuditClient
from tests.integration.risk.conftest import RiskWorld

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[3]
RELOAD_TIMEOUT_S = 30.0
FREEZE = """
@id("freeze-price-list")
forbid (principal, action, resource)
when { resource.type == "document" && resource.sensitivity == "INTERNAL" };
"""
INVALID = """
@id("refers-to-nothing")
forbid (principal, action, resource)
when { resource.no_such_attribute == "x" };
"""


def _ask(client: AuditClient) -> Decision:
    return client.authorize(
        Actor("ada", roles=("sales",), groups=("sales",)),
        "data.read",
        Resource("document", "sales-playbook", owner="sales", sensitivity=Sensitivity.INTERNAL),
        timeout=20,
    )


def _until(client: AuditClient, changed: object, what: str) -> Decision:
    """Ask until the decision differs from ``changed`` as ``what`` says, or fail."""
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    while True:
        decision = _ask(client)
        if changed(decision):  # type: ignore[operator]
            return decision
        if time.monotonic() > deadline:
            raise AssertionError(f"no reload within {RELOAD_TIMEOUT_S:g} s: {what}")
        time.sleep(0.5)


def test_policies_and_rules_reload_without_restart_and_a_bad_set_is_refused(
    risk_world: RiskWorld, tmp_path: Path
) -> None:
    policies, rules = tmp_path / "policies", tmp_path / "rules"
    shutil.copytree(REPO / "policies", policies)
    shutil.copytree(REPO / "rules", rules)
    risk_world.settings = risk_world.settings.model_copy(
        update={"risk_policies_dir": policies, "risk_rules_dir": rules}
    )
    worker = risk_world.worker("reloading")
    worker.wait_ready()
    with AuditClient(risk_world.settings) as client:
        before = _ask(client)
        assert before.verdict is Verdict.ALLOW, before

        (policies / "freeze.cedar").write_text(FREEZE)
        frozen = _until(client, lambda d: d.verdict is Verdict.DENY, "new forbid policy")
        assert "freeze-price-list" in frozen.policy_ids
        assert frozen.versions.policies != before.versions.policies

        (policies / "invalid.cedar").write_text(INVALID)
        (rules / "default.toml").write_text(
            (rules / "default.toml").read_text().replace("dedup_minutes = 60", "dedup_minutes = 61")
        )
        changed = _until(
            client, lambda d: d.versions.rules != before.versions.rules, "changed rules file"
        )
        # The invalid policy file was refused: the last good set (with the freeze) decides.
        assert changed.verdict is Verdict.DENY
        assert changed.versions.policies == frozen.versions.policies
    log = worker.log.read_text(errors="replace")
    assert "policies not reloaded" in log and "no_such_attribute" in log
    assert worker.terminate() == 0, worker.log_tail()
