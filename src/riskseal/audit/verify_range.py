"""Which blocks of a chain a range verification covers (``riskseal verify --from/--to``).

A range is given in block numbers (with one chain) or in sealing time: the ``created_ms`` in
each block's *signed* header. The range is always a contiguous run of block numbers, chosen
so that an attacker cannot push a block out of it:

* block numbers: ``first..last`` as given (``last`` at most the newest listed block);
* sealing time: ``first`` is the lowest block number whose time is at or after ``--from``
  *or cannot be trusted* (missing, unreadable, misplaced, or its header signature fails), and
  ``last`` the highest whose time is at or before ``--to`` or cannot be trusted. A block the
  attacker damaged or removed therefore falls inside the range, never outside it.

The range is *open at the end* when it reaches the newest listed block: then blocks removed
from the end of the chain (tail truncation) and a stale newest checkpoint are within it.

Nothing here does I/O: header times come through a callable.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from fastavro import reader

from riskseal.block import FORMAT_VERSION, META_FORMAT, META_HEADER, META_SIGNATURE, BlockHeader
from riskseal.errors import ConfigError, InvalidBlockError
from riskseal.timestamps import DAY_MS, iso_ms

_SEQ = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class VerifyRange:
    """The part of each chain to verify in full; both ends inclusive, either may be open."""

    kind: Literal["seq", "time"]
    start: int | None
    """First block number, or earliest sealing time (ms since the epoch, UTC)."""
    end: int | None
    """Last block number, or latest sealing time (ms since the epoch, UTC)."""

    def describe(self) -> str:
        """The range as an auditor reads it in the report."""
        if self.kind == "seq":
            return f"blocks {_end(self.start, 'first')}..{_end(self.end, 'newest')}"
        return f"sealed {_when(self.start, 'the start')} .. {_when(self.end, 'now')}"


@dataclass(frozen=True, slots=True)
class Span:
    """The block numbers of one chain that a range covers."""

    first: int
    last: int
    """``last < first`` when no block of the chain falls inside the range."""
    open_end: bool
    """The range reaches the newest listed block: tail truncation is inside it."""

    @property
    def anchor(self) -> int | None:
        """The block before the range, whose header the first block must link to."""
        return self.first - 1 if self.first > 0 else None


def full_span(head: int) -> Span:
    """Every block from 0 to ``head`` (the newest listed block number, -1 if none)."""
    return Span(0, head, open_end=True)


def resolve_span(
    wanted: VerifyRange | None, head: int, trusted_time: Callable[[int], int | None]
) -> Span:
    """The span of a chain whose newest listed block is ``head``.

    ``trusted_time(seq)`` is the sealing time from the signed header of block ``seq``, or
    None when that header is missing or cannot be trusted. It is called only for blocks at
    the edges of the chain, scanning inwards, never for blocks inside the range.
    """
    if wanted is None:
        return full_span(head)
    if wanted.kind == "seq":
        first = wanted.start or 0
        last = head if wanted.end is None else min(wanted.end, head)
        return Span(first, last, open_end=wanted.end is None or wanted.end >= head)
    start, end = wanted.start, wanted.end
    first = 0
    if start is not None:
        while first <= head and not _at_or_after(trusted_time(first), start):
            first += 1
    last = head
    if end is not None:
        while last >= first and not _at_or_before(trusted_time(last), end):
            last -= 1
    return Span(first, last, open_end=last == head)


def _at_or_after(when: int | None, start: int) -> bool:
    return when is None or when >= start


def _at_or_before(when: int | None, end: int) -> bool:
    return when is None or when <= end


def peek_header(data: bytes) -> tuple[BlockHeader, bytes]:
    """The header and signature of a stored block, read without decoding its records.

    InvalidBlockError on anything unreadable (the caller then treats the block's time as
    unknown). Nothing is trusted here: check the signature before using the header.
    """
    try:
        metadata = reader(io.BytesIO(data)).metadata
        if metadata.get(META_FORMAT) != str(FORMAT_VERSION):
            raise InvalidBlockError(f"unsupported block format {metadata.get(META_FORMAT)!r}")
        header_bytes = base64.b64decode(metadata[META_HEADER], validate=True)
        signature = base64.b64decode(metadata[META_SIGNATURE], validate=True)
    except InvalidBlockError:
        raise
    except Exception as exc:  # fastavro raises many types on corrupt input, as in Block
        raise InvalidBlockError(f"block header cannot be read: {exc}") from exc
    return BlockHeader.from_bytes(header_bytes), signature


def parse_bound(text: str | None, *, chain_given: bool, is_end: bool) -> tuple[str, int] | None:
    """``--from``/``--to``: ("seq", n) for a block number, ("time", ms) for an ISO time.

    A block number needs ``--chain`` (numbers are per chain). A date alone means the start of
    that day for ``--from`` and its end for ``--to``, so ``--from 2026-01-01 --to 2026-01-31``
    is all of January. Times without a zone are UTC. ConfigError on anything else.
    """
    if text is None:
        return None
    text = text.strip()
    if _SEQ.fullmatch(text):
        if not chain_given:
            raise ConfigError(
                f"{text!r} is a block number; block numbers are per chain, so give --chain "
                "cluster/topic/partition too (or give an ISO time such as 2026-01-31T12:00Z)"
            )
        return "seq", int(text)
    try:
        start = iso_ms(text)
    except ValueError:
        raise ConfigError(
            f"{text!r} is neither an ISO time (2026-01-31, 2026-01-31T12:00:00Z) nor a block number"
        ) from None
    if len(text) == 10 and is_end:  # a date alone: to the end of that day
        return "time", start + DAY_MS - 1
    return "time", start


def range_from_bounds(
    start: tuple[str, int] | None, end: tuple[str, int] | None
) -> VerifyRange | None:
    """One VerifyRange from parsed ``--from``/``--to``; ConfigError if they disagree."""
    if start is None and end is None:
        return None
    kinds = {bound[0] for bound in (start, end) if bound is not None}
    if len(kinds) != 1:
        raise ConfigError("--from and --to must both be block numbers or both be times")
    kind: Literal["seq", "time"] = "seq" if kinds == {"seq"} else "time"
    first = start[1] if start else None
    last = end[1] if end else None
    if first is not None and last is not None and last < first:
        raise ConfigError("--to is before --from: the range is empty")
    return VerifyRange(kind, first, last)


def _end(value: int | None, default: str) -> str:
    return default if value is None else str(value)


def _when(value: int | None, default: str) -> str:
    if value is None:
        return default
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
