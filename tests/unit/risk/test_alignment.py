"""ActionAlignment: a request waits for its partition's actions, never longer than allowed."""

from __future__ import annotations

import asyncio

import pytest

from riskseal.risk.alignment import ActionAlignment


class Offsets:
    """Settable high watermarks and committed offsets per partition."""

    def __init__(self) -> None:
        self.highwater: dict[int, int | None] = {}
        self.committed: dict[int, int | None] = {}

    def alignment(self, max_wait_s: float = 1.0) -> ActionAlignment:
        return ActionAlignment(self.highwater.get, self.committed.get, max_wait_s)


def test_ready_when_actions_passed_the_request_time() -> None:
    offsets = Offsets()
    alignment = offsets.alignment()
    offsets.highwater[0] = 10
    alignment.action_processed(0, offset=3, event_time=1_000)
    assert not alignment.ready(0, 1_001)
    assert alignment.ready(0, 1_000)
    assert alignment.ready(0, 999)


def test_ready_when_the_actions_partition_is_drained() -> None:
    offsets = Offsets()
    alignment = offsets.alignment()
    offsets.highwater[0] = 5
    alignment.action_processed(0, offset=3, event_time=100)
    assert not alignment.ready(0, 500)
    alignment.action_processed(0, offset=4, event_time=200)
    assert alignment.ready(0, 500)


def test_committed_offsets_count_as_processed_after_an_assignment() -> None:
    offsets = Offsets()
    alignment = offsets.alignment()
    offsets.highwater[1] = 40
    offsets.committed[1] = 40  # a restarted worker: nothing new since the last commit
    assert alignment.ready(1, 10**12)
    offsets.highwater[1] = 41  # a new action arrives: wait for it
    assert not alignment.ready(1, 10**12)


def test_unknown_high_watermark_is_not_drained() -> None:
    offsets = Offsets()
    assert not offsets.alignment().ready(2, 1)


def test_a_waiting_request_resumes_when_the_action_arrives() -> None:
    async def scenario() -> tuple[bool, int]:
        offsets = Offsets()
        offsets.highwater[0] = 1
        alignment = offsets.alignment(max_wait_s=5)
        waiter = asyncio.create_task(alignment.wait(0, 2_000))
        await asyncio.sleep(0)
        assert not waiter.done()
        alignment.action_processed(0, offset=0, event_time=2_000)
        return await asyncio.wait_for(waiter, 1), alignment.stats.waited

    assert asyncio.run(scenario()) == (True, 1)


def test_the_wait_is_bounded() -> None:
    async def scenario() -> tuple[bool, int]:
        offsets = Offsets()
        alignment = offsets.alignment(max_wait_s=0.05)
        result = await alignment.wait(0, 1)
        return result, alignment.stats.timed_out

    assert asyncio.run(scenario()) == (False, 1)


@pytest.mark.parametrize("event_time", [0, 5, 10])
def test_immediate_requests_are_counted(event_time: int) -> None:
    async def scenario() -> int:
        offsets = Offsets()
        alignment = offsets.alignment()
        alignment.action_processed(3, offset=0, event_time=10)
        await alignment.wait(3, event_time)
        return alignment.stats.immediate

    assert asyncio.run(scenario()) == 1
