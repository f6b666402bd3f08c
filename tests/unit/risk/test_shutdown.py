"""The bound on a stopping worker: no broker, no Faust, a fake exit."""

from __future__ import annotations

import threading

from riskseal.risk.shutdown import FORCED_EXIT_CODE, ShutdownWatchdog


def test_a_stop_that_takes_too_long_exits_the_process() -> None:
    exited = threading.Event()
    codes: list[int] = []

    def exit_now(code: int) -> None:
        codes.append(code)
        exited.set()

    ShutdownWatchdog(0.05, exit_now).signalled()
    assert exited.wait(10)
    assert codes == [FORCED_EXIT_CODE]


def test_a_second_signal_exits_at_once() -> None:
    codes: list[int] = []
    watchdog = ShutdownWatchdog(3600, codes.append)
    watchdog.signalled()
    assert codes == []
    watchdog.signalled()
    assert codes == [FORCED_EXIT_CODE]
