"""`riskseal verify` on a local copy: one named test per attack, each with its finding, exit 1."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import pytest

from riskseal.block import CLOCK_SKEW_MS, Block, checkpoint_key
from riskseal.cli import main
from riskseal.keys import FileSigner, PublicKeys
from riskseal.manifest import KeyManifest, KeyValidity, manifest_key, rotated
from riskseal.merkle import CompactRange
from riskseal.note import Checkpoint, SignedNote, sign_note
from riskseal.sealer.chain import recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from tests.unit.audit.trail import (
    CLUSTER,
    CODEC,
    DECISIONS,
    FRESH,
    HOUR_MS,
    NOW_MS,
    ORIGIN,
    PREFIX,
    REQUESTS,
    RETIRED_MS,
    Trail,
    build_trail,
    next_request_block,
    request,
    rotate,
)


def _verify(trail: Trail, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file()), "--json",
                 *FRESH, *extra])  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


def _kinds(report: dict) -> set[str]:  # type: ignore[type-arg]
    return {finding["kind"] for finding in report["findings"]}


def _rewrite(trail: Trail, key: str, block: Block) -> None:
    (trail.root / key).write_bytes(block.to_bytes())


def _block(trail: Trail, key: str) -> Block:
    return Block.from_bytes((trail.root / key).read_bytes())


def test_untouched_trail_verifies(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _verify(trail, capsys)
    assert code == 0, report["findings"]
    assert report["ok"] is True
    assert sum(chain["records"] for chain in report["chains"]) == 18


def test_flipped_byte_in_a_record(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    key = trail.key(REQUESTS, 1)
    block = _block(trail, key)
    forged = bytearray(block.record_bytes[0])
    forged[-10] ^= 0x01
    _rewrite(
        trail,
        key,
        dataclasses.replace(block, record_bytes=(bytes(forged), *block.record_bytes[1:])),
    )
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "records_root_mismatch" in _kinds(report)


def test_flipped_byte_in_a_header(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    key = trail.key(REQUESTS, 1)
    block = _block(trail, key)
    header = dataclasses.replace(block.header, created_ms=block.header.created_ms ^ 1)
    _rewrite(trail, key, dataclasses.replace(block, header=header))
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "bad_signature" in _kinds(report)


def test_flipped_byte_in_a_signature(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    key = trail.key(REQUESTS, 0)
    block = _block(trail, key)
    signature = bytes([block.signature[0] ^ 0x80]) + block.signature[1:]
    _rewrite(trail, key, dataclasses.replace(block, signature=signature))
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "bad_signature" in _kinds(report)


def test_record_removed_and_block_resigned_with_the_real_key(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    key = trail.key(REQUESTS, 1)
    block = _block(trail, key)
    from riskseal.block import records_root

    kept = block.record_bytes[:-1]
    header = dataclasses.replace(
        block.header, last_offset=block.header.last_offset - 1, record_count=len(kept),
        records_root=records_root(kept),
    )  # fmt: skip
    resigned = Block(
        header, trail.signer.sign(header.signing_payload()), kept, block.frontier_before
    )
    _rewrite(trail, key, resigned)
    code, report = _verify(trail, capsys)
    assert code == 1
    gap = [f for f in report["findings"] if f["kind"] == "offset_gap"]
    assert gap and gap[0]["seq"] == 2 and "offsets 5..5 are in no block" in gap[0]["detail"]


def test_block_deleted(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    (trail.root / trail.key(REQUESTS, 1)).unlink()
    code, report = _verify(trail, capsys)
    assert code == 1
    missing = [f for f in report["findings"] if f["kind"] == "missing_block"]
    assert [f["seq"] for f in missing] == [1]


def test_blocks_reordered(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = trail.root / trail.key(REQUESTS, 0), trail.root / trail.key(REQUESTS, 1)
    first, second = one.read_bytes(), two.read_bytes()
    one.write_bytes(second)
    two.write_bytes(first)
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "misplaced_block" in _kinds(report)


def test_old_block_replayed_under_a_new_seq(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(trail.root / trail.key(REQUESTS, 0), trail.root / trail.key(REQUESTS, 3))
    code, report = _verify(trail, capsys)
    assert code == 1
    replayed = [f for f in report["findings"] if f["seq"] == 3]
    assert {f["kind"] for f in replayed} >= {"misplaced_block"}


def test_block_signed_by_a_key_not_in_the_manifest(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    key = trail.key(REQUESTS, 2)
    block = _block(trail, key)
    intruder = FileSigner.generate("intruder")
    header = dataclasses.replace(block.header, key_id=intruder.key_id)
    _rewrite(
        trail,
        key,
        dataclasses.replace(
            block, header=header, signature=intruder.sign(header.signing_payload())
        ),
    )
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "unknown_key" in _kinds(report)


def test_manifest_edited_to_add_a_key(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    intruder = FileSigner.generate("intruder")
    path = trail.root / manifest_key(PREFIX, 0)
    genuine = KeyManifest.parse(path.read_bytes())
    edited = KeyManifest(0, (*genuine.entries, KeyValidity(intruder.verifier, 0)))
    path.write_bytes(edited.sign([intruder]))
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "bad_key_manifest" in _kinds(report)


def test_tail_truncated(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    (trail.root / trail.key(REQUESTS, 2)).unlink()
    code, report = _verify(trail, capsys)
    assert code == 1
    truncated = [f for f in report["findings"] if f["kind"] == "tail_truncated"]
    assert truncated and "covers 3 blocks, the chain has 2" in truncated[0]["detail"]


def test_checkpoint_older_than_the_freshness_limit(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file()),
                 "--json", "--max-checkpoint-age", "60"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert _kinds(report) == {"stale_checkpoint"}


def test_checkpoint_from_a_forked_history(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    chain = trail.chain(REQUESTS)
    forked = signed_checkpoint(ORIGIN, chain, 2, bytes(32), trail.signer, time_ms=NOW_MS + 1)
    (trail.root / checkpoint_key(PREFIX, chain, NOW_MS + 1)).write_bytes(forked)
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "checkpoint_mismatch" in _kinds(report)


def test_block_copied_to_another_key(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    target = trail.root / trail.key(DECISIONS, 0)
    target.write_bytes((trail.root / trail.key(REQUESTS, 0)).read_bytes())
    code, report = _verify(trail, capsys)
    assert code == 1
    misplaced = [f for f in report["findings"] if f["kind"] == "misplaced_block"]
    assert misplaced and misplaced[0]["key"] == trail.key(DECISIONS, 0)


def test_source_seq_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sent = [request(n) for n in range(9) if n != 4]  # event 4 never reached Kafka
    trail = build_trail(tmp_path / "bucket", requests=sent)
    code, report = _verify(trail, capsys)
    assert code == 1
    gaps = [f for f in report["findings"] if f["kind"] == "source_seq_gap"]
    assert gaps and "1 events never reached Kafka (first missing seq 4)" in gaps[0]["detail"]


def test_source_seq_gap_at_the_start_counts_every_missing_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Seqs 3..11 but 6: seqs 0, 1, 2 and 6 never reached Kafka.
    sent = [request(n, seq=n + 3) for n in range(9) if n != 3]
    trail = build_trail(tmp_path / "bucket", requests=sent)
    code, report = _verify(trail, capsys)
    assert code == 1
    [gap] = [f for f in report["findings"] if f["kind"] == "source_seq_gap"]
    assert "4 events never reached Kafka (first missing seq 0)" in gap["detail"]


def test_request_with_no_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sent = [request(n) for n in range(9)] + [request(9)]
    trail = build_trail(tmp_path / "bucket", requests=sent)
    code, report = _verify(trail, capsys)
    assert code == 1
    orphans = [f for f in report["findings"] if f["kind"] == "request_without_decision"]
    assert [f["detail"] for f in orphans] == [
        f"request {request(9).event_id} has no sealed decision"
    ]


def test_unreadable_source_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "--local", str(tmp_path / "nowhere")])
    assert code == 2
    assert "is not a directory" in capsys.readouterr().err


def test_request_decided_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    from riskseal.block import ChainId, block_key
    from tests.unit.audit.trail import decision, seal_events

    trail = build_trail(tmp_path / "bucket")
    # A second decisions partition holds a different decision on request 3, under the same
    # source stamp as the first one.
    other = dataclasses.replace(decision(3), event_id="00000000-0000-4000-9000-999999999999")
    seal_events(trail.store, trail.signer, DECISIONS, [CODEC.encode_event(other)], [1], partition=1)
    trail.write()
    assert trail.store.exists(block_key(PREFIX, ChainId("cluster-1", DECISIONS, 1), 0))
    code, report = _verify(trail, capsys)
    assert code == 1
    assert {f["kind"] for f in report["findings"]} == {"duplicate_decision", "source_seq_duplicate"}


def test_a_decision_redelivered_identically_is_a_note_not_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.audit.trail import decision, seal_events

    trail = build_trail(tmp_path / "bucket")
    # At-least-once: the same decision (same event id and stamp) sealed a second time.
    seal_events(
        trail.store, trail.signer, DECISIONS, [CODEC.encode_event(decision(3))], [1], partition=1
    )
    trail.write()
    code, report = _verify(trail, capsys)
    assert code == 0, report["findings"]
    assert any("sealed more than once, identical" in note for note in report["notes"])


# --- checkpoints: their time is the signed one ----------------------------------------------
def _checkpoint_path(trail: Trail, topic: str, when: int) -> Path:
    return trail.root / checkpoint_key(PREFIX, trail.chain(topic), when)


def test_old_checkpoint_copied_under_a_future_key_is_misplaced_and_stale(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    genuine = _checkpoint_path(trail, REQUESTS, NOW_MS)
    _checkpoint_path(trail, REQUESTS, 999_999_999_999_999).write_bytes(genuine.read_bytes())
    code, report = _verify(trail, capsys, "--max-checkpoint-age", "3600")
    assert code == 1
    requests = [f for f in report["findings"] if f["chain"] == str(trail.chain(REQUESTS))]
    assert {f["kind"] for f in requests} == {"misplaced_checkpoint", "stale_checkpoint"}


def test_truncation_hidden_behind_an_older_checkpoint_under_a_future_key(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    chain, earlier = trail.chain(REQUESTS), NOW_MS - 1  # (the key is valid from NOW_MS - 1)
    root = CompactRange()
    for seq in range(2):
        root.append(_block(trail, trail.key(REQUESTS, seq)).header.chain_leaf_hash())
    older = signed_checkpoint(ORIGIN, chain, 2, root.root(), trail.signer, time_ms=earlier)
    _checkpoint_path(trail, REQUESTS, earlier).write_bytes(older)
    (trail.root / trail.key(REQUESTS, 2)).unlink()  # the newest block, and its checkpoint
    _checkpoint_path(trail, REQUESTS, NOW_MS).unlink()
    _checkpoint_path(trail, REQUESTS, 999_999_999_999_999).write_bytes(older)
    code, report = _verify(trail, capsys, "--max-checkpoint-age", "3600")
    assert code == 1
    assert {"misplaced_checkpoint", "stale_checkpoint"} <= _kinds(report)


def test_checkpoint_without_a_signed_time_is_bad(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _checkpoint_path(trail, REQUESTS, NOW_MS)
    checkpoint = Checkpoint.parse(SignedNote.parse(path.read_bytes()).text)
    untimed = dataclasses.replace(checkpoint, extensions=())
    path.write_bytes(sign_note(untimed.text(), [trail.signer]).to_bytes())
    code, report = _verify(trail, capsys)
    assert code == 1
    assert _kinds(report) == {"bad_checkpoint"}
    assert "time" in report["findings"][0]["detail"]


def test_checkpoint_signed_in_the_future_is_a_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    chain, later = trail.chain(REQUESTS), time.time_ns() // 1_000_000 + 86_400_000
    note = signed_checkpoint(
        ORIGIN, chain, 3, bytes(32), trail.signer, time_ms=later
    )  # (its root does not matter)
    _checkpoint_path(trail, REQUESTS, later).write_bytes(note)
    code, report = _verify(trail, capsys)
    assert code == 1
    assert "future_checkpoint" in _kinds(report)


# --- key manifest versions --------------------------------------------------------------------
def _manifest(trail: Trail, version: int) -> KeyManifest:
    return KeyManifest.parse((trail.root / manifest_key(PREFIX, version)).read_bytes())


def _publish(trail: Trail, manifest: KeyManifest, signers: list[FileSigner]) -> None:
    (trail.root / manifest_key(PREFIX, manifest.version)).write_bytes(manifest.sign(signers))


def _retire(trail: Trail) -> FileSigner:
    """A genuine rotation: the trail's key retired just before every block was sealed."""
    successor = FileSigner.generate("successor")
    _publish(trail, rotated(_manifest(trail, 0), trail.signer, successor, NOW_MS - 1),
             [trail.signer, successor])  # fmt: skip
    return successor


