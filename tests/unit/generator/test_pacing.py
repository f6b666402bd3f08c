"""The pacer does not drift; limits stop a run where they say, without building more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from riskseal.generator import (
    GeneratedEvent,
    GeneratorConfig,
    Pacer,
    RunLimits,
    Tally,
    drive,
    generate_events,
)


class FakeClock:
    """A monotonic clock that only moves when slept on or told to."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def test_pacer_holds_the_schedule_despite_slow_sends() -> None:
    clock = FakeClock()
    pacer = Pacer(100.0, clock, clock.sleep)
    for index in range(1_000):
        pacer.wait_turn(index)
        clock.now += 0.004 if index % 3 else 0.0005  # each send takes time
    # Event 999 left at t0 + 9.99 s: the send times did not add up.
    assert clock.now - 100.0 == pytest.approx(9.99 + 0.0005, abs=1e-6)


def test_pacer_catches_up_after_a_stall_instead_of_drifting() -> None:
    clock = FakeClock()
    pacer = Pacer(10.0, clock, clock.sleep)
    departures = []
    for index in range(50):
        pacer.wait_turn(index)
        departures.append(clock.now - 100.0)
        if index == 10:
            clock.now += 2.0  # a two-second stall
    assert departures[11] == pytest.approx(3.0)  # late by the stall
    assert departures[12] == pytest.approx(3.0)  # sent at once: 1.2 s was already due
    assert departures[30] == pytest.approx(3.0)  # back on schedule: 3.0 s = 30 / 10
    assert departures[49] == pytest.approx(4.9)


def test_pacer_with_rate_zero_never_sleeps() -> None:
    clock = FakeClock()
    pacer = Pacer(0.0, clock, clock.sleep)
    for index in range(1_000):
        pacer.wait_turn(index)
    assert clock.sleeps == []


def test_high_rates_sleep_in_batches() -> None:
    clock = FakeClock()
    pacer = Pacer(100_000.0, clock, clock.sleep)
    for index in range(10_000):
        pacer.wait_turn(index)
    assert 0 < len(clock.sleeps) <= 100


@pytest.mark.parametrize(
    ("limits", "max_events", "wall"),
    [
        (RunLimits(), None, None),
        (RunLimits(events=5), 5, None),
        (RunLimits(rate=0.1, duration_s=30), 3, None),
        (RunLimits(rate=100, duration_s=2.5, events=1_000), 250, None),
        (RunLimits(rate=100, duration_s=20, events=1_000), 1_000, None),
        (RunLimits(rate=0, duration_s=2.5), None, 2.5),
    ],
)
def test_run_limits(limits: RunLimits, max_events: int | None, wall: float | None) -> None:
    assert limits.max_events == max_events
    assert limits.wall_limit_s == wall


def _counted(events: Iterator[GeneratedEvent], pulled: list[int]) -> Iterator[GeneratedEvent]:
    for generated in events:
        pulled.append(1)
        yield generated


def test_drive_stops_at_the_count_without_building_more() -> None:
    pulled: list[int] = []
    sent: list[GeneratedEvent] = []
    stream = _counted(generate_events(GeneratorConfig(seed=1, users=5)), pulled)
    tally = drive(stream, sent.append, RunLimits(events=40))
    assert len(sent) == tally.events == len(pulled) == 40
    assert tally.by_kind.total() == 40
    assert tally.first_ms == sent[0].time_ms and tally.last_ms == sent[-1].time_ms


def test_drive_stops_at_the_wall_limit_without_a_rate() -> None:
    clock = FakeClock()
    sent: list[GeneratedEvent] = []

    def slow(generated: GeneratedEvent) -> None:
        sent.append(generated)
        clock.now += 0.25

    stream = generate_events(GeneratorConfig(seed=1, users=5))
    drive(stream, slow, RunLimits(duration_s=1.0), clock=clock, sleep=clock.sleep)
    assert len(sent) == 4


def test_drive_paces_and_reports_progress() -> None:
    clock = FakeClock()
    reports: list[int] = []

    def progress(tally: Tally) -> None:
        reports.append(tally.events)

    stream = generate_events(GeneratorConfig(seed=1, users=5))
    tally = drive(
        stream,
        lambda _event: None,
        RunLimits(rate=20, duration_s=3),
        progress=progress,
        clock=clock,
        sleep=clock.sleep,
    )
    assert tally.events == 60
    assert clock.now - 100.0 == pytest.approx(59 / 20)
    assert reports[-1] == 60
    assert len(reports) > 10  # every 0.1 s of (fake) wall time
