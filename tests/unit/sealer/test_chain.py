"""Chains in memory: appending, resuming from the head, lost races, refusing a bad head."""

from __future__ import annotations

import dataclasses

import pytest

from riskseal.block import CLOCK_SKEW_MS, Block, block_key
from riskseal.errors import BlockExistsError, ChainHeadError, SigningKeyError
from riskseal.keys import FileSigner, PublicKeys
from riskseal.manifest import first_manifest, rotated
from riskseal.merkle import root
from riskseal.sealer import chain
from riskseal.sealer.chain import ChainWriter, find_head_seq, latest_index, recover_head
from riskseal.sealer.store import MemoryBlockStore
from tests.unit.sealer.helpers import CHAIN, ORIGIN, PREFIX, chain_of, records


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 8, 9, 100, 1000])
def test_latest_index_finds_the_last_of_dense_indexes(count: int) -> None:
    probes: list[int] = []

    def exists(index: int) -> bool:
        probes.append(index)
        return index < count

    assert latest_index(exists) == (count - 1 if count else None)
    assert len(probes) <= 2 * max(count, 1).bit_length() + 2  # logarithmic


def test_blocks_link_and_commit_to_the_chain_tree() -> None:
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    chain_of(store, signer, [3, 1, 4, 1, 5])
    blocks = [Block.from_bytes(store.objects[block_key(PREFIX, CHAIN, s)]) for s in range(5)]
    leaves = [b.header.chain_leaf_hash() for b in blocks]
    for seq, block in enumerate(blocks):
        assert block.header.seq == seq
        assert block.header.chain_size_before == seq
        assert block.header.chain_root_before == root(leaves[:seq])
        if seq:
            assert block.header.prev_header_hash == blocks[seq - 1].header.header_hash()
            assert block.header.first_offset == blocks[seq - 1].header.last_offset + 1
    assert blocks[0].header.first_offset == 0
    assert blocks[-1].header.last_offset == 13


def test_recovered_head_continues_where_the_chain_ends() -> None:
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    writer = chain_of(store, signer, [2, 2, 2])
    head = recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))
    assert head.next_seq == writer.head.next_seq == 3
    assert head.next_offset == 6
    assert head.prev_header_hash == writer.head.prev_header_hash
    assert head.tree.root() == writer.head.tree.root()


def test_empty_chain_starts_anywhere() -> None:
    head = recover_head(MemoryBlockStore(), PREFIX, CHAIN, PublicKeys([]))
    assert (head.next_seq, head.next_offset, head.tree.size) == (0, None, 0)


def test_second_writer_loses_the_race_and_nothing_forks() -> None:
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    first = chain_of(store, signer, [2])
    second = ChainWriter(first.head, store, signer, PREFIX, ORIGIN)
    first.append(first.build(records(2, 3)))
    with pytest.raises(BlockExistsError):
        second.append(second.build(records(2, 5)))
    assert find_head_seq(store, PREFIX, CHAIN) == 1
    stored = Block.from_bytes(store.objects[block_key(PREFIX, CHAIN, 1)])
    assert stored.header.last_offset == 4


def test_records_must_continue_the_chain() -> None:
    writer = chain_of(MemoryBlockStore(), FileSigner.generate("s"), [2])
    with pytest.raises(ValueError, match="continues at offset 2"):
        writer.build(records(3, 1))


def _tamper_head(store: MemoryBlockStore, change: str) -> None:
    key = block_key(PREFIX, CHAIN, 1)
    block = Block.from_bytes(store.objects[key])
    if change == "garbage":  # a head that does not even parse
        store.objects[key] = b"garbage"
        return
    if change == "signature":
        block = dataclasses.replace(block, signature=bytes(64))
    elif change == "record":
        changed = dataclasses.replace(block.records()[0], value=b"forged").canonical_bytes()
        block = dataclasses.replace(block, record_bytes=(changed, *block.record_bytes[1:]))
    elif change == "frontier":
        block = dataclasses.replace(block, frontier_before=(bytes(32),))
    store.objects[key] = block.to_bytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("garbage", "not an Avro"),
        ("signature", "does not verify"),
        ("record", "records do not match the signed Merkle root"),
        ("frontier", "frontier does not match"),
    ],
)
def test_a_head_that_fails_verification_stops_the_chain(change: str, message: str) -> None:
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    chain_of(store, signer, [2, 2])
    _tamper_head(store, change)
    with pytest.raises(ChainHeadError, match=message):
        recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))


def test_a_head_signed_by_an_unknown_key_stops_the_chain() -> None:
    store = MemoryBlockStore()
    chain_of(store, FileSigner.generate("s"), [2])
    with pytest.raises(ChainHeadError, match="unknown key"):
        recover_head(store, PREFIX, CHAIN, PublicKeys([FileSigner.generate("x").verifier]))


