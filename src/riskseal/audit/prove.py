"""Building a proof bundle for one sealed record, from the bucket or a local copy."""

from __future__ import annotations

import re
from dataclasses import dataclass

from riskseal.audit.event_checks import topic_event_types
from riskseal.audit.proof import ProofBundle
from riskseal.audit.sources import TrailSource
from riskseal.block import Block, ChainId, block_key, checkpoint_key
from riskseal.contract.codec import EventCodec
from riskseal.errors import ContractError, IntegrityError, InvalidBlockError, RiskSealError
from riskseal.merkle import inclusion_proof, leaf_hash
from riskseal.note import Checkpoint, NoteError, SignedNote
from riskseal.sealer.checkpoint import checkpoint_time

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class RecordNotFoundError(RiskSealError):
    """The record to prove is not in the trail (or no checkpoint covers it yet)."""


@dataclass(frozen=True, slots=True)
class Located:
    """Where a record is sealed."""

    chain: ChainId
    offset: int


def _blocks(source: TrailSource, prefix: str, chain: ChainId) -> list[Block]:
    folder = block_key(prefix, chain, 0).rsplit("/", 1)[0] + "/"
    keys = sorted({v.key for v in source.versions(folder) if not v.is_delete_marker})
    return [Block.from_bytes(source.read(key)) for key in keys]


def _chains(source: TrailSource, prefix: str, topics: tuple[str, ...]) -> list[ChainId]:
    chains = set()
    for version in source.versions(f"{prefix}/blocks/"):
        parts = version.key[len(prefix) + 1 :].split("/")
        if len(parts) == 5 and parts[2] in topics and _DECIMAL.fullmatch(parts[3]):
            chains.add(ChainId(parts[1], parts[2], int(parts[3])))
    return sorted(chains, key=str)


def find_event(source: TrailSource, prefix: str, topics: tuple[str, ...], event_id: str) -> Located:
    """The chain and offset of the sealed event ``event_id`` (a linear scan)."""
    codec = EventCodec()
    expected = topic_event_types(topics)
    needle = event_id.encode()
    for chain in _chains(source, prefix, topics):
        for block in _blocks(source, prefix, chain):
            for record in block.records():
                if record.value is None or needle not in record.value:
                    continue
                try:
                    decoded = codec.decode(record.value, expected.get(record.topic))
                except ContractError:
                    continue
                if decoded.record.get("event_id") == event_id:
                    return Located(chain, record.offset)
    raise RecordNotFoundError(f"event {event_id} is not in the sealed trail under {prefix}/")


def _latest_checkpoint(
    source: TrailSource, prefix: str, chain: ChainId
) -> tuple[bytes, Checkpoint]:
    """The newest checkpoint of ``chain`` stored where its signed time says (a checkpoint
    copied under a newer name is passed over), as its signed note and parsed body."""
    keys = sorted(
        {v.key for v in source.versions(f"{prefix}/checkpoints/{chain}/") if not v.is_delete_marker}
    )
    for key in reversed(keys):
        note = source.read(key)
        try:
            checkpoint = Checkpoint.parse(SignedNote.parse(note).text)
            if key == checkpoint_key(prefix, chain, checkpoint_time(checkpoint)):
                return note, checkpoint
        except (NoteError, IntegrityError):
            pass  # not a usable checkpoint: `riskseal verify` reports it
    if keys:
        raise RecordNotFoundError(
            f"none of the {len(keys)} checkpoints of chain {chain} is usable (malformed, or "
            "stored under another time than it was signed at); run `riskseal verify`"
        )
    raise RecordNotFoundError(f"no checkpoint of chain {chain} yet; try again shortly")


def build_bundle(source: TrailSource, prefix: str, located: Located) -> ProofBundle:
    """The proof bundle of the record at ``located``, against the chain's latest checkpoint."""
    chain, offset = located.chain, located.offset
    blocks = _blocks(source, prefix, chain)
    note, checkpoint = _latest_checkpoint(source, prefix, chain)
    for block in blocks[: checkpoint.size]:
        header = block.header
        if header.first_offset <= offset <= header.last_offset:
            index = offset - header.first_offset
            if index >= len(block.record_bytes) or block.offsets()[index] != offset:
                raise InvalidBlockError(
                    f"block {header.seq} of {chain} does not hold offset {offset} in its place; "
                    "run `riskseal verify` on this chain"
                )
            leaves = [leaf_hash(data) for data in block.record_bytes]
            chain_leaves = [b.header.chain_leaf_hash() for b in blocks[: checkpoint.size]]
            return ProofBundle(
                record_bytes=block.record_bytes[index],
                record_index=index,
                record_count=len(leaves),
                record_path=tuple(inclusion_proof(leaves, index)),
                header_bytes=header.canonical_bytes(),
                signature=block.signature,
                block_index=header.seq,
                chain_path=tuple(inclusion_proof(chain_leaves, header.seq)),
                checkpoint_note=note,
            )
    raise RecordNotFoundError(
        f"offset {offset} of {chain} is not in a block covered by the latest checkpoint "
        f"({checkpoint.size} blocks); try again after the next checkpoint"
    )
