"""Kafka records whose header names are not UTF-8, read instead of stopping the worker.

Kafka stores a header name as bytes, and a producer in another language may write any. aiokafka
decodes every name as strict UTF-8 while it reads a fetched batch, so one such record raised
out of every fetch of its partition: the worker's consumer crashed and restarted on the same
record, and no request of that partition was decided again.

:func:`install` makes the consumer's fetcher read batches through :class:`LenientRecords`:
aiokafka's own fast reader as before, and for a batch where it fails on a header name, a
reader of that batch that keeps the name's bytes as surrogate escapes
(``bytes.decode("utf-8", "surrogateescape")``). The record is then handled like any other;
only its header names differ from what a strict reader would give, and the value, which is
all the engine reads, is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import _DefaultRecordBatchPy, _DefaultRecordPy
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import decode_varint

_BATCH_LENGTH_END = 12
"""A batch starts with its base offset (8 bytes) and then its length (4 bytes, the bytes that
follow it)."""


class LenientRecords:
    """aiokafka's ``MemoryRecords`` over a fetched message set, whose batches fall back to
    :class:`LenientBatch` when a header name is not UTF-8."""

    def __init__(self, data: bytes) -> None:
        self._records = MemoryRecords(data)
        self._data = memoryview(data)
        self._position = 0

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def next_batch(self) -> Any:
        start = self._position
        batch = self._records.next_batch()
        if batch is None:
            return None
        length = int.from_bytes(self._data[start + 8 : start + _BATCH_LENGTH_END], "big")
        self._position = start + _BATCH_LENGTH_END + length
        if batch.magic < 2:
            return batch  # the old message formats have no headers
        return LenientBatch(batch, self._data[start : self._position])


class LenientBatch:
    """One record batch: aiokafka's reader, until it fails on a header name; then the rest of
    the batch through :class:`_SurrogateEscapingBatch`."""

    def __init__(self, batch: Any, data: memoryview) -> None:
        self._batch = batch
        self._data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __iter__(self) -> Iterator[Any]:
        read = 0
        try:
            for record in self._batch:
                yield record
                read += 1
        except (UnicodeDecodeError, CorruptRecordException) as exc:
            # aiokafka's pure-Python reader wraps the decoding error in a corrupt-record one
            if not isinstance(exc, UnicodeDecodeError) and not isinstance(
                exc.__cause__, UnicodeDecodeError
            ):
                raise
            yield from _SurrogateEscapingBatch(bytes(self._data)).after(read)

    def __next__(self) -> Any:
        # Only for a control batch, whose one record the fetcher reads with next().
        return next(self._batch)


class _SurrogateEscapingBatch(_DefaultRecordBatchPy):  # type: ignore[misc]
    """aiokafka's pure-Python batch reader, keeping a header name that is not UTF-8 as
    surrogate escapes instead of raising."""

    _buffer: bytearray
    _pos: int

    def after(self, count: int) -> Iterator[Any]:
        """The records of the batch after its first ``count``."""
        for index, record in enumerate(self):
            if index >= count:
                yield record

    def _read_msg(self, decode_varint: Any = decode_varint) -> Any:
        # The record layout of aiokafka's own ``_read_msg`` (Kafka's Record, message format
        # v2); only the decoding of a header name differs.
        buffer, pos = self._buffer, self._pos
        length, pos = decode_varint(buffer, pos)
        start = pos
        _, pos = decode_varint(buffer, pos)  # attributes: unused
        timestamp_delta, pos = decode_varint(buffer, pos)
        if self.timestamp_type == self.LOG_APPEND_TIME:
            timestamp = self.max_timestamp
        else:
            timestamp = self.first_timestamp + timestamp_delta
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _optional_bytes(buffer, pos)
        value, pos = _optional_bytes(buffer, pos)
        count, pos = decode_varint(buffer, pos)
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(count):
            name_length, pos = decode_varint(buffer, pos)
            if name_length < 0:
                raise ValueError(f"negative header name length {name_length}")
            name = bytes(buffer[pos : pos + name_length]).decode("utf-8", "surrogateescape")
            header_value, pos = _optional_bytes(buffer, pos + name_length)
            headers.append((name, header_value))
        if pos - start != length:
            raise ValueError(f"record of {length} bytes, read {pos - start}")
        self._pos = pos
        offset = self.base_offset + offset_delta
        return _DefaultRecordPy(offset, timestamp, self.timestamp_type, key, value, headers)


def _optional_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    length, pos = decode_varint(buffer, pos)
    if length < 0:
        return None, pos
    return bytes(buffer[pos : pos + length]), pos + length


def install() -> None:
    """Make aiokafka's fetcher read every fetched message set through :class:`LenientRecords`
    (for the whole process: the worker's consumer is its only aiokafka consumer)."""
    fetcher.MemoryRecords = LenientRecords
