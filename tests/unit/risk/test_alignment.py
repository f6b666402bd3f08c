"""The merge of requests and actions per partition (``riskseal.risk.alignment``), no broker.

``Alignment`` is driven with explicit clock readings; ``Merger`` runs on a private event loop
with recording handlers. Log positions are a plain table the tests set.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.risk.alignment import Alignment, Arrival, Lane, Merger, OrderKey

REQ, ACT = Lane.REQUESTS, Lane.ACTIONS


@dataclass
class Positions:
    """High watermarks and start offsets per (lane, partition); unknown unless set."""

    highwaters: dict[tuple[Lane, int], int] = field(default_factory=dict)
    starts: dict[tuple[Lane, int], int] = field(default_factory=dict)
    rebalance: bool = False

    def highwater(self, lane: Lane, partition: int) -> int | None:
        return self.highwaters.get((lane, partition))

    def start_offset(self, lane: Lane, partition: int) -> int | None:
        return self.starts.get((lane, partition))

    def rebalancing(self) -> bool:
        return self.rebalance


def key(time: int, seq: int = 0) -> OrderKey:
    return (time, "app", 1, seq)


def arrival(name: str, time: int, offset: int, partition: int = 0) -> Arrival[str]:
    return Arrival(name, partition, offset, key(time))


def refused(name: str, offset: int, partition: int = 0) -> Arrival[str]:
    return Arrival(name, partition, offset, None)


def items(arrivals: list[Arrival[str]]) -> list[str]:
    return [a.item for a in arrivals]


def all_read(*counts: tuple[Lane, int, int]) -> Positions:
    """Positions where each (lane, partition) holds ``count`` records from offset 0."""
    return Positions(
        highwaters={(lane, part): count for lane, part, count in counts},
        starts={(lane, part): 0 for lane, part, _ in counts},
    )


# --- Alignment ---------------------------------------------------------------------------
def run(alignment: Alignment[str], now: float = 0.0, limit: int = 1_000) -> list[str]:
    """What is due now, handed out and handled."""
    handed = alignment.next_run(now, limit)
    alignment.done()
    return [arrival.item for _, arrival in handed]


def test_the_two_lanes_are_merged_by_event_time() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 2), (ACT, 0, 2)))
    alignment.take(REQ, [arrival("r10", 10, 0), arrival("r30", 30, 1)])
    alignment.take(ACT, [arrival("a20", 20, 0), arrival("a40", 40, 1)])
    assert run(alignment) == ["r10", "a20", "r30", "a40"]
    assert alignment.held(REQ) == alignment.held(ACT) == 0


def test_a_run_stops_at_its_limit_and_the_next_one_goes_on() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 2), (ACT, 0, 2)))
    alignment.take(REQ, [arrival("r10", 10, 0), arrival("r30", 30, 1)])
    alignment.take(ACT, [arrival("a20", 20, 0), arrival("a40", 40, 1)])
    assert run(alignment, limit=3) == ["r10", "a20", "r30"]
    assert run(alignment, limit=3) == ["a40"]


def test_a_run_put_back_is_handed_out_again_in_the_same_order() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 2), (ACT, 0, 1)))
    alignment.take(REQ, [arrival("r10", 10, 0), arrival("r30", 30, 1)])
    alignment.take(ACT, [arrival("a20", 20, 0)])
    handed = alignment.next_run(0, 10)
    assert alignment.held(REQ) == 2 and alignment.held(ACT) == 1  # handed out, still held
    alignment.put_back()
    assert [a.item for _, a in handed] == run(alignment) == ["r10", "a20", "r30"]


def test_a_record_waits_while_the_other_lane_has_records_to_take() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 1), (ACT, 0, 3)))
    alignment.take(REQ, [arrival("r50", 50, 0)])
    alignment.take(ACT, [arrival("a10", 10, 0)])
    # Actions took offset 0 of 3: what it has still to take may come before r50.
    assert run(alignment) == ["a10"]
    assert run(alignment, now=1) == []
    alignment.take(ACT, [arrival("a60", 60, 1)])
    assert run(alignment, now=1) == ["r50", "a60"]


def test_a_lane_that_took_everything_lets_every_record_through() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 2), (ACT, 0, 1)))
    alignment.take(ACT, [arrival("a5", 5, 0)])
    assert run(alignment) == []  # requests has two records to take
    alignment.take(REQ, [arrival("r1", 1, 0), arrival("r99", 99, 1)])
    assert run(alignment) == ["r1", "a5", "r99"]


def test_a_committed_offset_at_the_end_means_nothing_to_take() -> None:
    positions = Positions(highwaters={(ACT, 0): 7}, starts={(ACT, 0): 7})
    alignment: Alignment[str] = Alignment(positions)
    alignment.take(REQ, [arrival("r1", 1, 0)])
    assert run(alignment) == ["r1"]


@pytest.mark.parametrize("highwater", [None, 3])
def test_unknown_positions_make_a_record_wait(highwater: int | None) -> None:
    positions = Positions(highwaters={} if highwater is None else {(ACT, 0): highwater})
    alignment: Alignment[str] = Alignment(positions, max_wait_s=1.0)
    alignment.take(REQ, [arrival("r1", 1, 0)])
    assert run(alignment) == []


def test_an_empty_partition_never_fetched_past_zero_is_caught_up() -> None:
    alignment: Alignment[str] = Alignment(Positions(highwaters={(ACT, 0): 0}))
    alignment.take(REQ, [arrival("r1", 1, 0)])
    assert run(alignment) == ["r1"]


def test_during_a_rebalance_every_held_record_is_due_in_the_merged_order() -> None:
    positions = all_read((REQ, 0, 3), (ACT, 0, 2), (REQ, 1, 1), (ACT, 1, 1))
    alignment: Alignment[str] = Alignment(positions)
    alignment.take(REQ, [arrival("r10", 10, 0), arrival("r100", 100, 1), arrival("p9", 9, 0, 1)])
    alignment.take(ACT, [arrival("a50", 50, 0)])
    # Without a rebalance r100 waits for the second action, p9 for partition 1 of actions.
    positions.rebalance = True
    assert run(alignment) == ["r10", "p9", "a50", "r100"]
    assert alignment.held(REQ) == alignment.held(ACT) == 0


def test_a_stalled_partition_holds_the_other_lane_at_most_max_wait() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 1), (ACT, 0, 5)), max_wait_s=2.0)
    alignment.take(REQ, [arrival("r1", 1, 0)])
    assert run(alignment, now=100.0) == []  # the stall starts here
    assert run(alignment, now=101.9) == []
    assert run(alignment, now=102.0) == ["r1"]


def test_a_partition_waited_out_stays_released_until_the_other_lane_takes_again() -> None:
    positions = all_read((REQ, 0, 3), (ACT, 0, 5))
    positions.starts[(ACT, 0)] = 0
    alignment: Alignment[str] = Alignment(positions, max_wait_s=2.0)
    alignment.take(REQ, [arrival(f"r{n}", n, n) for n in range(3)])
    assert run(alignment, now=0.0) == []
    assert run(alignment, now=2.0, limit=2) == ["r0", "r1"]
    assert run(alignment, now=2.0) == ["r2"]  # the rest of them: no second wait
    alignment.take(ACT, [arrival("a9", 9, 0)])  # actions takes again
    alignment.take(REQ, [arrival("r10", 10, 3)])
    assert run(alignment, now=2.0) == ["a9"]  # and r10 waits for actions again
    assert run(alignment, now=3.9) == []


def test_the_longest_wait_runs_from_the_stall_not_from_taking() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 1), (ACT, 0, 2)), max_wait_s=2.0)
    alignment.take(REQ, [arrival("r50", 50, 0)])
    alignment.take(ACT, [arrival("a10", 10, 0)])
    assert run(alignment, now=5.0) == ["a10"]  # r50 waited behind a10; now actions stalls
    assert run(alignment, now=6.0) == []
    assert run(alignment, now=7.0) == ["r50"]


def test_a_lane_waited_out_without_a_start_offset_is_taken_as_read_to_its_end() -> None:
    positions = Positions(highwaters={(ACT, 0): 4})  # a new group on a truncated log
    alignment: Alignment[str] = Alignment(positions, max_wait_s=1.0)
    alignment.take(REQ, [arrival("r1", 1, 0)])
    assert run(alignment, now=0.0) == []
    assert run(alignment, now=1.0) == ["r1"]
    alignment.take(REQ, [arrival("r2", 2, 1)])
    assert run(alignment, now=1.0) == ["r2"]  # no second wait
    positions.highwaters[(ACT, 0)] = 5  # a new action: wait for it again
    alignment.take(REQ, [arrival("r3", 3, 2)])
    assert run(alignment, now=1.0) == []


def test_partitions_are_merged_independently() -> None:
    positions = all_read((REQ, 0, 1), (REQ, 1, 1), (ACT, 0, 1), (ACT, 1, 0))
    alignment: Alignment[str] = Alignment(positions)
    alignment.take(REQ, [arrival("r0", 50, 0, partition=0), arrival("r1", 50, 0, partition=1)])
    # Partition 0's actions are still to be taken; partition 1 has none at all.
    assert run(alignment) == ["r1"]


def test_on_equal_keys_the_action_goes_first() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 1), (ACT, 0, 1)))
    alignment.take(REQ, [arrival("r", 10, 0)])
    alignment.take(ACT, [arrival("a", 10, 0)])
    assert run(alignment) == ["a", "r"]


def test_a_lane_keeps_its_offset_order_whatever_the_times() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 2), (ACT, 0, 1)))
    alignment.take(REQ, [arrival("r50", 50, 0), arrival("r5", 5, 1)])
    alignment.take(ACT, [arrival("a20", 20, 0)])
    assert run(alignment) == ["a20", "r50", "r5"]  # r5 stays behind r50


def test_a_refused_record_in_front_is_due_while_the_other_lane_stalls() -> None:
    alignment: Alignment[str] = Alignment(Positions())  # nothing known: the other lane stalls
    alignment.take(REQ, [refused("bad", 0), arrival("r1", 1, 1)])
    assert run(alignment) == ["bad"]
    assert alignment.held(REQ) == 1


def test_a_refused_record_stays_behind_the_held_records_of_its_partition() -> None:
    # Handling it first would ack its offset above a held one (Faust may then commit past
    # the held record).
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 3), (ACT, 0, 1)))
    alignment.take(REQ, [arrival("r50", 50, 0), refused("bad", 1), arrival("r60", 60, 2)])
    assert run(alignment) == []  # actions has a record still to take
    alignment.take(ACT, [arrival("a55", 55, 0)])
    assert run(alignment) == ["r50", "bad", "a55", "r60"]


def test_a_refused_record_in_front_of_the_other_lane_orders_nothing() -> None:
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, 1), (ACT, 0, 2)))
    alignment.take(ACT, [refused("bad", 0), arrival("a30", 30, 1)])
    alignment.take(REQ, [arrival("r10", 10, 0)])
    assert run(alignment) == ["r10", "bad", "a30"]  # r10 waits on a30's time, not on "bad"


@pytest.mark.parametrize("revoked", [False, True])
def test_forgetting_a_revoked_partition_drops_what_the_lane_took_from_it(revoked: bool) -> None:
    positions = Positions(highwaters={(ACT, 0): 2}, starts={(ACT, 0): 0})
    alignment: Alignment[str] = Alignment(positions)
    alignment.take(ACT, [refused("a1", 0), refused("a2", 1)])
    assert run(alignment) == ["a1", "a2"]
    alignment.take(REQ, [arrival("r9", 9, 0)])
    if revoked:
        alignment.forget(ACT, [0])  # back to its committed offset 0: nothing taken since
    assert run(alignment) == ([] if revoked else ["r9"])


@st.composite
def _lanes(
    draw: st.DrawFn,
) -> tuple[list[int | None], list[int | None], list[tuple[Lane, int]]]:
    """Two lists of event times, sorted, with refused records (None) anywhere in them, and an
    interleaving of batches taken from them."""
    times = st.lists(st.integers(0, 50), max_size=25).map(sorted)
    lanes: list[list[int | None]] = []
    for _ in Lane:
        lane: list[int | None] = list(draw(times))
        for position in draw(st.lists(st.integers(0, len(lane)), max_size=4)):
            lane.insert(position, None)
        lanes.append(lane)
    requests, actions = lanes
    steps: list[tuple[Lane, int]] = []
    left = {REQ: len(requests), ACT: len(actions)}
    while any(left.values()):
        lane_drawn = draw(st.sampled_from([lane for lane in Lane if left[lane]]))
        size = draw(st.integers(1, left[lane_drawn]))
        steps.append((lane_drawn, size))
        left[lane_drawn] -= size
    return requests, actions, steps


@settings(max_examples=300, deadline=None)
@given(_lanes())
def test_any_interleaving_of_batches_gives_the_event_time_order(
    case: tuple[list[int | None], list[int | None], list[tuple[Lane, int]]],
) -> None:
    requests, actions, steps = case

    def lane_records(name: str, times: list[int | None], parity: int) -> list[Arrival[str]]:
        return [
            Arrival(f"{name}{i}", 0, i, None if t is None else key(t, 2 * i + parity))
            for i, t in enumerate(times)
        ]

    records = {REQ: lane_records("r", requests, 0), ACT: lane_records("a", actions, 1)}
    alignment: Alignment[str] = Alignment(all_read((REQ, 0, len(requests)), (ACT, 0, len(actions))))
    taken = {REQ: 0, ACT: 0}
    handled: list[tuple[Lane, Arrival[str]]] = []

    def drain() -> None:
        handled.extend(alignment.next_run(0, 10_000))
        alignment.done()

    for lane, size in steps:
        alignment.take(lane, records[lane][taken[lane] : taken[lane] + size])
        taken[lane] += size
        drain()
    keyed = sorted(
        (a for lane in Lane for a in records[lane] if a.key is not None),
        key=lambda a: a.key or key(0),
    )
    assert [a.item for _, a in handled if a.key is not None] == [a.item for a in keyed]
    for lane in Lane:  # every record once, each lane in offset order (refused ones too)
        assert [a.offset for h, a in handled if h is lane] == list(range(len(records[lane])))


# --- Merger -----------------------------------------------------------------------------
@dataclass
class Recorder:
    runs: list[list[tuple[Lane, str]]] = field(default_factory=list)
    failures: int = 0

    async def handle(self, run: list[tuple[Lane, str]]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unavailable")
        self.runs.append(run)


def _merger(positions: Positions, recorder: Recorder, max_held: int = 1_000) -> Merger[str]:
    merger: Merger[str] = Merger(positions, max_held=max_held)
    merger.handle(recorder.handle)
    return merger


def test_the_merger_hands_over_due_records_of_both_lanes_in_one_run() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        merger = _merger(all_read((REQ, 0, 2), (ACT, 0, 2)), recorder)
        await merger.take(REQ, [arrival("r1", 1, 0), arrival("r9", 9, 1)])
        await merger.take(ACT, [arrival("a5", 5, 0), Arrival("bad", 0, 1, None)])
        await merger.drain()

    asyncio.run(scenario())
    assert recorder.runs == [[(REQ, "r1"), (ACT, "a5"), (ACT, "bad"), (REQ, "r9")]]


def test_a_failed_run_of_a_refused_record_stays_held_and_the_agent_goes_on() -> None:
    recorder = Recorder(failures=1)  # say, the dead-letter send times out

    async def scenario() -> None:
        merger = _merger(all_read((REQ, 0, 1), (ACT, 0, 0)), recorder)
        await merger.take(REQ, [refused("bad", 0)])  # logged, not raised: the agent goes on
        assert merger.alignment.held(REQ) == 1 and recorder.runs == []
        await merger.drain()

    asyncio.run(scenario())
    assert recorder.runs == [[(REQ, "bad")]]


def test_a_failed_run_stays_held_and_the_next_drain_hands_it_over_again() -> None:
    recorder = Recorder(failures=2)

    async def scenario() -> None:
        merger = _merger(all_read((REQ, 0, 1), (ACT, 0, 0)), recorder)
        await merger.take(REQ, [arrival("r1", 1, 0)])  # its run fails: logged, not raised
        assert merger.alignment.held(REQ) == 1
        with pytest.raises(ConnectionError):
            await merger.drain()
        assert merger.alignment.held(REQ) == 1
        await merger.drain()

    asyncio.run(scenario())
    assert recorder.runs == [[(REQ, "r1")]]


def test_a_batch_made_due_is_handled_by_the_agent_that_took_it() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        merger = _merger(all_read((REQ, 0, 2), (ACT, 0, 0)), recorder)
        await merger.take(REQ, [arrival("r1", 1, 0), arrival("r2", 2, 1)])
        assert recorder.runs == [[(REQ, "r1"), (REQ, "r2")]]  # no drain needed

    asyncio.run(scenario())


def test_run_drains_after_each_take_and_survives_a_failed_run() -> None:
    recorder = Recorder(failures=1)

    async def scenario() -> None:
        merger = _merger(all_read((REQ, 0, 1), (ACT, 0, 0)), recorder)
        task = asyncio.create_task(merger.run(tick_s=0.01))
        await merger.take(REQ, [arrival("r1", 1, 0)])
        async with asyncio.timeout(5):
            while not recorder.runs:
                await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert recorder.runs == [[(REQ, "r1")]]


def test_a_lane_holding_its_limit_waits_for_room_before_taking_more() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        # Actions has a record still to take: every request waits, and the lane fills up.
        merger = _merger(all_read((REQ, 0, 3), (ACT, 0, 1)), recorder, max_held=2)
        await merger.take(REQ, [arrival("r1", 1, 0)])
        taking = asyncio.create_task(merger.take(REQ, [arrival("r2", 2, 1)]))
        await asyncio.sleep(0.01)
        assert not taking.done()  # two held: no room
        await merger.take(ACT, [arrival("a9", 9, 0)])
        await merger.drain()
        async with asyncio.timeout(5):
            await taking

    asyncio.run(scenario())
    assert recorder.runs == [[(REQ, "r1"), (REQ, "r2")]]


def test_a_merger_without_a_handler_says_so() -> None:
    merger: Merger[str] = Merger(Positions())
    merger.alignment.take(REQ, [refused("bad", 0)])
    with pytest.raises(RuntimeError, match=r"Merger\.handle"):
        asyncio.run(merger.drain())