def test_a_block_copied_to_another_key_is_refused_as_head() -> None:
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    chain_of(store, signer, [2])
    store.objects[block_key(PREFIX, CHAIN, 1)] = store.objects[block_key(PREFIX, CHAIN, 0)]
    with pytest.raises(ChainHeadError, match="belongs at"):
        recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))


def test_a_deleted_block_stops_the_chain_instead_of_forking_it_below() -> None:
    # A delete marker hides block 3 (its locked version stays): a head search that took it
    # for missing would write a second block 3 beside it.
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    chain_of(store, signer, [1] * 11)
    store.deleted.add(block_key(PREFIX, CHAIN, 3))
    with pytest.raises(ChainHeadError, match="was deleted"):
        recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))


T0 = 1_790_000_000_000


def test_a_block_is_never_dated_before_the_one_it_follows() -> None:
    # Another sealer's clock may be behind the one that wrote the head.
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    chain_of(store, signer, [2])  # dated T0
    head = recover_head(store, PREFIX, CHAIN, PublicKeys([signer.verifier]))
    behind = ChainWriter(head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: T0 - 60_000)
    block = behind.build(records(2, 2))
    behind.append(block)
    assert block.header.created_ms == T0
    assert behind.build(records(4, 1)).header.created_ms == T0


def test_a_retired_key_signs_nothing_more() -> None:
    store, old, new = MemoryBlockStore(), FileSigner.generate("old"), FileSigner.generate("new")
    manifest = rotated(first_manifest(old, T0 - 1), old, new, T0 + 1_000)
    writer = chain_of(store, old, [1])  # at T0, while the old key was valid
    writer.may_sign = manifest.may_sign
    writer.clock_ms = lambda: T0 + 1_000
    with pytest.raises(SigningKeyError, match="start the sealer with the key that took over"):
        writer.build(records(1, 1))
    writer.check_key(T0)  # still valid before the rotation


@pytest.mark.parametrize(("slow_after_s", "dated"), [(0.0, T0 + 2), (3600.0, T0 + 1)])
def test_a_block_whose_key_check_was_slow_is_dated_after_it(
    monkeypatch: pytest.MonkeyPatch, slow_after_s: float, dated: int
) -> None:
    # The check may read the key manifest from S3, for as long as that takes: the block's
    # date must stay close to its signature (a check as slow as slow_after_s is "slow").
    monkeypatch.setattr(chain, "REDATE_AFTER_CHECK_S", slow_after_s)
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    writer = chain_of(store, signer, [1])  # dated T0
    clock = iter([T0 + 1, T0 + 2])
    writer.clock_ms = lambda: next(clock)
    checked: list[int] = []

    def may_sign(key_id: str, time_ms: int) -> bool:
        checked.append(time_ms)
        return True

    writer.may_sign = may_sign
    block = writer.build(records(1, 1))
    assert block.header.created_ms == dated
    assert checked[-1] == dated  # the date signed is the date checked


@pytest.mark.parametrize(
    ("retired_ms_before", "resumed"), [(1_000, True), (CLOCK_SKEW_MS + 1, False)]
)
def test_a_head_signed_by_a_retired_key_after_its_retirement_stops_the_chain(
    retired_ms_before: int, resumed: bool
) -> None:
    # Whoever holds a retired key must not get a block of theirs continued by the sealer;
    # a head dated within clock skew of the rotation is the old sealer's own.
    store, old, new = MemoryBlockStore(), FileSigner.generate("old"), FileSigner.generate("new")
    manifest = rotated(first_manifest(old, T0 - 3_600_000), old, new, T0 - retired_ms_before)
    chain_of(store, old, [1])  # dated T0
    if resumed:
        recover_head(store, PREFIX, CHAIN, manifest.public_keys(), manifest.may_sign)
        return
    with pytest.raises(ChainHeadError, match="was not valid at"):
        recover_head(store, PREFIX, CHAIN, manifest.public_keys(), manifest.may_sign)


def test_a_head_dated_far_ahead_of_this_clock_stops_the_chain() -> None:
    # The next blocks would take its date, and be locked from it.
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    chain_of(store, signer, [1])  # dated T0
    keys = PublicKeys([signer.verifier])
    recover_head(store, PREFIX, CHAIN, keys, now_ms=T0 - CLOCK_SKEW_MS)
    with pytest.raises(ChainHeadError, match="ahead of this sealer's clock"):
        recover_head(store, PREFIX, CHAIN, keys, now_ms=T0 - CLOCK_SKEW_MS - 1)
