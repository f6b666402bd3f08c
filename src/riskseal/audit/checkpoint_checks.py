"""The verifier's checks on a chain's signed checkpoints.

Checkpoints are read and signature-checked before the chain's blocks
(:func:`read_checkpoints`), so the walk knows at which sizes to keep the chain-level root;
checked against the listing before any block is read (:func:`listing_findings`: growth,
tail truncation, freshness), so an export stops before writing a truncated chain; and
checked against the roots the walk kept once it is done (:func:`root_findings`: forks);
and they date the blocks they do not include (:class:`CheckpointFloor`: back-dating).

A checkpoint's time is the signed ``time`` line of its body, never its object key (which
anyone able to copy an object can choose): a key that does not name the signed time is a
finding (``misplaced_checkpoint``), and so is a signed time in the future.

Every version of a checkpoint key is looked at, as for blocks: a delete marker or a second
version is a finding, and the version read is the one the listing names.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from riskseal.audit.report import ChainResult, Finding
from riskseal.audit.sources import ObjectVersion, TrailSource
from riskseal.audit.verify_range import Span
from riskseal.block import BlockHeader, ChainId, checkpoint_key
from riskseal.errors import IntegrityError
from riskseal.keys import VerifierKey
from riskseal.note import Checkpoint, NoteError, SignedNote
from riskseal.sealer.checkpoint import chain_origin, checkpoint_time

CLOCK_SKEW_MS = 5 * 60_000
"""How far in the future (by the verifier's clock) a checkpoint's signed time may be."""


@dataclass(frozen=True, slots=True)
class ReadCheckpoint:
    """One checkpoint object of a chain, as read."""

    key: str
    checkpoint: Checkpoint | None
    """None when it cannot be used (see ``problem``)."""
    problem: tuple[str, str] | None
    """(kind, detail) when the checkpoint cannot be used."""
    time_ms: int | None = None
    """Its signed time (None when it cannot be used)."""
    issues: tuple[tuple[str, str], ...] = ()
    """(kind, detail) of findings that leave it usable (its versions, its place)."""


def data_version(versions: Sequence[ObjectVersion]) -> ObjectVersion | None:
    """The version of a write-once key to read: the latest data version (None: only
    delete markers)."""
    data = [v for v in versions if not v.is_delete_marker]
    if not data:
        return None
    return min(data, key=lambda v: (not v.is_latest, v.version_id or ""))


def version_problems(versions: Sequence[ObjectVersion], what: str) -> list[tuple[str, str]]:
    """(kind, detail) for each way the versions of a write-once key show tampering: delete
    markers, more than one data version (a key with nothing but delete markers left is for
    the caller to report: :func:`data_version` gives None)."""
    markers = sum(1 for v in versions if v.is_delete_marker)
    data = len(versions) - markers
    found = []
    if markers:
        found.append(("delete_marker", f"{markers} delete marker(s) on a {what} key"))
    if data > 1:
        found.append(("extra_version", f"{data} versions of a write-once {what}"))
    return found


def read_checkpoints(
    source: TrailSource,
    listed: Iterable[tuple[str, Sequence[ObjectVersion]]],
    prefix: str,
    chain: ChainId,
    log_origin: str,
    trusted: Iterable[VerifierKey],
    valid_at: Callable[[str, int], bool] | None = None,
) -> list[ReadCheckpoint]:
    """Each checkpoint key of ``chain`` with its versions: signed by a ``trusted`` key
    (one that ``valid_at(key id, signed time)`` accepts, when given), naming the chain's
    origin, with a signed time, or with the problem that makes it unusable.
    StorageUnavailableError on outages."""
    trusted = list(trusted)
    origin = chain_origin(log_origin, chain)
    read = []
    for key, versions in listed:
        version = data_version(versions)
        if version is None:
            problem = ("delete_marker", "only delete markers remain on a checkpoint key")
            read.append(ReadCheckpoint(key, None, problem))
            continue
        issues = tuple(version_problems(versions, "checkpoint"))
        try:
            data = source.read(key, version.version_id)
            unchecked = source.checksum_problem(key, version.version_id)
            if unchecked is not None:
                issues += (("missing_checksum", unchecked),)
            note = SignedNote.parse(data)
            signers = note.verify(trusted)
            checkpoint = Checkpoint.parse(note.text)
            if checkpoint.origin != origin:
                raise NoteError(f"origin {checkpoint.origin!r}, expected {origin!r}")
            time_ms = checkpoint_time(checkpoint)
            if valid_at is not None and not any(valid_at(k.key_id, time_ms) for k in signers):
                names = ", ".join(key.key_id for key in signers)
                raise NoteError(f"signed by {names}, not valid at its signed time {time_ms}")
        except (IntegrityError, NoteError) as exc:
            read.append(ReadCheckpoint(key, None, ("bad_checkpoint", str(exc)), issues=issues))
            continue
        home = checkpoint_key(prefix, chain, time_ms)
        if key != home:
            issues += (("misplaced_checkpoint", f"its signed time {time_ms} belongs at {home}"),)
        read.append(ReadCheckpoint(key, checkpoint, None, time_ms, issues))
    return read


def listing_findings(
    chain: str,
    checkpoints: Sequence[ReadCheckpoint],
    head: int,
    span: Span,
    now_ms: int,
    max_age_s: float,
) -> tuple[int | None, list[Finding]]:
    """The checkpoints of ``chain`` against its listing: the largest size a checkpoint names
    (None: no usable checkpoint), and the findings.

    ``head`` is the newest listed block number. Checkpoints are ordered by their signed
    time. In a range, tail truncation and freshness are checked only when the range
    reaches the end of the chain (``span.open_end``).
    """
    findings: list[Finding] = []
    if not checkpoints:
        if head >= 0:
            findings.append(
                Finding("no_checkpoint", "no signed checkpoint covers this chain", chain=chain)
            )
        return None, findings
    length = head + 1
    usable: list[tuple[int, str, Checkpoint]] = []
    for item in checkpoints:
        for kind, detail in item.issues:
            findings.append(Finding(kind, detail, chain=chain, key=item.key))
        if item.checkpoint is None or item.time_ms is None:
            kind, detail = item.problem or ("bad_checkpoint", "unreadable")
            findings.append(Finding(kind, detail, chain=chain, key=item.key))
            continue
        usable.append((item.time_ms, item.key, item.checkpoint))
        if item.time_ms > now_ms + CLOCK_SKEW_MS:
            findings.append(Finding(
                "future_checkpoint",
                f"signed time {item.time_ms} is {(item.time_ms - now_ms) / 1000:.0f} s in the "
                "future",
                chain=chain, key=item.key,
            ))  # fmt: skip
    usable.sort(key=lambda entry: (entry[0], entry[1]))
    last_size = -1
    for _, key, checkpoint in usable:
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
    current = [entry for entry in usable if entry[0] <= now_ms + CLOCK_SKEW_MS]
    if not current:
        return size, findings  # every checkpoint is unusable or in the future: reported above
    written_ms, newest, _ = current[-1]
    age_s = (now_ms - written_ms) / 1000
    if age_s > max_age_s:
        findings.append(Finding(
            "stale_checkpoint",
            f"newest checkpoint is {age_s:.0f} s old by its signed time "
            f"(limit {max_age_s:g} s)",
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


@dataclass(frozen=True, slots=True)
class CheckpointFloor:
    """The earliest date a block can honestly carry, given the checkpoints that leave it out.

    A checkpoint of size ``s`` signed at time ``T`` says the chain had ``s`` blocks at ``T``:
    block ``s`` and every later one were stored after ``T``. One dated before ``T`` by more
    than the clock skew allowed between two sealers, and signed by a key no longer valid by
    then, was back-dated to sign inside the validity of a retired key (FORMAT.md §7). A key
    still valid at ``T`` gains nothing from an early date, which a late write can give an
    honest block (a PUT retried across a hand-over), so that is no finding.

    A checkpoint smaller than one signed before it (``checkpoint_regressed``) counts too:
    the holder of a retired key could otherwise sign, inside its validity, a larger
    checkpoint that includes the forged block, and so set every later honest checkpoint
    aside. ``sizes`` ascend; ``times[i]`` is the latest signed time among the checkpoints
    of size at most ``sizes[i]``, ``keys[i]`` that checkpoint's key.
    """

    valid_at: Callable[[str, int], bool]
    """Whether a key (by id) may sign at a time, by the trail's key manifest."""
    sizes: tuple[int, ...] = ()
    times: tuple[int, ...] = ()
    keys: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        checkpoints: Iterable[ReadCheckpoint],
        now_ms: int,
        valid_at: Callable[[str, int], bool],
    ) -> CheckpointFloor:
        """From the usable checkpoints of a chain. One signed in the future (already a
        finding) dates nothing: every block after it would be reported again."""
        usable = sorted(
            (item.checkpoint.size, item.time_ms, item.key)
            for item in checkpoints
            if item.checkpoint is not None
            and item.time_ms is not None
            and item.time_ms <= now_ms + CLOCK_SKEW_MS
        )
        sizes: list[int] = []
        times: list[int] = []
        keys: list[str] = []
        for size, time_ms, key in usable:
            if times and times[-1] >= time_ms:
                time_ms, key = times[-1], keys[-1]
            sizes.append(size)
            times.append(time_ms)
            keys.append(key)
        return cls(valid_at, tuple(sizes), tuple(times), tuple(keys))

    def finding(self, chain: str, seq: int, block: BlockHeader, block_key: str) -> Finding | None:
        """``dated_before_checkpoint`` when ``block``, found as number ``seq``, is dated
        earlier than the newest checkpoint that leaves it out, less the clock skew, and its
        key was no longer valid by then; else None."""
        at = bisect.bisect_right(self.sizes, seq) - 1
        if at < 0:
            return None
        stored_after = self.times[at] - CLOCK_SKEW_MS
        if block.created_ms >= stored_after or self.valid_at(block.key_id, stored_after):
            return None
        return Finding(
            "dated_before_checkpoint",
            f"dated {block.created_ms}, {(self.times[at] - block.created_ms) / 1000:,.0f} s "
            f"before the checkpoint {self.keys[at]}, which does not include it (size "
            f"{self.sizes[at]}): stored after that checkpoint, when its key {block.key_id} "
            "was no longer valid; back-dated to sign inside the validity of a retired key",
            chain=chain, seq=seq, key=block_key,
        )  # fmt: skip
