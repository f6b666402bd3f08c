"""ServerProcess: pid files, liveness, stale pid files and stopping (with `sleep`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from riskseal.errors import StalePidFileError
from riskseal.stack.process import ServerProcess, pid_is_alive, pid_runs_binary

SLEEP = Path(shutil.which("sleep") or "/bin/sleep")


def _server(tmp_path: Path) -> ServerProcess:
    return ServerProcess("sleeper", tmp_path / "sleeper.pid", tmp_path / "sleeper.log")


def test_start_records_pid_and_binary_and_stop_ends_the_process(tmp_path: Path) -> None:
    server = _server(tmp_path)
    pid = server.start(SLEEP, ["60"], cwd=tmp_path, env=dict(os.environ))
    assert server.running_pid() == pid
    assert pid_runs_binary(pid, SLEEP)
    assert server.stop() is True
    assert not pid_is_alive(pid)
    assert not server.pid_file.exists()


def test_no_pid_file_means_not_running(tmp_path: Path) -> None:
    server = _server(tmp_path)
    assert server.running_pid() is None
    assert server.stop() is False


def test_dead_pid_is_a_stale_pid_file(tmp_path: Path) -> None:
    server = _server(tmp_path)
    pid = server.start(SLEEP, ["60"], cwd=tmp_path, env=dict(os.environ))
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    with pytest.raises(StalePidFileError, match=rf"pid {pid} is not a running sleeper"):
        server.running_pid()
    assert server.stop() is False  # nothing signalled, pid file removed
    assert not server.pid_file.exists()


def test_pid_of_another_program_is_stale_and_never_signalled(tmp_path: Path) -> None:
    other = subprocess.Popen([str(SLEEP), "60"])
    try:
        server = _server(tmp_path)
        server.pid_file.write_text(f"{other.pid}\n/usr/bin/not-sleep\n")
        with pytest.raises(StalePidFileError, match="stale pid file"):
            server.running_pid()
        assert server.stop() is False
        assert other.poll() is None  # still alive: we did not kill a stranger
    finally:
        other.kill()
        other.wait()


def test_garbage_pid_file_is_reported(tmp_path: Path) -> None:
    server = _server(tmp_path)
    server.pid_file.write_text("hello\n")
    with pytest.raises(StalePidFileError, match="not one riskseal wrote"):
        server.running_pid()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    server = _server(tmp_path)
    bash = Path(shutil.which("bash") or "/bin/bash")
    pid = server.start(
        bash, ["-c", "trap '' TERM; while :; do sleep 0.1; done"], cwd=tmp_path,
        env=dict(os.environ),
    )  # fmt: skip
    assert server.stop(grace_s=0.5) is True
    assert not pid_is_alive(pid)


def test_log_tail_shows_the_last_lines(tmp_path: Path) -> None:
    server = _server(tmp_path)
    server.log_file.write_text("".join(f"line {i}\n" for i in range(30)))
    assert server.log_tail(3) == "line 27\nline 28\nline 29"
