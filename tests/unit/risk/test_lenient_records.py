"""Fetched batches with header names that are not UTF-8: read, not raised (lenient_records)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy
from aiokafka.record.memory_records import MemoryRecords
from hypothesis import given, settings
from hypothesis import strategies as st

from riskseal.risk import lenient_records
from riskseal.risk.lenient_records import LenientRecords
from tests.integration.raw_headers import RawName

STRICT_READ_ERRORS = (UnicodeDecodeError, CorruptRecordException)
"""What aiokafka's reader raises on such a name: compiled, the decoding error; pure Python
(AIOKAFKA_NO_EXTENSIONS=1), that error wrapped."""

Header = tuple[bytes, bytes | None]
Record = tuple[bytes | None, bytes | None, list[Header]]


def batch(records: list[Record], base_offset: int = 0, compression: int = 0) -> bytes:
    """One v2 record batch, header names written as the given bytes."""
    builder = _DefaultRecordBatchBuilderPy(
        magic=2, compression_type=compression, is_transactional=0,
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=10**7,
    )  # fmt: skip
    for index, (key, value, headers) in enumerate(records):
        named = [(RawName(name), header_value) for name, header_value in headers]
        assert builder.append(index, 1_800_000_000_000 + index, key, value, named) is not None
    built = builder.build()
    built[0:8] = base_offset.to_bytes(8, "big")
    return bytes(built)


def read_all(data: bytes, records: Any = LenientRecords) -> list[tuple[Any, ...]]:
    out = []
    fetched = records(data)
    while fetched.has_next():
        for record in fetched.next_batch():
            out.append((record.offset, record.timestamp, record.key, record.value, record.headers))
    return out


def expected(records: list[Record], base_offset: int = 0) -> list[tuple[Any, ...]]:
    return [
        (
            base_offset + index, 1_800_000_000_000 + index, key, value,
            [(name.decode("utf-8", "surrogateescape"), v) for name, v in headers],
        )
        for index, (key, value, headers) in enumerate(records)
    ]  # fmt: skip


def test_a_name_that_is_not_utf8_stops_aiokafkas_reader_and_not_this_one() -> None:
    records: list[Record] = [
        (b"k0", b"v0", [(b"ok", b"1")]),
        (b"k1", b"v1", [(b"bad\xffname", b"2"), (b"good", None)]),
        (b"k2", None, []),
    ]
    data = batch(records, base_offset=40)
    with pytest.raises(STRICT_READ_ERRORS):
        read_all(data, MemoryRecords)
    got = read_all(data)
    assert got == expected(records, base_offset=40)
    assert got[1][4][0][0].encode("utf-8", "surrogateescape") == b"bad\xffname"


def test_batches_after_a_lenient_one_are_read_as_usual() -> None:
    first: list[Record] = [(b"k", b"v", [(b"\xc3", b"x")])]
    second: list[Record] = [(b"a", b"b", [(b"fine", b"y")]), (None, b"c", [])]
    data = batch(first, base_offset=0) + batch(second, base_offset=1)
    assert read_all(data) == expected(first) + expected(second, base_offset=1)


def test_a_compressed_batch_falls_back_too() -> None:
    records: list[Record] = [(b"k", b"v" * 50, [])] * 3 + [(b"k", b"w", [(b"\xfe", b"z")])]
    data = batch(records, compression=1)  # gzip
    assert read_all(data) == expected(records)


@pytest.mark.parametrize("extensions", [True, False])
def test_both_aiokafka_readers_fall_back(extensions: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiokafka.record import default_records, memory_records

    if not extensions:
        monkeypatch.setattr(
            memory_records, "DefaultRecordBatch", default_records._DefaultRecordBatchPy
        )
        monkeypatch.setattr(lenient_records, "MemoryRecords", memory_records._MemoryRecordsPy)
    records: list[Record] = [(b"k", b"v", [(b"ok", b"1")]), (b"k", b"w", [(b"\xff", b"2")])]
    assert read_all(batch(records)) == expected(records)


names = st.binary(max_size=6)
records_strategy = st.lists(
    st.tuples(
        st.none() | st.binary(max_size=8),
        st.none() | st.binary(max_size=8),
        st.lists(st.tuples(names, st.none() | st.binary(max_size=4)), max_size=3),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(records_strategy, min_size=1, max_size=3))
def test_every_batch_reads_as_written_and_as_aiokafka_reads_it_when_it_can(
    batches: list[list[Record]],
) -> None:
    data, want, offset = b"", [], 0
    for records in batches:
        data += batch(records, base_offset=offset)
        want += expected(records, base_offset=offset)
        offset += len(records)
    assert read_all(data) == want
    try:
        strict = read_all(data, MemoryRecords)
    except STRICT_READ_ERRORS:
        return
    assert strict == want
