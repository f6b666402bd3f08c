"""The checkpoint checks on their own: listing findings and root findings, no I/O."""

from __future__ import annotations

from riskseal.audit.checkpoint_checks import ReadCheckpoint, listing_findings, root_findings
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
    return ReadCheckpoint(key, Checkpoint("origin", size, root), None)


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
