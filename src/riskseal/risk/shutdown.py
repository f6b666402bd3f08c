"""A bound on how long a stopping worker may take.

A clean stop commits and leaves the consumer group, which needs the broker: with the broker
gone, Faust waits for it without end, and SIGTERM alone never ends the process. After the
first signal a watchdog gives the clean stop ``timeout_s``; then, or at a second signal, the
process exits at once. That is no worse than SIGKILL, which the worker is built to survive:
whoever takes the partitions over processes the events since the last commit again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

FORCED_EXIT_CODE = 2
"""The exit code of a stop cut short: not 0, since the worker did not leave cleanly."""


class ShutdownWatchdog:
    """Arms at the first stop signal; exits the process when the stop takes too long."""

    def __init__(self, timeout_s: float, exit_now: Callable[[int], object] = os._exit) -> None:
        self.timeout_s = timeout_s
        self._exit_now = exit_now
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def signalled(self) -> None:
        """A stop signal came: the first arms the watchdog, a second one exits now."""
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self.timeout_s, self._expire)
                self._timer.daemon = True
                self._timer.start()
                return
        self._force("a second stop signal")

    def _expire(self) -> None:
        self._force(f"the clean stop taking over {self.timeout_s:g} s (broker unreachable?)")

    def _force(self, why: str) -> None:
        log.error(
            "risk worker exits now after %s: the events since its last commit are processed "
            "again by whoever takes its partitions over",
            why,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        self._exit_now(FORCED_EXIT_CODE)
