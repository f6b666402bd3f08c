"""The checkpoint checks on their own: listing findings and root findings, no I/O."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from riskseal.audit.checkpoint_checks import (
    CLOCK_SKEW_MS,
    CheckpointFloor,
    ReadCheckpoint,
    listing_findings,
    root_findings,
)
from riskseal.audit.report import ChainResult
from riskseal.audit.verify_range import Span
from riskseal.block import ChainId
from riskseal.note import Checkpoint

CHAIN = ChainId("cluster-1", "access.requests", 0)
NOW_MS = 1_790_000_000_000
WHOLE = Span(0, 9, open_end=True)
HOUR_S = 3600.0


def read(size: int, written_ms: int = NOW_MS, root: bytes = b"\x01" * 32) -> ReadCheckpoint:
    key = f"audit/checkpoints/{CHAIN}/{written_ms}"
    return ReadCheckpoint(key, Checkpoint("origin", size, root), None, written_ms)


def kinds(checkpoints: list[ReadCheckpoint], head: int = 9, span: Span = WHOLE) -> list[str]:
    _, found = listing_findings(str(CHAIN), checkpoints, head, span, NOW_MS, HOUR_S)
    return [finding.kind for finding in found]


def test_a_grown_fresh_history_has_no_finding_and_names_its_largest_size() -> None:
    size, found = listing_findings(
        str(CHAIN), [read(4, NOW_MS - 2), read(10, NOW_MS - 1)], 9, WHOLE, NOW_MS, HOUR_S
    )
    assert (size, found) == (10, [])


def test_blocks_without_any_checkpoint() -> None:
    assert kinds([]) == ["no_checkpoint"]
    assert kinds([], head=-1) == []  # an empty chain needs none


def test_an_unusable_checkpoint_is_reported_with_its_problem() -> None:
    broken = ReadCheckpoint(
        f"audit/checkpoints/{CHAIN}/{NOW_MS}", None, ("bad_checkpoint", "bad signature")
    )
    size, found = listing_findings(str(CHAIN), [broken], 9, WHOLE, NOW_MS, HOUR_S)
    assert size is None
    assert [(f.kind, f.detail, f.key) for f in found] == [
        ("bad_checkpoint", "bad signature", broken.key)
    ]


def test_a_smaller_checkpoint_after_a_larger_one_regressed() -> None:
    assert kinds([read(10, NOW_MS - 2), read(8, NOW_MS - 1)]) == ["checkpoint_regressed"]


def test_a_checkpoint_beyond_the_listed_blocks_means_the_tail_was_truncated() -> None:
    assert kinds([read(12)]) == ["tail_truncated"]


def test_the_newest_checkpoint_older_than_the_limit_is_stale() -> None:
    assert kinds([read(10, NOW_MS - 3_600_001)]) == ["stale_checkpoint"]
    assert kinds([read(10, NOW_MS - 3_600_000)]) == []


def test_a_range_short_of_the_chain_end_skips_truncation_and_freshness() -> None:
    inner = Span(2, 5, open_end=False)
    assert kinds([read(12, NOW_MS - 10 * 3_600_000)], span=inner) == []
    assert kinds([read(12, NOW_MS - 10 * 3_600_000)], span=WHOLE) == [
        "tail_truncated",
        "stale_checkpoint",
    ]


def test_a_root_other_than_the_walked_one_is_a_fork() -> None:
    result = ChainResult(CHAIN, roots={4: b"\x01" * 32, 10: b"\x02" * 32})
    same, forked, unwalked = read(4), read(10, NOW_MS + 1), read(7, NOW_MS + 2)
    found = root_findings(result, [same, forked, unwalked])
    assert [(f.kind, f.key) for f in found] == [("checkpoint_mismatch", forked.key)]


def test_the_age_is_the_signed_time_not_the_key_name() -> None:
    # A genuine old checkpoint copied under a key named in the far future: still stale.
    old = NOW_MS - 10 * 3_600_000
    copied = dataclasses.replace(read(10, old), key=f"audit/checkpoints/{CHAIN}/999999999999999")
    assert kinds([copied]) == ["stale_checkpoint"]


def test_a_signed_time_in_the_future_is_a_finding_beyond_the_clock_skew() -> None:
    assert kinds([read(10, NOW_MS + CLOCK_SKEW_MS)]) == []
    assert kinds([read(10, NOW_MS + CLOCK_SKEW_MS + 1)]) == ["future_checkpoint"]


def test_a_future_checkpoint_does_not_make_the_chain_look_fresh() -> None:
    stale, future = read(10, NOW_MS - 10 * 3_600_000), read(10, NOW_MS + 10 * 3_600_000)
    assert sorted(kinds([stale, future])) == ["future_checkpoint", "stale_checkpoint"]


def test_checkpoints_are_ordered_by_signed_time_not_by_key() -> None:
    newer_smaller = dataclasses.replace(read(8, NOW_MS - 1), key="audit/a-first-key")
    older_larger = dataclasses.replace(read(10, NOW_MS - 2), key="audit/b-second-key")
    assert kinds([newer_smaller, older_larger]) == ["checkpoint_regressed"]
    assert kinds([older_larger, newer_smaller]) == ["checkpoint_regressed"]


def test_issues_of_a_usable_checkpoint_are_reported_and_it_still_counts() -> None:
    misplaced = dataclasses.replace(
        read(12), issues=(("misplaced_checkpoint", "its signed time belongs elsewhere"),)
    )
    assert kinds([misplaced]) == ["misplaced_checkpoint", "tail_truncated"]


# --- the dates checkpoints put under the blocks they leave out -------------------------------
def test_a_block_left_out_of_a_checkpoint_may_not_predate_it_beyond_the_clock_skew() -> None:
    floor = CheckpointFloor.of([read(3, NOW_MS)], NOW_MS)
    assert floor.finding(str(CHAIN), 2, NOW_MS - 10 * CLOCK_SKEW_MS, "b2") is None  # included
    assert floor.finding(str(CHAIN), 3, NOW_MS - CLOCK_SKEW_MS, "b3") is None
    late = floor.finding(str(CHAIN), 3, NOW_MS - CLOCK_SKEW_MS - 1, "b3")
    assert late is not None
    assert (late.kind, late.seq, late.key) == ("dated_before_checkpoint", 3, "b3")
    assert read(3, NOW_MS).key in late.detail


def test_a_checkpoint_in_the_future_or_unusable_dates_nothing() -> None:
    ahead = NOW_MS + 2 * CLOCK_SKEW_MS
    broken = ReadCheckpoint("k", None, ("bad_checkpoint", "bad signature"))
    floor = CheckpointFloor.of([read(3, ahead), broken], NOW_MS)
    assert floor.finding(str(CHAIN), 5, NOW_MS, "b5") is None


checkpoint_lists = st.lists(
    st.tuples(
        st.integers(0, 8), st.integers(NOW_MS - 20 * CLOCK_SKEW_MS, NOW_MS + 3 * CLOCK_SKEW_MS)
    ),
    max_size=8,
)


@given(checkpoint_lists, st.integers(0, 10), st.integers(NOW_MS - 25 * CLOCK_SKEW_MS, NOW_MS))
def test_the_floor_is_the_newest_usable_checkpoint_that_leaves_the_block_out(
    checkpoints: list[tuple[int, int]], seq: int, created_ms: int
) -> None:
    floor = CheckpointFloor.of([read(size, time_ms) for size, time_ms in checkpoints], NOW_MS)
    leaving_out = [
        time_ms for size, time_ms in checkpoints
        if size <= seq and time_ms <= NOW_MS + CLOCK_SKEW_MS
    ]  # fmt: skip
    expected = bool(leaving_out) and created_ms < max(leaving_out) - CLOCK_SKEW_MS
    found = floor.finding(str(CHAIN), seq, created_ms, "b")
    assert (found is not None) == expected
    if found is not None:
        assert read(0, max(leaving_out)).key in found.detail
