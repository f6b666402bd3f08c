"""The verifier's checks on a chain's signed checkpoints.

Checkpoints are read and signature-checked before the chain's blocks
(:func:`read_checkpoints`), so the walk knows at which sizes to keep the chain-level root;
checked against the listing before any block is read (:func:`listing_findings`: growth,
tail truncation, freshness), so an export stops before writing a truncated chain; and
checked against the roots the walk kept once it is done (:func:`root_findings`: forks).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from riskseal.audit.report import ChainResult, Finding
from riskseal.audit.sources import TrailSource
from riskseal.audit.verify_range import Span
from riskseal.errors import IntegrityError
from riskseal.keys import VerifierKey
from riskseal.note import Checkpoint, NoteError, SignedNote


@dataclass(frozen=True, slots=True)
class ReadCheckpoint:
    """One checkpoint object of a chain, as read."""

    key: str
    checkpoint: Checkpoint | None
    """None when it cannot be used (see ``problem``)."""
    problem: tuple[str, str] | None
    """(kind, detail) when the checkpoint cannot be used."""


def read_checkpoints(
    source: TrailSource, keys: Iterable[str], origin: str, trusted: Iterable[VerifierKey]
) -> list[ReadCheckpoint]:
    """Each checkpoint at ``keys``: signed by a ``trusted`` key and naming ``origin``, or
    with the problem that makes it unusable. StorageUnavailableError on outages."""
    trusted = list(trusted)
    read = []
    for key in keys:
        try:
            note = SignedNote.parse(source.read(key))
            note.verify(trusted)
            checkpoint = Checkpoint.parse(note.text)
        except (IntegrityError, NoteError) as exc:
            read.append(ReadCheckpoint(key, None, ("bad_checkpoint", str(exc))))
            continue
        if checkpoint.origin != origin:
            problem = ("bad_checkpoint", f"origin {checkpoint.origin!r}")
            read.append(ReadCheckpoint(key, None, problem))
            continue
        read.append(ReadCheckpoint(key, checkpoint, None))
    return read


def listing_findings(
    chain: str,
    checkpoints: Sequence[ReadCheckpoint],
    head: int,
    span: Span,
    now_ms: int,
    max_age_s: float,
) -> tuple[int | None, list[Finding]]:
    """The checkpoints of ``chain`` (oldest first) against its listing: the largest size a
    checkpoint names (None: no usable checkpoint), and the findings.

    ``head`` is the newest listed block number. In a range, tail truncation and freshness
    are checked only when the range reaches the end of the chain (``span.open_end``).
    """
    findings: list[Finding] = []
    if not checkpoints:
        if head >= 0:
            findings.append(
                Finding("no_checkpoint", "no signed checkpoint covers this chain", chain=chain)
            )
        return None, findings
    length = head + 1
    last_size = -1
    for item in checkpoints:
        key, checkpoint = item.key, item.checkpoint
        if checkpoint is None:
            kind, detail = item.problem or ("bad_checkpoint", "unreadable")
            findings.append(Finding(kind, detail, chain=chain, key=key))
            continue
        if checkpoint.size < last_size:
            findings.append(Finding(
                "checkpoint_regressed",
                f"size {checkpoint.size} after a checkpoint of size {last_size}",
                chain=chain, key=key,
            ))  # fmt: skip
        last_size = max(last_size, checkpoint.size)
        if checkpoint.size > length and span.open_end:
            findings.append(Finding(
                "tail_truncated",
                f"checkpoint covers {checkpoint.size} blocks, the chain has {length}",
                chain=chain, key=key,
            ))  # fmt: skip
    size = last_size if last_size >= 0 else None
    if not span.open_end:
        return size, findings  # freshness concerns the end of the chain, outside the range
    newest = checkpoints[-1].key
    written_ms = int(newest.rsplit("/", 1)[1])
    age_s = (now_ms - written_ms) / 1000
    if age_s > max_age_s:
        findings.append(Finding(
            "stale_checkpoint",
            f"newest checkpoint is {age_s:.0f} s old (limit {max_age_s:g} s)",
            chain=chain, key=newest,
        ))  # fmt: skip
    return size, findings


def root_findings(result: ChainResult, checkpoints: Iterable[ReadCheckpoint]) -> list[Finding]:
    """Each checkpoint's root against the chain-level roots the walk kept (``result.roots``,
    at the sizes it could follow): a different root is a forked history."""
    findings = []
    for item in checkpoints:
        checkpoint = item.checkpoint
        if checkpoint is None:
            continue
        root = result.roots.get(checkpoint.size)
        if root is not None and root != checkpoint.root_hash:
            findings.append(Finding(
                "checkpoint_mismatch",
                f"root of the first {checkpoint.size} blocks differs: a forked history",
                chain=str(result.chain), key=item.key,
            ))  # fmt: skip
    return findings
