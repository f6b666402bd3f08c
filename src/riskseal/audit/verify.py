"""``riskseal verify``: check a sealed trail end to end and report every finding.

Unlike a walk that stops at the first problem, the verifier keeps going and reports all it
finds, each with a kind, the chain, the block and a precise detail, so an auditor sees the
whole extent of a problem. Findings are integrity problems only; an outage raises
StorageUnavailableError and never turns into a finding or into a pass.

:meth:`Verifier.run` checks everything and returns the report; :meth:`Verifier.walk` does the
same checks but hands over each block as soon as it has been checked, which is how
``riskseal export`` streams verified events without a second verification code path.
What it is asked and reports is in :mod:`riskseal.audit.report`; the key manifest is
followed in :mod:`riskseal.audit.manifest_checks`, the checks on checkpoints are in
:mod:`riskseal.audit.checkpoint_checks`, those across events in
:mod:`riskseal.audit.event_checks`.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from riskseal.audit.checkpoint_checks import (
    CheckpointFloor,
    data_version,
    listing_findings,
    read_checkpoints,
    root_findings,
    version_problems,
)
from riskseal.audit.event_checks import EventChecks
from riskseal.audit.manifest_checks import follow_manifests
from riskseal.audit.report import (
    ChainResult,
    CheckedBlock,
    CheckedChain,
    Finding,
    ProgressSink,
    Report,
    VerifyOptions,
)
from riskseal.audit.sources import ObjectVersion, TrailSource
from riskseal.audit.verify_range import Span, peek_header, resolve_span
from riskseal.block import (
    CLOCK_SKEW_MS,
    FORMAT_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    ChainId,
    block_key,
    checkpoint_key,
)
from riskseal.contract.codec import EventCodec
from riskseal.contract.partial import PartialDecoder
from riskseal.errors import ConfigError, IntegrityError
from riskseal.keys import SignatureError
from riskseal.manifest import KeyManifest
from riskseal.merkle import CompactRange, ProofError
from riskseal.merkle import root as merkle_root

DAY_MS = 86_400_000
LOCK_SLACK_MS = 5 * 60_000
"""How much earlier than the block's time plus the minimum retention its lock may end (the
sealer computes the lock from its clock when it writes the block, which another sealer's
clock, whose date the block may carry, can be ahead of)."""

_PLACED = re.compile(r"(blocks|checkpoints)/([^/]+/[^/]+/[0-9]+)/([0-9]+)")
"""A block or checkpoint key below the prefix: kind, chain id, number (ASCII digits only)."""


@dataclass
class _ChainWork:
    """One chain's objects, as found in the listing."""

    chain: ChainId
    blocks: dict[int, list[ObjectVersion]] = field(default_factory=dict)
    checkpoints: list[tuple[str, list[ObjectVersion]]] = field(default_factory=list)
    """Each checkpoint key with its versions."""


