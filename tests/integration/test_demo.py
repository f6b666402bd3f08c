"""`make demo` keeps working: real risk workers decide and alert, and every guarantee shows.

The demo runs end to end on its own stack: decisions come from the real engine (the shipped
rules' version in every one), alerts arrive for the injected attacks, what was sealed
verifies, a tampered copy is caught, Object Lock refuses, and no worker is left running.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from riskseal.contract.events import Verdict
from riskseal.demo import DemoReport, run_demo
from riskseal.demo.tour import ip_failures_topic_name
from riskseal.demo.workers import WorkerPool
from riskseal.risk.rules import RuleSet
from riskseal.risk.topics import ip_failures_topic
from riskseal.risk.worker import provision_topics
from riskseal.settings import Settings
from riskseal.stack.process import pid_is_alive
from tests.integration.conftest import RealStack, on_fresh_topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo_run() -> tuple[DemoReport, str]:
    """One run of the demo (about half a minute), shared by the assertions below."""
    output = io.StringIO()
    report = run_demo(Console(file=output, width=200), Settings.local())
    return report, output.getvalue()


def test_decisions_come_from_the_real_engine_with_the_shipped_rules(
    demo_run: tuple[DemoReport, str],
) -> None:
    report, text = demo_run
    shipped = RuleSet.load(None).version
    assert shipped.startswith("sha256:")
    assert report.decisions, "no decision was read"
    assert {d.versions.rules for d in report.decisions.values()} == {shipped}
    assert not any(d.fallback for d in report.decisions.values())
    assert f"rules {shipped}" in text


def test_the_application_sees_allow_step_up_and_deny_with_reasons_and_policies(
    demo_run: tuple[DemoReport, str],
) -> None:
    report, text = demo_run
    asked = report.app_decisions
    handbook = asked["alice reads the team handbook"]
    assert handbook.verdict is Verdict.ALLOW
    assert handbook.policy_ids == ("internal-collaboration",)
    new_laptop = asked["bob reads the payroll report on a new laptop"]
    assert new_laptop.verdict is Verdict.STEP_UP
    assert new_laptop.policy_ids == ("step_up:unknown-device-restricted",)
    assert asked["bob reads it again, after MFA"].verdict is Verdict.ALLOW
    burst = asked["dave opens a design doc after 10 refused sign-ins"]
    assert burst.verdict is Verdict.DENY
    assert "risk-deny" in burst.policy_ids
    assert {"failed_auth_burst", "brute_force"} <= {reason.code for reason in burst.reasons}
    self_grant = asked["erin grants herself the admin role"]
    assert self_grant.verdict is Verdict.DENY
    assert self_grant.policy_ids == ("rule:self_grant",)
    assert "REFUSED before reaching Kafka: invalid AccessRequest: src_endpoint.ip" in text
    assert report.dead_letters >= 1


def test_alerts_arrive_and_every_attack_kind_is_detected(demo_run: tuple[DemoReport, str]) -> None:
    report, text = demo_run
    assert report.alerts
    assert "ALERT " in text
    kinds = report.quality.kinds
    assert len(kinds) == 5
    for kind in kinds:
        assert kind.instances >= 1, kind
        assert kind.detected >= 1, f"no {kind.kind} attack detected: {kind}"
    missed = [kind.kind for kind in kinds if kind.detected < kind.instances]
    if missed:
        assert f"MISSED some attacks of: {', '.join(missed)}" in text
    else:
        assert "every injected attack raised at least one alert" in text


def test_everything_is_sealed_verified_and_the_tampered_copy_caught(
    demo_run: tuple[DemoReport, str],
) -> None:
    report, text = demo_run
    assert report.sealed_records == report.verified_records > len(report.decisions)
    assert f"sealed {report.sealed_records} records" in text
    assert report.verify_findings == ()
    kinds = {f.kind for f in report.tamper_findings}
    assert "records_root_mismatch" in kinds
    assert "CAUGHT one flipped bit in a local copy" in text
    assert "records do not match the signed Merkle root" in text
    assert "still has exactly one version, unchanged" in text


def test_no_process_is_left_running(demo_run: tuple[DemoReport, str]) -> None:
    report, text = demo_run
    assert len(report.worker_pids) == 2
    assert [pid for pid in report.worker_pids if pid_is_alive(pid)] == []
    assert "stopped Tansu broker, SeaweedFS" in text


def test_workers_are_stopped_when_the_demo_is_interrupted(
    real_stack: RealStack, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:10]
    settings = on_fresh_topics(real_stack.settings, f"d{tag}", risk_app_id=f"demo-{tag}")
    provision_topics(settings)
    pool = WorkerPool(settings, tmp_path, 1, "memory")
    with pytest.raises(KeyboardInterrupt), pool:
        pool.wait_ready(60)
        raise KeyboardInterrupt
    assert pool.pids
    assert [pid for pid in pool.pids if pid_is_alive(pid)] == []


def test_the_demo_names_the_workers_internal_topic_as_the_workers_do() -> None:
    settings = Settings.local(risk_app_id="riskseal-demo-x")
    assert ip_failures_topic_name(settings) == ip_failures_topic(settings)
