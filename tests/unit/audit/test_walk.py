"""Walking a chain: a clean chain verifies; each kind of damage names its block and check."""

from __future__ import annotations

import pytest

from riskseal.audit.walk import verify_chain
from riskseal.block import block_key
from riskseal.errors import IntegrityError
from riskseal.keys import FileSigner, PublicKeys
from riskseal.sealer.store import MemoryBlockStore
from tests.unit.sealer.helpers import CHAIN, PREFIX, chain_of


def _chain() -> tuple[MemoryBlockStore, PublicKeys]:
    store, signer = MemoryBlockStore(), FileSigner.generate("s")
    chain_of(store, signer, [3, 2, 4, 1])
    return store, PublicKeys([signer.verifier])


def test_clean_chain_verifies_and_is_summarised() -> None:
    store, keys = _chain()
    summary = verify_chain(store, PREFIX, CHAIN, keys)
    assert (summary.blocks, summary.records, summary.first_offset, summary.last_offset) == (
        4,
        10,
        0,
        9,
    )


def test_missing_middle_block_is_a_gap() -> None:
    store, keys = _chain()
    del store.objects[block_key(PREFIX, CHAIN, 1)]
    with pytest.raises(IntegrityError, match="seq 1"):
        verify_chain(store, PREFIX, CHAIN, keys)


def test_reordered_blocks_are_detected() -> None:
    store, keys = _chain()
    one, two = block_key(PREFIX, CHAIN, 1), block_key(PREFIX, CHAIN, 2)
    store.objects[one], store.objects[two] = store.objects[two], store.objects[one]
    with pytest.raises(IntegrityError, match=f"block {one}: header says it belongs at {two}"):
        verify_chain(store, PREFIX, CHAIN, keys)


def test_flipped_byte_in_a_record_is_detected() -> None:
    store, keys = _chain()
    key = block_key(PREFIX, CHAIN, 2)
    from riskseal.block import Block

    block = Block.from_bytes(store.objects[key])
    forged = bytearray(block.record_bytes[0])
    forged[-3] ^= 0x01
    import dataclasses

    tampered = dataclasses.replace(block, record_bytes=(bytes(forged), *block.record_bytes[1:]))
    store.objects[key] = tampered.to_bytes()
    with pytest.raises(IntegrityError, match="records do not match the signed Merkle root"):
        verify_chain(store, PREFIX, CHAIN, keys)


def test_block_signed_by_an_untrusted_key_is_detected() -> None:
    store, _ = _chain()
    with pytest.raises(IntegrityError, match="unknown key"):
        verify_chain(store, PREFIX, CHAIN, PublicKeys([FileSigner.generate("x").verifier]))