class Verifier:
    """Checks every object under a prefix of a TrailSource."""

    def __init__(
        self, source: TrailSource, options: VerifyOptions, progress: ProgressSink | None = None
    ) -> None:
        self.source = source
        self.options = options
        self.progress = progress
        self.report = Report(
            source.description,
            range=options.block_range.describe() if options.block_range else None,
        )
        self.codec = EventCodec()
        self._partial = PartialDecoder(self.codec)
        self._unchecked: set[str] = set()
        """Keys already reported as stored without a usable checksum."""

    def find(self, kind: str, detail: str, **where: object) -> None:
        """Record a finding."""
        self.report.findings.append(Finding(kind, detail, **where))  # type: ignore[arg-type]

    def _read(self, key: str, version_id: str | None) -> bytes:
        """A block version's bytes; a version stored without a usable SHA-256 checksum is a
        finding (once per key), and its other checks go on: the bytes are still signed."""
        data = self.source.read(key, version_id)
        problem = self.source.checksum_problem(key, version_id)
        if problem is not None and key not in self._unchecked:
            self._unchecked.add(key)
            self.find("missing_checksum", problem, key=key)
        return data

    # --- top level -------------------------------------------------------------------------
    def run(self) -> Report:
        """Verify everything; return the report (StorageUnavailableError on outages)."""
        for _ in self.walk():
            pass
        return self.report

    def walk(self) -> Iterator[CheckedBlock | CheckedChain]:
        """Verify as :meth:`run` does, yielding each block of the range once it is checked.

        Each chain's blocks come in order, then a CheckedChain with its checkpoint findings.
        Every finding is also in :attr:`report` (findings on the key manifest and on stray
        objects are recorded before the first block is yielded).
        """
        manifest = follow_manifests(self.source, self.options, self.report)
        valid_at = _valid_at(manifest)
        work = self._listing()
        if not self.source.has_locks:
            self.report.notes.append(
                "Object Lock, object versions and stored SHA-256 checksums were not checked: "
                "a local copy has none of them; verify against the bucket for those"
            )
        if self.progress is not None:
            self.progress.add_total(sum(len(w.blocks) for w in work))
        checks = (
            EventChecks(self.options.audit_topics, self._partial) if self._event_checks() else None
        )
        for chain_work in work:
            result = ChainResult(chain_work.chain)
            checkpoints = read_checkpoints(
                self.source,
                chain_work.checkpoints,
                self.options.prefix,
                chain_work.chain,
                self.options.log_origin,
                manifest.public_keys().keys() if manifest else (),
                valid_at,
            )
            wanted = {c.checkpoint.size for c in checkpoints if c.checkpoint is not None}
            head = max(chain_work.blocks) if chain_work.blocks else -1
            span = self._span(chain_work, head, manifest)
            result.checkpoint_size, found = listing_findings(
                str(chain_work.chain), checkpoints, head, span,
                self.options.now_ms, self.options.max_checkpoint_age_s,
            )  # fmt: skip
            self.report.findings += found
            floor = CheckpointFloor.of(checkpoints, self.options.now_ms, valid_at)
            yield from self._chain(chain_work, span, wanted, floor, result, manifest, checks)
            found = root_findings(result, checkpoints)
            self.report.findings += found
            self.report.chains.append(result)
            yield CheckedChain(result, tuple(found))
        if checks is not None:
            findings, notes = checks.finish()
            self.report.notes += notes
            for kind, detail in findings:
                self.find(kind, detail)
        elif self.options.block_range is not None and self.options.event_checks:
            self.report.notes.append(
                "event checks (source sequence gaps, requests without decisions) were not run: "
                "they need the whole trail, and at the edges of a range they would report "
                "events that are merely outside it; verify without --from/--to for them"
            )
        elif self.options.event_checks:
            self.report.notes.append(
                "event checks (source sequence gaps, requests without decisions) were not run: "
                "they span chains (requests and decisions are on different topics, a source "
                "writes to several partitions) and only some chains were verified; verify "
                "without --chain for them"
            )

    def _event_checks(self) -> bool:
        """Whether the checks across events run: only when every chain is verified whole
        (with one chain or one topic they would report events of the chains left out)."""
        options = self.options
        whole = options.block_range is None and not options.chain_filter
        return options.event_checks and whole and not options.topic_filter

    def _listing(self) -> list[_ChainWork]:
        prefix = self.options.prefix
        by_key: dict[str, list[ObjectVersion]] = defaultdict(list)
        for version in self.source.versions(f"{prefix}/"):
            by_key[version.key].append(version)
        chains: dict[str, _ChainWork] = {}
        for key, versions in sorted(by_key.items()):
            place = self._classify(key)
            if place is None:
                continue
            kind, chain, number = place
            work = chains.get(chain)
            if work is None:
                work = chains[chain] = _ChainWork(ChainId.parse(chain))
            if kind == "block":
                work.blocks[number] = versions
            else:
                work.checkpoints.append((key, versions))
        if not chains and not self.options.chain_filter:
            self.find(
                "no_chain",
                f"no block and no checkpoint under {self.source.description}/{prefix}/: nothing "
                "was sealed yet, everything sealed was removed, or the copy is incomplete",
                key=f"{prefix}/",
            )
        selected = []
        for chain_text, work in sorted(chains.items()):
            if self.options.chain_filter and chain_text != self.options.chain_filter:
                continue
            if self.options.topic_filter and work.chain.topic not in self.options.topic_filter:
                continue
            selected.append(work)
        wanted = self.options.chain_filter
        if wanted and not selected:
            raise ConfigError(
                f"no chain {wanted} under {self.source.description}/{prefix}/ "
                "(want cluster/topic/partition, as the verify report lists them)"
            )
        return selected

    def _classify(self, key: str) -> tuple[str, str, int] | None:
        """("block" or "checkpoint", chain id, number) of a key in its exact place; anything
        else is an ``unreferenced_object`` (manifest keys are left to
        :func:`~riskseal.audit.manifest_checks.follow_manifests`)."""
        prefix = self.options.prefix
        below = key[len(prefix) + 1 :]
        if below.startswith("keys/manifest/"):
            return None
        shaped = _PLACED.fullmatch(below)
        if shaped is not None:
            kind, chain_text, number_text = shaped.groups()
            try:
                chain = ChainId.parse(chain_text)
            except IntegrityError:
                chain = None
            if chain is not None and str(chain) == chain_text:
                number = int(number_text)
                place = block_key if kind == "blocks" else checkpoint_key
                if key == place(prefix, chain, number):
                    return kind.removesuffix("s"), chain_text, number
        self.find("unreferenced_object", "object is not a block, checkpoint or manifest", key=key)
        return None

    # --- one chain ---------------------------------------------------------------------------
    def _span(self, work: _ChainWork, head: int, manifest: KeyManifest | None) -> Span:
        def trusted_time(seq: int) -> int | None:
            return self._trusted_time(work.chain, seq, work.blocks.get(seq), manifest)

        span = resolve_span(self.options.block_range, head, trusted_time)
        if self.options.block_range is not None and span.last < span.first:
            self.report.notes.append(
                f"chain {work.chain}: no block in {self.options.block_range.describe()}"
            )
        return span

    def _trusted_time(
        self,
        chain: ChainId,
        seq: int,
        versions: list[ObjectVersion] | None,
        manifest: KeyManifest | None,
    ) -> int | None:
        """The sealing time of a block whose header is in place and signed; None otherwise."""
        version = data_version(versions or [])
        if version is None or manifest is None:
            return None
        key = block_key(self.options.prefix, chain, seq)
        try:  # read as it is: the block's own checks report what is wrong with it
            header, signature = peek_header(self.source.read(key, version.version_id))
        except IntegrityError:
            return None
        if self._signature_problem(header, signature, manifest) is not None:
            return None  # an untrusted time: the block stays inside the range
        if header.object_key != key or header.chain_id != str(chain) or header.seq != seq:
            return None
        return header.created_ms

    def _chain(
        self,
        work: _ChainWork,
        span: Span,
        wanted: set[int],
        floor: CheckpointFloor,
        result: ChainResult,
        manifest: KeyManifest | None,
        events: EventChecks | None,
    ) -> Iterator[CheckedBlock]:
        chain, blocks = work.chain, work.blocks
        outside = sum(1 for seq in blocks if not span.first <= seq <= span.last)
        if self.progress is not None and outside:
            self.progress.advance(outside)
        if span.last < span.first:
            return
        result.first_seq, result.last_seq = span.first, span.last
        start = len(self.report.findings)
        previous, tree = self._anchor(chain, span, blocks, manifest)
        if tree is not None and tree.size in wanted:
            result.roots[tree.size] = tree.root()
        if previous is not None and tree is not None:
            self._roots_before(chain, blocks, previous, tree, wanted, result)
        present = sorted(seq for seq in blocks if span.first <= seq <= span.last)
        seq = span.first
        while seq <= span.last:
            key = block_key(self.options.prefix, chain, seq)
            if seq not in blocks:  # a gap, reported once however long (never walked)
                upto = bisect.bisect_right(present, seq)
                end = present[upto] - 1 if upto < len(present) else span.last
                self._gap(chain, seq, end, key)
                block, previous, tree = None, None, None
            else:
                block = self._one_block(chain, seq, key, blocks[seq], manifest, previous, tree)
                end = seq
            if block is None:
                previous, tree = None, None  # the chain-level tree cannot be followed past here
            else:
                dated = floor.finding(str(chain), seq, block.header, key)
                if dated is not None:
                    self.report.findings.append(dated)
                previous = block.header
                result.blocks += 1
                result.records += len(block.record_bytes)
                if tree is not None:
                    tree.append(block.header.chain_leaf_hash())
                    if tree.size in wanted:
                        result.roots[tree.size] = tree.root()
                if events is not None and chain.topic in self.options.audit_topics:
                    events.add(chain.topic, block.values())
            if self.progress is not None and seq in blocks:
                self.progress.advance(1)
            found = tuple(self.report.findings[start:])
            start = len(self.report.findings)
            yield CheckedBlock(chain, seq, block, found)
            seq = end + 1

    def _gap(self, chain: ChainId, first: int, last: int, key: str) -> None:
        where: dict[str, object] = {"chain": str(chain), "seq": first, "key": key}
        if first == last:
            self.find("missing_block", "no object for this sequence number (a gap)", **where)
        else:
            self.find(
                "missing_block",
                f"no object for sequence numbers {first}..{last} "
                f"({last - first + 1} blocks, a gap)",
                **where,
            )

    def _one_block(
        self,
        chain: ChainId,
        seq: int,
        key: str,
        versions: list[ObjectVersion],
        manifest: KeyManifest | None,
        previous: BlockHeader | None,
        tree: CompactRange | None,
    ) -> Block | None:
        """Every check on one block; the block (even when a check failed) or None."""
        where: dict[str, object] = {"chain": str(chain), "seq": seq, "key": key}
        chosen = self._check_versions(versions, where)
        if chosen is None:
            return None
        try:
            block = Block.from_bytes(self._read(key, chosen.version_id))
        except IntegrityError as exc:
            self.find("malformed_block", str(exc), **where)
            return None
        self._check_block(block, key, chain, seq, manifest, where)
        self._check_link(block, previous, tree, where)
        self._check_lock(block.header, key, chosen, where)
        return block

    def _anchor(
        self,
        chain: ChainId,
        span: Span,
        blocks: dict[int, list[ObjectVersion]],
        manifest: KeyManifest | None,
    ) -> tuple[BlockHeader | None, CompactRange | None]:
        """The header and chain-level tree just before the range, checked; (None, None) if not.

        The block before the range is not verified in full (its records are outside the
        range), but the range must hang from a genuine header: it must be in place, signed
        by a key of the manifest, and its chain frontier must give the signed chain root.
        """
        seq = span.anchor
        if seq is None:
            return None, CompactRange()
        key = block_key(self.options.prefix, chain, seq)
        where: dict[str, object] = {"chain": str(chain), "seq": seq, "key": key}
        before = "the block before the range"
        versions = blocks.get(seq)
        if not versions:
            self.find("missing_block", f"{before} is missing: the range links to nothing", **where)
            return None, None
        version = self._check_versions(versions, where)
        if version is None:
            return None, None
        try:
            block = Block.from_bytes(self._read(key, version.version_id))
        except IntegrityError as exc:
            self.find("malformed_block", f"{before}: {exc}", **where)
            return None, None
        header = block.header
        if header.object_key != key or header.chain_id != str(chain) or header.seq != seq:
            self.find("misplaced_block", f"{before}: header is {header.object_key}", **where)
            return None, None
        problem = self._signature_problem(header, block.signature, manifest)
        if problem is not None:
            kind, detail = problem
            self.find(kind, f"{before}: {detail}", **where)
            return None, None
        try:
            tree = CompactRange.from_frontier(header.chain_size_before, block.frontier_before)
        except ProofError as exc:
            self.find("chain_root_mismatch", f"{before}: {exc}", **where)
            return header, None
        if header.chain_size_before != seq or tree.root() != header.chain_root_before:
            self.find(
                "chain_root_mismatch",
                f"{before}: its chain frontier does not give its signed chain root",
                **where,
            )
            return header, None
        tree.append(header.chain_leaf_hash())
        return header, tree

    def _roots_before(
        self,
        chain: ChainId,
        blocks: dict[int, list[ObjectVersion]],
        anchor: BlockHeader,
        tree: CompactRange,
        wanted: set[int],
        result: ChainResult,
    ) -> None:
        """For a range: the chain-level root at the largest checkpoint size up to the range,
        proven to be the one the range grows from, so a forked history is found as a full
        run finds it.

        At the anchor's own size the root is its signed ``chain_root_before``. At a smaller
        size ``m``, block ``m``'s frontier gives the root at ``m``; the chain leaves of
        blocks ``m`` up to the anchor (their headers only) must extend it to the anchor's
        signed root, which ties that root to the range.
        """
        size = max((s for s in wanted if s < tree.size), default=None)
        if size is None:
            return
        if size == anchor.seq:
            result.roots[size] = anchor.chain_root_before
            return
        prefix = self.options.prefix
        why = f"the range cannot be tied to the checkpoint of size {size}"
        key = block_key(prefix, chain, size)
        where: dict[str, object] = {"chain": str(chain), "seq": size, "key": key}
        version = data_version(blocks.get(size) or [])
        if version is None:
            self.find("missing_block", f"block {size} is missing: {why}", **where)
            return
        try:
            block = Block.from_bytes(self._read(key, version.version_id))
            at_size = CompactRange.from_frontier(size, block.frontier_before)
        except IntegrityError as exc:  # ProofError is one
            self.find("malformed_block", f"{why}: {exc}", **where)
            return
        grown = at_size.copy()
        grown.append(block.header.chain_leaf_hash())
        for seq in range(size + 1, anchor.seq):
            key = block_key(prefix, chain, seq)
            where = {"chain": str(chain), "seq": seq, "key": key}
            version = data_version(blocks.get(seq) or [])
            if version is None:
                self.find("missing_block", f"block {seq} is missing: {why}", **where)
                return
            try:
                header, _ = peek_header(self._read(key, version.version_id))
            except IntegrityError as exc:
                self.find("malformed_block", f"{why}: {exc}", **where)
                return
            grown.append(header.chain_leaf_hash())
        if grown.root() != anchor.chain_root_before:
            key = block_key(prefix, chain, anchor.seq)
            self.find(
                "chain_root_mismatch",
                f"the block before the range does not extend the chain of the checkpoint of "
                f"size {size} (a forked history)",
                chain=str(chain), seq=anchor.seq, key=key,
            )  # fmt: skip
            return
        result.roots[size] = at_size.root()

    def _check_versions(
        self, versions: list[ObjectVersion], where: dict[str, object]
    ) -> ObjectVersion | None:
        for kind, detail in version_problems(versions, "block"):
            self.find(kind, detail, **where)
        chosen = data_version(versions)
        if chosen is None:
            self.find("missing_block", "only delete markers remain", **where)
        return chosen

    def _signature_problem(
        self, header: BlockHeader, signature: bytes, manifest: KeyManifest | None
    ) -> tuple[str, str] | None:
        """(kind, detail) unless ``header`` is signed by a key of ``manifest`` valid at its
        ``created_ms``: ``unknown_key`` for a key not listed or outside its validity,
        ``bad_signature`` for a signature that does not verify."""
        if manifest is None:
            return "unknown_key", f"no trusted key manifest to check {header.key_id}"
        entry = manifest.entry(header.key_id)
        if entry is None:
            return (
                "unknown_key",
                f"key {header.key_id} is not in key manifest version {manifest.version}",
            )
        if not entry.covers(header.created_ms):
            return (
                "unknown_key",
                f"key {header.key_id} was not valid at {header.created_ms} "
                f"(manifest version {manifest.version})",
            )
        try:
            entry.key.verify(header.signing_payload(), signature)
        except SignatureError as exc:
            return "bad_signature", str(exc)
        return None

    def _check_block(
        self,
        block: Block,
        key: str,
        chain: ChainId,
        seq: int,
        manifest: KeyManifest | None,
        where: dict[str, object],
    ) -> None:
        header = block.header
        if header.object_key != key:
            self.find("misplaced_block", f"header says it belongs at {header.object_key}", **where)
        if header.chain_id != str(chain) or header.seq != seq:
            self.find("misplaced_block", f"header is {header.chain_id} seq {header.seq}", **where)
        if header.origin != self.options.log_origin:
            self.find(
                "misplaced_block", f"header is of log {header.origin!r}, not of this log", **where
            )
        if header.format_version != FORMAT_VERSION:
            self.find(
                "malformed_block", f"header says format version {header.format_version}", **where
            )
        problem = self._signature_problem(header, block.signature, manifest)
        if problem is not None:
            kind, detail = problem
            self.find(kind, detail, **where)
        if merkle_root(block.leaf_hashes()) != header.records_root:
            self.find(
                "records_root_mismatch", "records do not match the signed Merkle root", **where
            )
        offsets = block.offsets()
        expected = range(header.first_offset, header.last_offset + 1)
        if offsets != expected or header.record_count != len(offsets) or not offsets:
            self.find(
                "record_out_of_range",
                f"records cover offsets {list(offsets[:1])}..{list(offsets[-1:])} "
                f"({len(offsets)} records), "
                f"header says {header.first_offset}..{header.last_offset} ({header.record_count})"
                + ("" if offsets else ": a block holds at least one record"),
                **where,
            )
        home = (chain.topic, chain.partition)
        strays = sum(n for where_from, n in block.record_partitions().items() if where_from != home)
        if strays:
            self.find("record_out_of_range", f"{strays} records of another partition", **where)

    def _check_link(
        self,
        block: Block,
        previous: BlockHeader | None,
        tree: CompactRange | None,
        where: dict[str, object],
    ) -> None:
        header = block.header
        if tree is None:
            pass  # the tree could not be followed up to here (already reported)
        elif header.chain_size_before != tree.size or header.chain_root_before != tree.root():
            self.find("chain_root_mismatch", "chain root before this block differs", **where)
        elif block.frontier_before != tree.frontier():
            # A sealer resumes the chain from its head's frontier (FORMAT.md §7).
            self.find(
                "chain_root_mismatch",
                "the chain frontier stored with this block is not the chain's",
                **where,
            )
        if header.seq == 0:
            if header.prev_header_hash != ZERO_HASH:
                self.find("broken_link", "first block links to a predecessor", **where)
            return
        if previous is None:
            return  # the predecessor is already reported (missing or malformed)
        if header.prev_header_hash != previous.header_hash():
            self.find("broken_link", f"does not link to block {previous.seq}", **where)
        if header.created_ms < previous.created_ms - CLOCK_SKEW_MS:
            self.find(
                "time_reversed",
                f"dated {header.created_ms}, {previous.created_ms - header.created_ms} ms before "
                f"block {previous.seq}: further back than two sealers' clocks may disagree "
                f"({CLOCK_SKEW_MS // 60_000} minutes)",
                **where,
            )
        if header.first_offset > previous.last_offset + 1:
            self.find(
                "offset_gap",
                f"offsets {previous.last_offset + 1}..{header.first_offset - 1} are in no block",
                **where,
            )
        elif header.first_offset <= previous.last_offset:
            self.find(
                "offset_overlap",
                f"offsets {header.first_offset}..{previous.last_offset} are sealed twice",
                **where,
            )

    def _check_lock(
        self, header: BlockHeader, key: str, version: ObjectVersion, where: dict[str, object]
    ) -> None:
        """The lock of the version read, at the key it was found under (not the key its
        header names: a block copied elsewhere is a finding, never an I/O error)."""
        if not self.source.has_locks:
            return
        state = self.source.lock(key, version.version_id)
        if state.mode != "COMPLIANCE":
            self.find("not_locked", f"Object Lock mode is {state.mode}, not COMPLIANCE", **where)
            return
        # In integer milliseconds: the header's time may be any 64-bit value (even when its
        # signature failed), and a datetime cannot hold most of them.
        minimum_ms = header.created_ms + self.options.min_retention_days * DAY_MS - LOCK_SLACK_MS
        until = state.retain_until
        if until is None or round(until.timestamp() * 1000) < minimum_ms:
            self.find(
                "retention_too_short",
                f"retained until {until}, minimum {_utc_minute(minimum_ms)}",
                **where,
            )


def _utc_minute(time_ms: int) -> str:
    """``time_ms`` as a UTC minute, or as milliseconds when no calendar date can hold it."""
    try:
        return f"{datetime.fromtimestamp(time_ms / 1000, UTC):%Y-%m-%d %H:%M}Z"
    except (OverflowError, OSError, ValueError):
        return f"{time_ms} ms since 1970"


def _valid_at(manifest: KeyManifest | None) -> Callable[[str, int], bool]:
    """Whether ``manifest`` lets a key sign at a time (nothing may sign without one)."""
    if manifest is None:
        return lambda key_id, time_ms: False
    return manifest.may_sign
