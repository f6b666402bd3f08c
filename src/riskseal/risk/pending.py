"""Table writes held back until the worker commits offsets (write-behind).

A busy user's state changes with every record. Writing it to the Faust table each time
sends it to the changelog each time: tens of KB per record, which the producer, the broker
and every standby replica then handle again. :class:`PendingWrites` keeps the newest bytes
of each changed key instead, and :meth:`PendingWrites.flush` writes them to the table once,
just before Faust commits the offsets of the records that produced them
(:meth:`riskseal.risk.app.RiskConsumer._commit_offsets`).

At-least-once holds as it did with a write per record: Faust flushes its producer (the
changelog records included) before it commits offsets, so a committed offset always has
the states it produced in the changelog. A worker that dies loses its pending states
together with the uncommitted offsets: the records after the last commit come again and
are applied to the state of that commit, exactly once.

A state that keeps a new decision is written at once (:meth:`PendingWrites.write`), with
the decision: a request that comes again after a crash must find its decision and get the
same one back, since deciding it again could give another answer (its user's requests
and actions, on two topics, may then be read in another order).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from faust import streams as faust_streams
from faust.types import EventT, TableT


class PendingWrites:
    """The newest bytes of each changed key of ``table``, not yet written to it."""

    def __init__(self, table: TableT[bytes, bytes]) -> None:
        self.table = table
        self._entries: dict[bytes, tuple[bytes, EventT[bytes]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes, event: EventT[bytes] | None = None) -> bytes | None:
        """The key's bytes: the pending ones, else the table's (``event``: a record of the
        key's partition, where a persistent store looks the key up)."""
        entry = self._entries.get(key)
        if entry is not None:
            return entry[0]
        if event is None:
            return self.table.get(key)
        with as_current_event(event):
            return self.table.get(key)

    def put(self, key: bytes, data: bytes, event: EventT[bytes]) -> None:
        """Hold ``data`` as the key's newest bytes, changed by ``event``.

        Faust writes a table key to the changelog partition of the record being processed;
        ``event`` is that record when the write happens.
        """
        self._entries[key] = (data, event)

    def write(self, key: bytes) -> None:
        """Write ``key`` to the table now, if it is pending."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            with as_current_event(entry[1]):
                self.table[key] = entry[0]

    def flush(self) -> int:
        """Write every pending key to the table, each as if during the record that last
        changed it; returns how many were written."""
        entries, self._entries = self._entries, {}
        for key, (data, event) in entries.items():
            with as_current_event(event):
                self.table[key] = data
        return len(entries)


@contextmanager
def as_current_event(event: EventT[bytes]) -> Iterator[None]:
    """Make ``event`` Faust's current event, so that a table access uses its partition.

    Faust takes the changelog (and RocksDB) partition of a table write from a context
    variable its stream sets per record; batches are handled, and pending writes flushed,
    outside of that.
    """
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)
