"""Values sliced where the scan found them (``ScannedBytes``) against values read one by one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal import blockread
from riskseal.block import Block, SealedRecord
from tests.unit.sealer.test_blockread import container, fast_scan

# One partition's records, as a chain holds them: the scan's common path, with now and then
# a null or empty value, a header or a flag (the general parser's path).
chain_records = st.lists(
    st.builds(
        SealedRecord,
        topic=st.just("access.requests"),
        partition=st.just(3),
        offset=st.integers(0, 2**40),
        timestamp=st.integers(-1, 2**42),
        timestamp_type=st.integers(0, 2),
        key=st.none() | st.binary(max_size=70),
        value=st.none() | st.binary(max_size=300),
        headers=st.lists(
            st.tuples(st.text(max_size=4), st.none() | st.binary(max_size=4)), max_size=1
        ).map(tuple),
        flag=st.none() | st.just("foreign"),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(chain_records, st.data())
def test_scanned_values_are_the_records_values(
    items: list[SealedRecord], data: st.DataObject
) -> None:
    encoded = [item.canonical_bytes() for item in items]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=2)))
    blocks = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]
    scanned = fast_scan(container(blocks))
    assert scanned is not None
    records = scanned.record_bytes
    assert isinstance(records, blockread.ScannedBytes)
    assert len(records.value_starts) == len(records)
    expected = [item.value for item in items]
    assert blockread.record_values(records) == expected
    assert blockread.record_values(tuple(records)) == expected  # record by record
    assert type(records[1:]) is tuple  # a slice no longer claims the scan's positions


def test_a_block_read_fast_hands_its_values_from_the_scan() -> None:
    items = [
        SealedRecord("t", 0, n, 5, 1, b"k", value, (), None)
        for n, value in enumerate([b"a", None, b"", b"bcd", b"e" * 200])
    ]
    blob = container([[item.canonical_bytes() for item in items]])
    block = Block.from_bytes(blob)
    assert isinstance(block.record_bytes, blockread.ScannedBytes)
    assert block.record_bytes.value_starts[0] == -1  # the general parser read the first one
    assert block.values() == (b"a", None, b"", b"bcd", b"e" * 200)
    assert block.values() == Block.from_bytes(blob, fast=False).values()
