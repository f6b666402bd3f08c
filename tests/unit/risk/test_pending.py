"""Held-back table writes: newest bytes per key, each written as during its own record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from faust import streams as faust_streams
from faust.types import EventT, TableT

from riskseal.risk.pending import PendingWrites


@dataclass
class _Event:
    name: str


class _Table(dict[bytes, bytes]):
    """Records which event Faust would take as current for every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[bytes, bytes, str]] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        current = cast(_Event, faust_streams.current_event())
        self.writes.append((key, value, current.name))
        super().__setitem__(key, value)


def _pending() -> tuple[PendingWrites, _Table]:
    table = _Table()
    return PendingWrites(cast(TableT[bytes, bytes], table)), table


def _event(name: str) -> EventT[bytes]:
    return cast(EventT[bytes], _Event(name))


def test_a_key_is_written_once_with_its_newest_bytes_as_during_its_last_record() -> None:
    pending, table = _pending()
    pending.put(b"alice", b"v1", _event("first"))
    pending.put(b"bob", b"b1", _event("second"))
    pending.put(b"alice", b"v2", _event("third"))
    assert (len(pending), table.writes) == (2, [])
    assert pending.get(b"alice") == b"v2"
    assert pending.flush() == 2
    assert table.writes == [(b"alice", b"v2", "third"), (b"bob", b"b1", "second")]
    assert (len(pending), pending.flush()) == (0, 0)
    assert faust_streams.current_event() is None  # the current event is restored


def test_get_falls_back_to_the_table_and_write_takes_one_key_out_early() -> None:
    pending, table = _pending()
    dict.__setitem__(table, b"carol", b"stored")
    assert pending.get(b"carol", _event("lookup")) == b"stored"
    assert pending.get(b"nobody") is None
    pending.put(b"carol", b"newer", _event("change"))
    pending.write(b"carol")
    pending.write(b"nobody")  # not pending: nothing to write
    assert table.writes == [(b"carol", b"newer", "change")]
    assert pending.flush() == 0
