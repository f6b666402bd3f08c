"""Signed checkpoints of a chain: C2SP tlog-checkpoint bodies in C2SP signed notes."""

from __future__ import annotations

from riskseal.block import ChainId
from riskseal.keys import Signer
from riskseal.note import Checkpoint, sign_note


def chain_origin(log_origin: str, chain: ChainId) -> str:
    """The checkpoint origin of a chain: ``<log origin>/<cluster id>/<topic>/<partition>``."""
    return f"{log_origin}/{chain}"


def signed_checkpoint(
    log_origin: str, chain: ChainId, size: int, root_hash: bytes, signer: Signer
) -> bytes:
    """The serialized signed note of a chain's checkpoint: ``size`` blocks, tree root."""
    checkpoint = Checkpoint(chain_origin(log_origin, chain), size, root_hash)
    return sign_note(checkpoint.text(), [signer]).to_bytes()
