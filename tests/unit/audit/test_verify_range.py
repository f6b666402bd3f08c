"""`riskseal verify --from/--to`: inside the range everything is checked, outside nothing is
reported, the link into the range and the end of the chain are never left out."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskseal.audit.verify_range import (
    Span,
    VerifyRange,
    parse_bound,
    range_from_bounds,
    resolve_span,
)
from riskseal.block import Block, ChainId, SealedRecord, checkpoint_key
from riskseal.cli import main
from riskseal.errors import ConfigError
from riskseal.keys import FileSigner, PublicKeys
from riskseal.manifest import first_manifest, manifest_key
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.chain import ChainWriter, recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from riskseal.sealer.store import MemoryBlockStore
from tests.unit.audit.trail import (
    CLUSTER,
    CODEC,
    FRESH,
    NOW_MS,
    ORIGIN,
    PREFIX,
    REQUESTS,
    Trail,
    request,
)

MINUTE = 60_000
CHAIN = ChainId(CLUSTER, REQUESTS, 0)
CHAIN_ARG = ["--chain", str(CHAIN)]


def iso(ms: int) -> str:
    """An ISO time of ``ms``."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _seal(
    store: MemoryBlockStore, signer: FileSigner, first_request: int = 0, checkpoints: bool = True
) -> None:
    """Six blocks of two requests (``first_request + offset``), block ``s`` sealed at NOW + s
    minutes, checkpoints of sizes 3 and 6."""
    clock = iter(NOW_MS + seq * MINUTE for seq in range(6))
    head = recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))
    writer = ChainWriter(head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: next(clock))
    for seq in range(6):
        pending = []
        for offset in (2 * seq, 2 * seq + 1):
            value = CODEC.encode_event(request(first_request + offset))
            record = SealedRecord(REQUESTS, 0, offset, NOW_MS, 1, b"k", value)
            pending.append(PendingRecord(offset, NOW_MS, record.canonical_bytes(), False))
        writer.append(writer.build(pending))
        if checkpoints and seq in (2, 5):  # checkpoints of sizes 3 and 6
            when = NOW_MS + seq * MINUTE
            tree = writer.head.tree
            note = signed_checkpoint(ORIGIN, CHAIN, tree.size, tree.root(), signer, time_ms=when)
            store.create(checkpoint_key(PREFIX, CHAIN, when), note)


@pytest.fixture
def trail(tmp_path: Path) -> Trail:
    """One chain of six blocks of two requests, block ``s`` sealed at NOW + s minutes."""
    store, signer = MemoryBlockStore(), FileSigner.generate("range-test")
    store.create(manifest_key(PREFIX, 0), first_manifest(signer, NOW_MS - 1).sign([signer]))
    _seal(store, signer)
    result = Trail(store, signer, tmp_path / "bucket")
    result.write()
    return result


def _rewrite_history(trail: Trail) -> None:
    """Every block re-sealed by the genuine key with other records; checkpoints untouched."""
    forged = MemoryBlockStore()
    _seal(forged, trail.signer, first_request=100, checkpoints=False)
    for key, data in forged.objects.items():
        (trail.root / key).write_bytes(data)


def _verify(trail: Trail, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file()),
                 "--json", *FRESH, *extra])  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


def _where(report: dict) -> set[tuple[str, int | None]]:  # type: ignore[type-arg]
    return {(f["kind"], f["seq"]) for f in report["findings"]}


def _flip_record(trail: Trail, seq: int) -> None:
    path = trail.root / trail.key(REQUESTS, seq)
    block = Block.from_bytes(path.read_bytes())
    forged = bytearray(block.record_bytes[0])
    forged[-10] ^= 0x01
    path.write_bytes(
        dataclasses.replace(block, record_bytes=(bytes(forged), *block.record_bytes[1:])).to_bytes()
    )


def _flip_signature(trail: Trail, seq: int) -> None:
    path = trail.root / trail.key(REQUESTS, seq)
    block = Block.from_bytes(path.read_bytes())
    signature = bytes([block.signature[0] ^ 0x80]) + block.signature[1:]
    path.write_bytes(dataclasses.replace(block, signature=signature).to_bytes())


# --- block-number ranges ------------------------------------------------------------------
def test_clean_range_verifies_only_its_blocks(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "3")
    assert code == 0, report["findings"]
    assert report["range"] == "blocks 2..3"
    [chain] = report["chains"]
    assert (chain["first_seq"], chain["last_seq"], chain["blocks"], chain["records"]) == (
        2, 3, 2, 4,
    )  # fmt: skip
    assert any("event checks" in note for note in report["notes"])


def test_tampered_block_outside_the_range_is_not_reported(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_record(trail, 5)
    _flip_record(trail, 0)
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "3")
    assert code == 0, report["findings"]


def test_tampered_block_inside_the_range_is_reported(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_record(trail, 3)
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "3")
    assert code == 1
    assert _where(report) == {("records_root_mismatch", 3)}


