"""A chain's checkpoint carries its signed time as its one extension line."""

from __future__ import annotations

import pytest

from riskseal.keys import FileSigner
from riskseal.note import Checkpoint, MalformedCheckpointError, open_checkpoint
from riskseal.sealer.checkpoint import chain_origin, checkpoint_time, signed_checkpoint
from tests.unit.sealer.helpers import CHAIN, ORIGIN

ROOT = bytes(range(32))


def test_the_signed_checkpoint_names_its_time() -> None:
    signer = FileSigner.generate("t")
    data = signed_checkpoint(ORIGIN, CHAIN, 7, ROOT, signer, time_ms=1_790_000_000_123)
    checkpoint = open_checkpoint(data, chain_origin(ORIGIN, CHAIN), [signer.verifier])
    assert (checkpoint.size, checkpoint.root_hash) == (7, ROOT)
    assert checkpoint.extensions == ("time 1790000000123",)
    assert checkpoint_time(checkpoint) == 1_790_000_000_123


@pytest.mark.parametrize(
    "extensions",
    [
        (),
        ("time 1790000000123", "time 1790000000124"),
        ("time 1790000000123", "other"),
        ("time 01790000000123",),
        ("time -1",),
        ("time 1e12",),
        ("time  1790000000123",),
        ("time 1234567890123456",),
        ("time \u0661",),
        ("when 1790000000123",),
    ],
)
def test_a_checkpoint_without_exactly_one_well_formed_time_line_has_no_time(
    extensions: tuple[str, ...],
) -> None:
    with pytest.raises(MalformedCheckpointError):
        checkpoint_time(Checkpoint("o", 1, ROOT, extensions))