def test_block_signed_after_its_key_was_retired_is_unknown_key(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _retire(trail)
    code, report = _verify(trail, capsys)
    assert code == 1
    # Its checkpoints too: signed by the same key, after it was retired.
    assert _kinds(report) == {"unknown_key", "bad_checkpoint"}
    blocks = [f for f in report["findings"] if f["kind"] == "unknown_key"]
    assert all("was not valid at" in finding["detail"] for finding in blocks)
    checkpoints = [f for f in report["findings"] if f["kind"] == "bad_checkpoint"]
    assert all("not valid at its signed time" in finding["detail"] for finding in checkpoints)


def test_retired_key_cannot_reopen_itself_in_a_new_manifest_version(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _retire(trail)
    _publish(trail, KeyManifest(2, (KeyValidity(trail.signer.verifier, 0),)), [trail.signer])
    code, report = _verify(trail, capsys)
    assert code == 1
    bad = [f for f in report["findings"] if f["kind"] == "bad_key_manifest"]
    assert [f["key"] for f in bad] == [manifest_key(PREFIX, 2)]
    assert "retired key" in bad[0]["detail"]
    assert "unknown_key" in _kinds(report)  # version 2 is not used


def test_retired_key_cannot_add_a_key_in_a_new_manifest_version(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _retire(trail)
    intruder = FileSigner.generate("intruder")
    added = KeyManifest(2, (*_manifest(trail, 1).entries, KeyValidity(intruder.verifier, 0)))
    _publish(trail, added, [trail.signer, intruder])
    code, report = _verify(trail, capsys)
    assert code == 1
    bad = [f for f in report["findings"] if f["kind"] == "bad_key_manifest"]
    assert [f["key"] for f in bad] == [manifest_key(PREFIX, 2)]


def test_a_key_cannot_extend_its_own_validity(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    backdated = KeyManifest(1, (KeyValidity(trail.signer.verifier, 0),))  # from 0, not NOW-1
    _publish(trail, backdated, [trail.signer])
    code, report = _verify(trail, capsys)
    assert code == 1
    bad = [f for f in report["findings"] if f["kind"] == "bad_key_manifest"]
    assert len(bad) == 1 and "no signature but its own" in bad[0]["detail"]


def test_rotations_signed_by_valid_keys_are_followed(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    later, successor = NOW_MS + 10**9, FileSigner.generate("successor")
    _publish(trail, rotated(_manifest(trail, 0), trail.signer, successor, later),
             [trail.signer, successor])  # fmt: skip
    third = FileSigner.generate("third")
    _publish(trail, rotated(_manifest(trail, 1), successor, third, later + 1), [successor, third])
    # another valid key may reopen a retired one (here the trail's own key, for its blocks)
    reopened = KeyManifest(
        3, (KeyValidity(trail.signer.verifier, 0), *_manifest(trail, 2).entries[1:])
    )
    _publish(trail, reopened, [third])
    code, report = _verify(trail, capsys)
    assert code == 0, report["findings"]


# --- cross-chain checks, header fields ----------------------------------------------------------
@pytest.mark.parametrize("topic", [REQUESTS, DECISIONS])
def test_one_chain_skips_the_cross_chain_event_checks_and_says_so(
    trail: Trail, capsys: pytest.CaptureFixture[str], topic: str
) -> None:
    code, report = _verify(trail, capsys, "--chain", str(trail.chain(topic)))
    assert code == 0, report["findings"]
    assert any("event checks" in note and "--chain" in note for note in report["notes"])


def _resign(trail: Trail, key: str, **changes: object) -> None:
    block = _block(trail, key)
    header = dataclasses.replace(block.header, **changes)  # type: ignore[arg-type]
    _rewrite(trail, key, dataclasses.replace(
        block, header=header, signature=trail.signer.sign(header.signing_payload())
    ))  # fmt: skip


def test_block_of_another_log_signed_with_the_real_key_is_misplaced(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _resign(trail, trail.key(REQUESTS, 2), origin="other.example/audit")
    code, report = _verify(trail, capsys)
    assert code == 1
    assert any(f["kind"] == "misplaced_block" and f["seq"] == 2 for f in report["findings"])


def test_block_without_records_signed_with_the_real_key_is_a_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    from riskseal.block import records_root

    key = trail.key(REQUESTS, 2)
    block = _block(trail, key)
    header = dataclasses.replace(
        block.header, last_offset=block.header.first_offset - 1, record_count=0,
        records_root=records_root(()),
    )  # fmt: skip
    signature = trail.signer.sign(header.signing_payload())
    _rewrite(trail, key, Block(header, signature, (), block.frontier_before))
    code, report = _verify(trail, capsys)
    assert code == 1
    assert any(f["kind"] == "record_out_of_range" and f["seq"] == 2 for f in report["findings"])


def test_stored_frontier_that_is_not_the_chains_is_a_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # The frontier is not signed, but a sealer resumes the chain from its head's frontier.
    key = trail.key(REQUESTS, 2)
    block = _block(trail, key)
    junk = tuple(bytes([0xEE]) * 32 for _ in block.frontier_before)
    _rewrite(trail, key, Block(block.header, block.signature, block.record_bytes, junk))
    code, report = _verify(trail, capsys)
    assert code == 1
    assert [(f["kind"], f["seq"]) for f in report["findings"]] == [("chain_root_mismatch", 2)]


def test_an_internal_error_is_exit_2_never_a_verdict(
    trail: Trail, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("riskseal.audit.verify.Verifier.run", broken)
    code = main(["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file())])
    assert code == 2
    assert "internal error (RuntimeError)" in capsys.readouterr().err


def test_chain_names_are_never_read_as_markup(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # Chain names come from object keys, which whoever can write to the bucket chooses.
    source = trail.root / trail.key(REQUESTS, 0)
    copy = trail.root / trail.key(REQUESTS, 0).replace(f"/{CLUSTER}/", "/[b]c/")
    copy.parent.mkdir(parents=True)
    shutil.copyfile(source, copy)
    main(["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file()), *FRESH])
    assert f"[b]c/{REQUESTS}/0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option", [["--max-checkpoint-age", "nan"], ["--max-checkpoint-age", "-1"],
               ["--max-checkpoint-age", "inf"], ["--min-retention-days", "0"]],
)  # fmt: skip
def test_a_threshold_that_would_switch_a_check_off_is_a_usage_error(
    trail: Trail, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    args = ["verify", "--local", str(trail.root), "--trust", str(trail.vkey_file()), *option]
    assert main(args) == 2


def test_block_dated_before_the_one_it_follows_is_time_reversed(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # Back-dating is how a retired key would sign a block inside its old validity.
    _resign(trail, trail.key(REQUESTS, 2), created_ms=NOW_MS - CLOCK_SKEW_MS - 1)
    code, report = _verify(trail, capsys)
    assert code == 1
    assert ("time_reversed", 2) in {(f["kind"], f["seq"]) for f in report["findings"]}


def test_block_dated_within_clock_skew_before_the_one_it_follows_is_not_reversed(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two sealers' clocks may disagree a little (trails sealed before blocks took the date
    # of the one they follow have such steps back).
    _resign(trail, trail.key(REQUESTS, 1), created_ms=NOW_MS + CLOCK_SKEW_MS)
    _, report = _verify(trail, capsys)
    assert "time_reversed" not in _kinds(report)


# --- back-dating onto an idle chain -----------------------------------------------------------
def _retire_later(trail: Trail) -> FileSigner:
    """A genuine rotation at RETIRED_MS, and the successor's checkpoint of the requests chain
    an hour later: the chain has been idle since its three blocks."""
    successor = rotate(trail)
    head = recover_head(
        trail.store, PREFIX, trail.chain(REQUESTS), PublicKeys([trail.signer.verifier])
    )
    later = RETIRED_MS + HOUR_MS
    note = signed_checkpoint(
        ORIGIN, trail.chain(REQUESTS), 3, head.tree.root(), successor, time_ms=later
    )
    _checkpoint_path(trail, REQUESTS, later).write_bytes(note)
    return successor


def _append_request(trail: Trail, signer: FileSigner, created_ms: int) -> None:
    """Block 3 of the requests chain (:func:`next_request_block`), written."""
    _, block = next_request_block(trail, signer, created_ms)
    _rewrite(trail, block.header.object_key, block)


def test_retired_key_back_dating_a_block_onto_an_idle_chain_is_dated_before_checkpoint(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # The holder of the retired key dates a forged block inside its validity, after the
    # chain's last block: the signature, the key's validity, the link and the offsets hold.
    # The successor's checkpoint proves the chain still had three blocks after the retirement.
    _retire_later(trail)
    _append_request(trail, trail.signer, created_ms=NOW_MS + HOUR_MS // 2)
    code, report = _verify(trail, capsys)
    assert code == 1
    dated = [f for f in report["findings"] if f["kind"] == "dated_before_checkpoint"]
    assert [(f["seq"], f["key"]) for f in dated] == [(3, trail.key(REQUESTS, 3))]
    assert "size 3" in dated[0]["detail"]
    # Nothing else about the block gives it away; the forged request lacks its decision.
    assert _kinds(report) == {"dated_before_checkpoint", "request_without_decision"}


def test_block_after_a_checkpoint_dated_within_clock_skew_before_it_is_accepted(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # Another sealer taking over the chain may run a clock a little behind.
    successor = _retire_later(trail)
    _append_request(trail, successor, created_ms=RETIRED_MS + HOUR_MS - CLOCK_SKEW_MS)
    _, report = _verify(trail, capsys)
    assert _kinds(report) == {"request_without_decision"}


def test_block_stored_after_a_checkpoint_under_a_key_still_valid_is_no_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    # No rotation: a block signed before a checkpoint and stored after it (a PUT retried
    # while the chain changed hands) gains nothing from its date.
    later = NOW_MS + 2 * HOUR_MS
    head = recover_head(
        trail.store, PREFIX, trail.chain(REQUESTS), PublicKeys([trail.signer.verifier])
    )
    note = signed_checkpoint(
        ORIGIN, trail.chain(REQUESTS), 3, head.tree.root(), trail.signer, time_ms=later
    )
    _checkpoint_path(trail, REQUESTS, later).write_bytes(note)
    _append_request(trail, trail.signer, created_ms=NOW_MS + HOUR_MS // 2)
    _, report = _verify(trail, capsys)
    assert _kinds(report) == {"request_without_decision"}


def test_block_dated_before_a_checkpoint_is_found_in_a_range_too(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _retire_later(trail)
    _append_request(trail, trail.signer, created_ms=NOW_MS + HOUR_MS // 2)
    code, report = _verify(trail, capsys, "--chain", str(trail.chain(REQUESTS)), "--from", "3")
    assert code == 1
    assert _kinds(report) == {"dated_before_checkpoint"}