def test_forged_header_before_the_range_breaks_the_link_into_it(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_signature(trail, 1)  # the block the range hangs from; its records are not checked
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "3")
    assert code == 1
    assert _where(report) == {("bad_signature", 1)}
    assert "the block before the range" in report["findings"][0]["detail"]


def test_block_before_the_range_replaced_by_another_breaks_the_link(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # Block 0 copied over block 1: a genuine, signed header, but in the wrong place.
    (trail.root / trail.key(REQUESTS, 1)).write_bytes(
        (trail.root / trail.key(REQUESTS, 0)).read_bytes()
    )
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "3")
    assert code == 1
    assert ("misplaced_block", 1) in _where(report)


def test_missing_block_before_the_range_is_reported(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    (trail.root / trail.key(REQUESTS, 1)).unlink()
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "3")
    assert code == 1
    assert _where(report) == {("missing_block", 1)}


def test_gap_inside_the_range_is_reported(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    (trail.root / trail.key(REQUESTS, 3)).unlink()
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "4")
    assert code == 1
    assert ("missing_block", 3) in _where(report)


def test_tail_truncation_is_inside_an_open_range(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    for seq in (4, 5):
        (trail.root / trail.key(REQUESTS, seq)).unlink()
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2")
    assert code == 1
    truncated = [f for f in report["findings"] if f["kind"] == "tail_truncated"]
    assert truncated and "covers 6 blocks, the chain has 4" in truncated[0]["detail"]


def test_range_ending_beyond_the_newest_block_is_open(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    (trail.root / trail.key(REQUESTS, 5)).unlink()
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "1", "--to", "99")
    assert code == 1
    assert "tail_truncated" in {f["kind"] for f in report["findings"]}


def test_checkpoint_inside_the_range_is_compared(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    when = NOW_MS + 3 * MINUTE + 1
    forged = signed_checkpoint(ORIGIN, CHAIN, 4, bytes(32), trail.signer, time_ms=when)
    (trail.root / checkpoint_key(PREFIX, CHAIN, when)).write_bytes(forged)
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "2", "--to", "4")
    assert code == 1
    assert "checkpoint_mismatch" in {f["kind"] for f in report["findings"]}


def test_stale_checkpoint_is_not_about_a_closed_range(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file()), "--json",
            "--max-checkpoint-age", "60", *CHAIN_ARG]  # fmt: skip
    assert main([*args, "--from", "1", "--to", "2"]) == 0
    capsys.readouterr()
    assert main([*args, "--from", "1"]) == 1
    kinds = {f["kind"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert kinds == {"stale_checkpoint"}


# --- sealing-time ranges --------------------------------------------------------------------
def test_time_range_selects_blocks_by_their_signed_sealing_time(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_record(trail, 0)
    _flip_record(trail, 5)
    code, report = _verify(
        trail, capsys, "--from", iso(NOW_MS + 2 * MINUTE), "--to", iso(NOW_MS + 3 * MINUTE)
    )
    assert code == 0, report["findings"]
    [chain] = report["chains"]
    assert (chain["first_seq"], chain["last_seq"]) == (2, 3)


def test_time_range_reports_a_tampered_block_inside(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_record(trail, 2)
    code, report = _verify(
        trail, capsys, "--from", iso(NOW_MS + 2 * MINUTE), "--to", iso(NOW_MS + 3 * MINUTE)
    )
    assert code == 1
    assert _where(report) == {("records_root_mismatch", 2)}


def test_block_whose_time_was_forged_out_of_the_range_stays_in_it(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # Block 3 (in range) re-dated after the range without the key: its time is untrusted.
    path = trail.root / trail.key(REQUESTS, 3)
    block = Block.from_bytes(path.read_bytes())
    header = dataclasses.replace(block.header, created_ms=NOW_MS + 50 * MINUTE)
    path.write_bytes(dataclasses.replace(block, header=header).to_bytes())
    code, report = _verify(
        trail, capsys, "--from", iso(NOW_MS + 2 * MINUTE), "--to", iso(NOW_MS + 3 * MINUTE)
    )
    assert code == 1
    assert ("bad_signature", 3) in _where(report)


def test_deleted_block_at_the_edge_of_a_time_range_stays_in_it(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    (trail.root / trail.key(REQUESTS, 4)).unlink()  # just after the range: it may be inside
    code, report = _verify(
        trail, capsys, "--from", iso(NOW_MS + 2 * MINUTE), "--to", iso(NOW_MS + 3 * MINUTE)
    )
    assert code == 1
    assert ("missing_block", 4) in _where(report)


def test_time_range_with_no_block_says_so(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _verify(trail, capsys, "--from", "2000-01-01", "--to", "2000-01-31")
    assert code == 0
    assert any("no block in" in note for note in report["notes"])
    assert report["chains"][0]["blocks"] == 0


# --- arguments -------------------------------------------------------------------------------
def test_block_number_without_chain_is_a_usage_error(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--local", str(trail.root), "--from", "3"]) == 2
    assert "give --chain" in capsys.readouterr().err


def test_unknown_chain_is_a_usage_error_not_a_pass(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--local", str(trail.root), "--chain", "x/y/0"]) == 2
    assert "no chain x/y/0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "is_end", "expected"),
    [
        ("2026-01-31", False, ("time", 1_769_817_600_000)),
        ("2026-01-31", True, ("time", 1_769_903_999_999)),
        ("2026-01-31T12:00:00Z", False, ("time", 1_769_860_800_000)),
        ("2026-01-31T12:00:00", True, ("time", 1_769_860_800_000)),
        ("2026-01-31T13:00:00+01:00", False, ("time", 1_769_860_800_000)),
        ("17", False, ("seq", 17)),
    ],
)
def test_bounds_parse(text: str, is_end: bool, expected: tuple[str, int]) -> None:
    assert parse_bound(text, chain_given=True, is_end=is_end) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "-3"])
def test_bad_bounds_are_usage_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_bound(text, chain_given=True, is_end=False)


def test_mixed_or_reversed_bounds_are_usage_errors() -> None:
    with pytest.raises(ConfigError, match="both"):
        range_from_bounds(("seq", 1), ("time", 5))
    with pytest.raises(ConfigError, match="before"):
        range_from_bounds(("seq", 5), ("seq", 1))


def test_progress_bar_on_request_never_with_json(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file()), *FRESH,
            *CHAIN_ARG, "--from", "0"]  # fmt: skip
    assert main([*args, "--progress"]) == 0
    assert "verifying" in capsys.readouterr().err
    assert main([*args, "--progress", "--json"]) == 0
    assert "verifying" not in capsys.readouterr().err


# --- the span, as a property -----------------------------------------------------------------
@given(
    times=st.lists(st.one_of(st.none(), st.integers(0, 100)), max_size=30),
    start=st.one_of(st.none(), st.integers(0, 100)),
    end=st.one_of(st.none(), st.integers(0, 100)),
)
def test_no_block_that_may_be_in_the_range_is_left_out(
    times: list[int | None], start: int | None, end: int | None
) -> None:
    head = len(times) - 1
    span = resolve_span(VerifyRange("time", start, end), head, lambda seq: times[seq])
    for seq, when in enumerate(times):
        maybe_inside = when is None or (
            (start is None or when >= start) and (end is None or when <= end)
        )
        if maybe_inside and (start is None or end is None or start <= end):
            assert span.first <= seq <= span.last, (seq, when, span)
    if span.anchor is not None and span.first <= head:
        anchor_time = times[span.anchor]
        assert anchor_time is not None and start is not None and anchor_time < start
    assert span.open_end == (span.last == head)


@given(st.integers(-1, 50), st.one_of(st.none(), st.integers(0, 60)), st.integers(0, 60))
def test_block_number_span(head: int, end: int | None, start: int) -> None:
    span = resolve_span(VerifyRange("seq", start, end), head, lambda seq: None)
    assert span.first == start
    assert span.last == (head if end is None else min(end, head))
    assert span == Span(span.first, span.last, end is None or end >= head)


# --- the range against the checkpoints before it -------------------------------------------
@pytest.mark.parametrize("seq", [3, 4, 5])
def test_rewritten_history_is_found_from_a_range_after_a_checkpoint(
    trail: Trail, capsys: pytest.CaptureFixture[str], seq: int
) -> None:
    # The checkpoint of size 3 ends right at the range (3), at its anchor (4), or before (5).
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", str(seq), "--to", str(seq))
    assert code == 0, report["findings"]
    _rewrite_history(trail)
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", str(seq), "--to", str(seq))
    assert code == 1
    assert "checkpoint_mismatch" in {f["kind"] for f in report["findings"]}


def test_range_that_cannot_be_tied_to_the_checkpoint_before_it_is_a_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    (trail.root / trail.key(REQUESTS, 3)).unlink()  # between checkpoint size 3 and block 5
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "5", "--to", "5")
    assert code == 1
    assert _where(report) == {("missing_block", 3)}


def test_anchor_whose_root_does_not_extend_the_checkpoint_is_a_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # Block 3 (between the checkpoint of size 3 and the range) replaced by a forged one: its
    # leaf no longer leads from the checkpoint's tree to the anchor's signed root.
    forged = MemoryBlockStore()
    _seal(forged, trail.signer, first_request=100, checkpoints=False)
    (trail.root / trail.key(REQUESTS, 3)).write_bytes(forged.objects[trail.key(REQUESTS, 3)])
    code, report = _verify(trail, capsys, *CHAIN_ARG, "--from", "5", "--to", "5")
    assert code == 1
    assert _where(report) == {("chain_root_mismatch", 4)}
