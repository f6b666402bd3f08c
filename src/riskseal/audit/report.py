"""What the verifier is asked (:class:`VerifyOptions`) and what it reports: findings, chain
summaries, and the blocks and chains :meth:`~riskseal.audit.verify.Verifier.walk` hands over."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from riskseal.audit.verify_range import VerifyRange
from riskseal.block import Block, ChainId
from riskseal.keys import VerifierKey


@dataclass(frozen=True, slots=True)
class Finding:
    """One integrity problem."""

    kind: str
    detail: str
    chain: str | None = None
    seq: int | None = None
    key: str | None = None


@dataclass
class ChainResult:
    """What one chain holds and how far it verified."""

    chain: ChainId
    blocks: int = 0
    records: int = 0
    checkpoint_size: int | None = None
    first_seq: int | None = None
    """First block number verified in full (None: no block of the chain was in range)."""
    last_seq: int | None = None
    """Last block number verified in full."""
    roots: dict[int, bytes] = field(default_factory=dict)
    """Chain-level Merkle roots at the sizes the checkpoints name (what they are checked with)."""


@dataclass
class Report:
    """Everything the verifier found."""

    source: str
    findings: list[Finding] = field(default_factory=list)
    chains: list[ChainResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Checks not performed and assumptions made (never counted as passes)."""
    range: str | None = None
    """The range verified, as an auditor reads it; None for the whole trail."""

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


@dataclass(frozen=True)
class VerifyOptions:
    """What the auditor asks for."""

    prefix: str
    log_origin: str
    audit_topics: tuple[str, str, str]
    """The requests, actions and decisions topics (for the event checks)."""
    trusted_keys: tuple[VerifierKey, ...] = ()
    min_retention_days: int = 1
    max_checkpoint_age_s: float = 3600.0
    chain_filter: str | None = None
    topic_filter: tuple[str, ...] = ()
    """Verify only the chains of these topics (empty: every topic)."""
    block_range: VerifyRange | None = None
    """Verify only this part of each chain (see :mod:`riskseal.audit.verify_range`)."""
    event_checks: bool = True
    """Run the checks across events (source seq gaps, requests without decisions). They keep
    the event id, source stamp and request id of every event of the audit topics in memory;
    ``export`` turns them off."""
    now_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)


@dataclass(frozen=True, slots=True)
class CheckedBlock:
    """One block of the range after every check on it, as :meth:`Verifier.walk` yields it."""

    chain: ChainId
    seq: int
    block: Block | None
    """None when there is nothing readable to hand over (missing or malformed)."""
    findings: tuple[Finding, ...]
    """What was found on this block and on its link to the one before."""

    @property
    def verified(self) -> bool:
        """The block is present, readable and passed every check."""
        return self.block is not None and not self.findings


@dataclass(frozen=True, slots=True)
class CheckedChain:
    """The end of one chain in :meth:`Verifier.walk`: its summary and its checkpoint findings."""

    result: ChainResult
    findings: tuple[Finding, ...]


class ProgressSink(Protocol):
    """Where the verifier reports how far it got (a progress bar, or nothing)."""

    def add_total(self, blocks: int) -> None:
        """``blocks`` more blocks are to be looked at."""

    def advance(self, blocks: int) -> None:
        """``blocks`` more blocks were looked at (checked, or skipped as out of range)."""
