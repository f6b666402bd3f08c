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
from riskseal.block import BlockHeader, ChainId
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
RETIRED_KEY, CURRENT_KEY = "old+00000001", "new+00000002"


def _valid_at(key_id: str, time_ms: int) -> bool:
    """The old key was retired at NOW_MS - 10 skews; the current one is valid ever since."""
    retired = NOW_MS - 10 * CLOCK_SKEW_MS
    return time_ms < retired if key_id == RETIRED_KEY else time_ms >= retired


def _header(created_ms: int, key_id: str = RETIRED_KEY) -> BlockHeader:
    return BlockHeader(
        origin="o", chain_id=str(CHAIN), seq=0, first_offset=0, last_offset=0, record_count=1,
        records_root=bytes(32), prev_header_hash=bytes(32), chain_size_before=0,
        chain_root_before=bytes(32), created_ms=created_ms, object_key="k", key_id=key_id,
    )  # fmt: skip


def _floor(*checkpoints: ReadCheckpoint) -> CheckpointFloor:
    return CheckpointFloor.of(checkpoints, NOW_MS, _valid_at)


def test_a_block_left_out_of_a_checkpoint_may_not_predate_it_with_a_retired_key() -> None:
    floor = _floor(read(3, NOW_MS))
    back_dated = _header(NOW_MS - 11 * CLOCK_SKEW_MS)  # inside the retired key's validity
    assert floor.finding(str(CHAIN), 2, back_dated, "b2") is None  # the checkpoint includes it
    found = floor.finding(str(CHAIN), 3, back_dated, "b3")
    assert found is not None
    assert (found.kind, found.seq, found.key) == ("dated_before_checkpoint", 3, "b3")
    assert read(3, NOW_MS).key in found.detail


def test_an_early_date_under_a_key_still_valid_is_no_finding() -> None:
    # A PUT retried across a hand-over lands after a checkpoint of the new owner.
    floor = _floor(read(3, NOW_MS))
    assert (
        floor.finding(str(CHAIN), 3, _header(NOW_MS - 9 * CLOCK_SKEW_MS, CURRENT_KEY), "b3") is None
    )


def test_a_date_within_the_clock_skew_of_the_checkpoint_is_no_finding() -> None:
    floor = CheckpointFloor.of([read(3, NOW_MS)], NOW_MS, lambda key_id, time_ms: False)
    assert floor.finding(str(CHAIN), 3, _header(NOW_MS - CLOCK_SKEW_MS), "b3") is None
    assert floor.finding(str(CHAIN), 3, _header(NOW_MS - CLOCK_SKEW_MS - 1), "b3") is not None


def test_a_checkpoint_in_the_future_or_unusable_dates_nothing() -> None:
    ahead = NOW_MS + 2 * CLOCK_SKEW_MS
    broken = ReadCheckpoint("k", None, ("bad_checkpoint", "bad signature"))
    floor = _floor(read(3, ahead), broken)
    assert floor.finding(str(CHAIN), 5, _header(NOW_MS - 11 * CLOCK_SKEW_MS), "b5") is None


def test_a_regressed_checkpoint_still_dates_the_blocks_it_leaves_out() -> None:
    # The retired key's holder signs, inside its validity, a checkpoint of 5 blocks that
    # includes its forged blocks 3 and 4; the honest checkpoint of 3 after it still counts.
    floor = _floor(read(5, NOW_MS - 20 * CLOCK_SKEW_MS), read(3, NOW_MS))
    back_dated = _header(NOW_MS - 11 * CLOCK_SKEW_MS)
    assert floor.finding(str(CHAIN), 2, back_dated, "b2") is None
    assert all(floor.finding(str(CHAIN), seq, back_dated, "b") is not None for seq in (3, 4))


checkpoint_lists = st.lists(
    st.tuples(
        st.integers(0, 8), st.integers(NOW_MS - 20 * CLOCK_SKEW_MS, NOW_MS + 3 * CLOCK_SKEW_MS)
    ),
    max_size=8,
)


@given(
    checkpoint_lists,
    st.integers(0, 10),
    st.integers(NOW_MS - 25 * CLOCK_SKEW_MS, NOW_MS),
    st.sampled_from([RETIRED_KEY, CURRENT_KEY]),
)
def test_the_floor_is_the_newest_checkpoint_leaving_the_block_out(
    checkpoints: list[tuple[int, int]], seq: int, created_ms: int, key_id: str
) -> None:
    floor = _floor(*(read(size, time_ms) for size, time_ms in checkpoints))
    usable = [(t, size) for size, t in checkpoints if t <= NOW_MS + CLOCK_SKEW_MS]
    leaving_out = [t for t, size in usable if size <= seq]
    stored_after = max(leaving_out, default=0) - CLOCK_SKEW_MS
    expected = (
        bool(leaving_out) and created_ms < stored_after and not _valid_at(key_id, stored_after)
    )
    found = floor.finding(str(CHAIN), seq, _header(created_ms, key_id), "b")
    assert (found is not None) == expected
    if found is not None:
        assert read(0, max(leaving_out)).key in found.detail
