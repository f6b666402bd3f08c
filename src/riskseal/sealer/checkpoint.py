"""Signed checkpoints of a chain: C2SP tlog-checkpoint bodies in C2SP signed notes.

Every riskseal checkpoint carries one extension line, ``time <ms since the epoch>``: when
the sealer wrote it. The time is signed with the rest of the body, so a verifier takes a
checkpoint's age from it, never from the (unsigned) object key, which must name the same
time (``checkpoint_key(prefix, chain, time)``).
"""

from __future__ import annotations

import re

from riskseal.block import ChainId
from riskseal.keys import Signer
from riskseal.note import Checkpoint, MalformedCheckpointError, sign_note

TIME_EXTENSION = "time"
"""The name of the checkpoint extension line holding the signed time."""

_TIME_LINE = re.compile(r"time (0|[1-9][0-9]{0,14})")
"""``time`` and a decimal of at most 15 digits without leading zeros (the key's width)."""


def chain_origin(log_origin: str, chain: ChainId) -> str:
    """The checkpoint origin of a chain: ``<log origin>/<cluster id>/<topic>/<partition>``."""
    return f"{log_origin}/{chain}"


def signed_checkpoint(
    log_origin: str, chain: ChainId, size: int, root_hash: bytes, signer: Signer, *, time_ms: int
) -> bytes:
    """The serialized signed note of a chain's checkpoint: ``size`` blocks, tree root, and
    ``time_ms``, the time it is written at (the time its object key names)."""
    checkpoint = Checkpoint(
        chain_origin(log_origin, chain), size, root_hash, (f"{TIME_EXTENSION} {time_ms}",)
    )
    return sign_note(checkpoint.text(), [signer]).to_bytes()


def checkpoint_time(checkpoint: Checkpoint) -> int:
    """The signed time of a riskseal checkpoint, ms since the epoch.

    MalformedCheckpointError unless its extension lines are exactly one ``time <ms>`` line.
    """
    if len(checkpoint.extensions) != 1:
        raise MalformedCheckpointError(
            f"checkpoint has {len(checkpoint.extensions)} extension lines, "
            "needs exactly one signed 'time <ms>' line"
        )
    match = _TIME_LINE.fullmatch(checkpoint.extensions[0])
    if match is None:
        raise MalformedCheckpointError(
            f"checkpoint extension {checkpoint.extensions[0][:40]!r} is not a signed "
            "'time <ms>' line"
        )
    return int(match.group(1))
