"""Server processes started in the background and tracked by pid files.

A server outlives the ``riskseal stack up`` command that started it, so the only handle a
later ``stack down`` has is the pid file. Before signalling a pid we check that it still runs
the binary we started: a pid file left behind by a crash may name a pid the kernel has since
given to an unrelated process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from riskseal.errors import StackError, StalePidFileError

STOP_GRACE_S = 15.0

# Servers we started from this Python process, so that stopping one reaps it (no zombie) and
# the Popen object is not collected while its server still runs.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True, slots=True)
class PidRecord:
    """What a pid file holds: the pid and the binary it was started from."""

    pid: int
    binary: Path


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """One server of the stack: its name, pid file and log file."""

    name: str
    pid_file: Path
    log_file: Path

    def start(self, binary: Path, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> int:
        """Start ``binary`` detached from our session; record and return its pid."""
        with self.log_file.open("ab") as log:
            child = subprocess.Popen(
                [str(binary), *argv],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _CHILDREN[child.pid] = child
        self.pid_file.write_text(f"{child.pid}\n{binary}\n", encoding="utf-8")
        return child.pid

    def recorded(self) -> PidRecord | None:
        """The pid file's record, or None when there is no pid file."""
        try:
            lines = self.pid_file.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if len(lines) != 2 or not lines[0].isdigit():
            raise StalePidFileError(
                f"pid file {self.pid_file} is not one riskseal wrote ({lines[:1]!r}); "
                "check no server still runs from it, then remove it"
            )
        return PidRecord(pid=int(lines[0]), binary=Path(lines[1]))

    def running_pid(self) -> int | None:
        """The pid of our running server, None when not started.

        Raises StalePidFileError when the pid file names a process that is gone or that is
        not this server.
        """
        record = self.recorded()
        if record is None:
            return None
        if not pid_runs_binary(record.pid, record.binary):
            raise StalePidFileError(
                f"stale pid file {self.pid_file}: pid {record.pid} is not a running "
                f"{self.name} ({record.binary.name}); run `riskseal stack down` to clean it up"
            )
        return record.pid

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop the server (SIGTERM, then SIGKILL after ``grace_s``); True if one was running.

        A stale pid file is removed without signalling anything.
        """
        record = self.recorded()
        if record is None:
            return False
        was_running = pid_runs_binary(record.pid, record.binary)
        if was_running:
            _terminate(record.pid, grace_s)
        self.pid_file.unlink(missing_ok=True)
        return was_running

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            content = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        tail = content.splitlines()[-lines:]
        return "\n".join(tail) if tail else "(log is empty)"


def pid_is_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie (reaping our own children first)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError):
            # Field 3 is the state; it follows the command name in parentheses.
            state = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
            return state[0] != "Z"
    return True


def pid_runs_binary(pid: int, binary: Path) -> bool:
    """True when ``pid`` is alive and (where /proc tells) executes ``binary``."""
    if not pid_is_alive(pid):
        return False
    # /proc/<pid>/exe names the executable; cmdline can read empty just after exec().
    try:
        running = Path(f"/proc/{pid}/exe").readlink()
    except FileNotFoundError:
        return not Path("/proc").is_dir()  # no procfs (not Linux): trust the pid file
    except OSError:
        return False
    return running.name.removesuffix(" (deleted)") == binary.resolve().name


def _terminate(pid: int, grace_s: float) -> None:
    # Signal the whole process group: the servers were started in sessions of their own.
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_is_alive(pid):
            return
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not pid_is_alive(pid):
            return
        time.sleep(0.05)
    raise StackError(f"process {pid} did not exit after SIGKILL")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)
