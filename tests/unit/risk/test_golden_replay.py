"""Golden replay: recorded events → the exact decisions and alerts the engine must produce.

``golden/mixed-events.jsonl`` is a seeded ``riskseal generate --scenario mixed`` run (every
attack kind); ``golden/mixed-expected.jsonl`` is what ``riskseal replay`` produced from it
when the rules, policies and engine were reviewed. A change to any of them changes these
outputs on purpose: review the diff, then regenerate with
``RISKSEAL_REGENERATE_GOLDEN=1 pytest tests/unit/risk/test_golden_replay.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from riskseal.cli import main

GOLDEN = Path(__file__).parent / "golden"
EVENTS = GOLDEN / "mixed-events.jsonl"
EXPECTED = GOLDEN / "mixed-expected.jsonl"


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_replay_reproduces_the_golden_decisions_and_alerts(tmp_path: Path) -> None:
    produced = tmp_path / "out.jsonl"
    assert main(["replay", "--events", str(EVENTS), "--output", str(produced)]) == 0
    if os.environ.get("RISKSEAL_REGENERATE_GOLDEN") == "1":
        EXPECTED.write_bytes(produced.read_bytes())
    assert _lines(produced) == _lines(EXPECTED)


def test_replay_output_in_a_missing_folder_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "out.jsonl"
    assert main(["replay", "--events", str(EVENTS), "--output", str(target)]) == 2
    assert f"cannot write --output {target}" in capsys.readouterr().err


def test_golden_run_covers_every_attack_kind_with_an_alert() -> None:
    analytics = {line["analytic"]["uid"] for line in _lines(EXPECTED) if line["kind"] == "alert"}  # type: ignore[index]
    for expected in ("failed_auth_burst", "impossible_travel", "new_country", "sensitive_burst"):
        assert expected in analytics
    assert {"self_grant", "privileged_role_added"} <= analytics


def test_replay_with_expected_passes_when_equal() -> None:
    assert (
        main(["replay", "--events", str(EVENTS), "--expected", str(EXPECTED), "-o", os.devnull])
        == 0
    )


def test_replay_with_expected_fails_and_names_the_changed_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(EXPECTED)
    target = next(
        line for line in lines if line["kind"] == "decision" and line["verdict"] == "ALLOW"
    )
    target["verdict"], target["disposition"] = "DENY", "Blocked"
    tampered = tmp_path / "expected.jsonl"
    tampered.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    code = main(["replay", "--events", str(EVENTS), "--expected", str(tampered), "-o", os.devnull])

    assert code == 1
    stderr = capsys.readouterr().err
    assert f"request {target['request_id']}: verdict: " in stderr
    assert "FAIL: 1 of" in stderr


def test_replay_reports_a_missing_expected_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(EXPECTED)
    events = [json.loads(line) for line in EVENTS.read_text(encoding="utf-8").splitlines()]
    dropped = next(event for event in events if event["kind"] == "request")
    shorter = tmp_path / "events.jsonl"
    shorter.write_text(
        "".join(json.dumps(event) + "\n" for event in events if event is not dropped),
        encoding="utf-8",
    )
    assert any(line.get("request_id") == dropped["event_id"] for line in lines)

    code = main(["replay", "--events", str(shorter), "--expected", str(EXPECTED), "-o", os.devnull])

    assert code == 1
    assert f"request {dropped['event_id']}: expected a decision, replay made none" in (
        capsys.readouterr().err
    )


def test_replay_names_the_line_of_a_bad_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "events.jsonl"
    good = EVENTS.read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(good + "\n" + '{"kind": "request", "actor": {}}\n', encoding="utf-8")

    assert main(["replay", "--events", str(bad), "-o", os.devnull]) == 2
    assert f"{bad}:2:" in capsys.readouterr().err


@pytest.mark.parametrize("missing", [("event_id",), ("time",), ("event_id", "time")])
def test_replay_refuses_lines_without_event_id_or_time(
    missing: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads(EVENTS.read_text(encoding="utf-8").splitlines()[0])
    for name in missing:
        del event[name]
    bad = tmp_path / "events.jsonl"
    bad.write_text(json.dumps(event) + "\n", encoding="utf-8")

    assert main(["replay", "--events", str(bad), "-o", os.devnull]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1: no {missing[0]!r}" in err
    assert "a replay needs both on every line" in err


@pytest.mark.parametrize(
    ("window", "code", "message"),
    [
        (("2025-01-07", "2025-01-05"), 2, "--from 2025-01-07 is after --to 2025-01-05"),
        (("1999-01-01", "1999-01-02"), 1, "FAIL: nothing to compare"),
    ],
)
def test_replay_refuses_a_window_inverted_or_without_expected_decisions(
    window: tuple[str, str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", "--events", str(EVENTS), "--expected", str(EXPECTED), "-o", os.devnull]
    assert main([*args, "--from", window[0], "--to", window[1]]) == code
    assert message in capsys.readouterr().err


def test_replay_names_an_input_that_is_not_utf8_or_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "expected.jsonl"
    binary.write_bytes(b'{"kind": "alert"}\n\xff\xfe\n')
    args = ["replay", "--events", str(EVENTS), "-o", os.devnull, "--expected"]
    assert main([*args, str(binary)]) == 2
    assert f"{binary}:2: not valid UTF-8 at byte 0" in capsys.readouterr().err
    unreadable = Path("/proc/self/mem")  # exists and passes the parser, but reads fail
    assert main(["replay", "--events", str(unreadable), "-o", os.devnull]) == 2
    assert f"error: cannot read --events {unreadable}: Input/output error" in (
        capsys.readouterr().err
    )


def test_replay_window_without_expected_decisions_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["replay", "--events", str(EVENTS), "-o", os.devnull, "--from", "2025-01-07"])
    assert code == 2
    assert "--from/--to choose the decisions compared with --expected" in capsys.readouterr().err


def test_replay_against_an_expected_file_without_decisions_lists_what_it_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "expected.jsonl"
    empty.write_text("", encoding="utf-8")
    args = ["replay", "--events", str(EVENTS), "--expected", str(empty), "-o", os.devnull]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "replay decided, but no decision was expected" in err
    assert "FAIL: 0 of 0 expected decisions differ or are missing;" in err
