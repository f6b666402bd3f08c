"""``riskseal verify``: check a sealed trail end to end and report every finding.

Unlike a walk that stops at the first problem, the verifier keeps going and reports all it
finds, each with a kind, the chain, the block and a precise detail, so an auditor sees the
whole extent of a problem. Findings are integrity problems only; an outage raises
StorageUnavailableError and never turns into a finding or into a pass.

:meth:`Verifier.run` checks everything and returns the report; :meth:`Verifier.walk` does the
same checks but hands over each block as soon as it has been checked, which is how
``riskseal export`` streams verified events without a second verification code path.
What it is asked and reports is in :mod:`riskseal.audit.report`; the checks on checkpoints
are in :mod:`riskseal.audit.checkpoint_checks`, those across events in
:mod:`riskseal.audit.event_checks`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from riskseal.audit.checkpoint_checks import listing_findings, read_checkpoints, root_findings
from riskseal.audit.event_checks import EventChecks
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
from riskseal.block import ZERO_HASH, Block, BlockHeader, ChainId, block_key
from riskseal.contract.codec import EventCodec
from riskseal.contract.partial import PartialDecoder
from riskseal.errors import ConfigError, IntegrityError
from riskseal.keys import SignatureError
from riskseal.manifest import KeyManifest, manifest_key
from riskseal.merkle import CompactRange, ProofError
from riskseal.merkle import root as merkle_root
from riskseal.note import NoteError
from riskseal.sealer.checkpoint import chain_origin


@dataclass
class _ChainWork:
    """One chain's objects, as found in the listing."""

    chain: ChainId
    blocks: dict[int, list[ObjectVersion]] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)


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

    def find(self, kind: str, detail: str, **where: object) -> None:
        """Record a finding."""
        self.report.findings.append(Finding(kind, detail, **where))  # type: ignore[arg-type]

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
        manifest = self._manifest()
        work = self._listing()
        if not self.source.has_locks:
            self.report.notes.append(
                "Object Lock and object versions were not checked: a local copy has neither; "
                "verify against the bucket for those"
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
                chain_origin(self.options.log_origin, chain_work.chain),
                manifest.public_keys().keys() if manifest else (),
            )
            wanted = {c.checkpoint.size for c in checkpoints if c.checkpoint is not None}
            head = max(chain_work.blocks) if chain_work.blocks else -1
            span = self._span(chain_work, head, manifest)
            result.checkpoint_size, found = listing_findings(
                str(chain_work.chain), checkpoints, head, span,
                self.options.now_ms, self.options.max_checkpoint_age_s,
            )  # fmt: skip
            self.report.findings += found
            yield from self._chain(chain_work, span, wanted, result, manifest, checks)
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

    def _event_checks(self) -> bool:
        return self.options.event_checks and self.options.block_range is None

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
                work.checkpoints.append(key)
        selected = []
        for chain_text, work in sorted(chains.items()):
            if self.options.chain_filter and chain_text != self.options.chain_filter:
                continue
            if self.options.topic_filter and work.chain.topic not in self.options.topic_filter:
                continue
            work.checkpoints.sort()
            selected.append(work)
        wanted = self.options.chain_filter
        if wanted and not selected:
            raise ConfigError(
                f"no chain {wanted} under {self.source.description}/{prefix}/ "
                "(want cluster/topic/partition, as the verify report lists them)"
            )
        return selected

    def _classify(self, key: str) -> tuple[str, str, int] | None:
        prefix = self.options.prefix
        parts = key[len(prefix) + 1 :].split("/")
        if parts[0] == "keys" and parts[:2] == ["keys", "manifest"]:
            return None
        shaped = len(parts) == 5 and parts[3].isdigit() and parts[4].isdigit()
        if shaped and parts[0] in ("blocks", "checkpoints"):
            chain = "/".join(parts[1:4])
            if parts[0] == "checkpoints":
                return "checkpoint", chain, int(parts[4])
            if key == block_key(prefix, ChainId.parse(chain), int(parts[4])):
                return "block", chain, int(parts[4])
        self.find("unreferenced_object", "object is not a block, checkpoint or manifest", key=key)
        return None

    # --- keys --------------------------------------------------------------------------------
    def _manifest(self) -> KeyManifest | None:
        prefix = self.options.prefix
        manifests: list[KeyManifest] = []
        trusted = list(self.options.trusted_keys)
        version = 0
        listed = {v.key for v in self.source.versions(f"{prefix}/keys/manifest/")}
        while manifest_key(prefix, version) in listed:
            key = manifest_key(prefix, version)
            data = self.source.read(key)
            try:
                if version == 0 and not trusted:
                    manifest = KeyManifest.parse(data)
                    self.report.notes.append(
                        "no trusted key given (--trust): key manifest version 0 was trusted as "
                        "found; pin its vkey to detect a replaced manifest"
                    )
                else:
                    manifest = KeyManifest.parse(data, trusted=trusted)
            except (IntegrityError, NoteError) as exc:
                self.find("bad_key_manifest", f"{exc}", key=key)
                return manifests[-1] if manifests else None
            if manifest.version != version:
                self.find("bad_key_manifest", f"says version {manifest.version}", key=key)
            manifests.append(manifest)
            trusted = [entry.key for entry in manifest.entries]
            version += 1
        if not manifests:
            self.find("bad_key_manifest", "no key manifest found", key=manifest_key(prefix, 0))
            return None
        extra = sorted(listed - {manifest_key(prefix, v) for v in range(version)})
        for key in extra:
            self.find("bad_key_manifest", "manifest version out of sequence", key=key)
        return manifests[-1]

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
        version = _data_version(versions or [])
        if version is None or manifest is None:
            return None
        key = block_key(self.options.prefix, chain, seq)
        try:
            header, signature = peek_header(self.source.read(key, version.version_id))
            signer = manifest.check_signer(header.key_id, header.created_ms)
            signer.verify(header.signing_payload(), signature)
        except (IntegrityError, SignatureError):
            return None  # an untrusted time: the block stays inside the range
        if header.object_key != key or header.chain_id != str(chain) or header.seq != seq:
            return None
        return header.created_ms

    def _chain(
        self,
        work: _ChainWork,
        span: Span,
        wanted: set[int],
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
        for seq in range(span.first, span.last + 1):
            key = block_key(self.options.prefix, chain, seq)
            block = self._one_block(chain, seq, key, blocks.get(seq), manifest, previous, tree)
            if block is None:
                previous, tree = None, None  # the chain-level tree cannot be followed past here
            else:
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

    def _one_block(
        self,
        chain: ChainId,
        seq: int,
        key: str,
        versions: list[ObjectVersion] | None,
        manifest: KeyManifest | None,
        previous: BlockHeader | None,
        tree: CompactRange | None,
    ) -> Block | None:
        """Every check on one block; the block (even when a check failed) or None."""
        where: dict[str, object] = {"chain": str(chain), "seq": seq, "key": key}
        if not versions:
            self.find("missing_block", "no object for this sequence number (a gap)", **where)
            return None
        data_version = self._check_versions(versions, where)
        if data_version is None:
            return None
        try:
            block = Block.from_bytes(self.source.read(key, data_version.version_id))
        except IntegrityError as exc:
            self.find("malformed_block", str(exc), **where)
            return None
        self._check_block(block, key, chain, seq, manifest, where)
        self._check_link(block.header, previous, tree, where)
        self._check_lock(block.header, data_version, where)
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
            block = Block.from_bytes(self.source.read(key, version.version_id))
        except IntegrityError as exc:
            self.find("malformed_block", f"{before}: {exc}", **where)
            return None, None
        header = block.header
        if header.object_key != key or header.chain_id != str(chain) or header.seq != seq:
            self.find("misplaced_block", f"{before}: header is {header.object_key}", **where)
            return None, None
        if manifest is None:
            self.find("unknown_key", f"{before}: no trusted manifest for {header.key_id}", **where)
            return None, None
        try:
            signer = manifest.check_signer(header.key_id, header.created_ms)
            signer.verify(header.signing_payload(), block.signature)
        except SignatureError as exc:
            kind = "unknown_key" if "not in key manifest" in str(exc) else "bad_signature"
            self.find(kind, f"{before}: {exc}", **where)
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

    def _check_versions(
        self, versions: list[ObjectVersion], where: dict[str, object]
    ) -> ObjectVersion | None:
        markers = [v for v in versions if v.is_delete_marker]
        data = [v for v in versions if not v.is_delete_marker]
        if markers:
            self.find("delete_marker", f"{len(markers)} delete marker(s) on a block key", **where)
        if len(data) > 1:
            self.find("extra_version", f"{len(data)} versions of a write-once block", **where)
        if not data:
            self.find("missing_block", "only delete markers remain", **where)
        return _data_version(versions)

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
        if manifest is None:
            self.find("unknown_key", f"no trusted key manifest to check {header.key_id}", **where)
        else:
            try:
                signer = manifest.check_signer(header.key_id, header.created_ms)
                signer.verify(header.signing_payload(), block.signature)
            except SignatureError as exc:
                kind = "unknown_key" if "not in key manifest" in str(exc) else "bad_signature"
                self.find(kind, str(exc), **where)
        if merkle_root(block.leaf_hashes()) != header.records_root:
            self.find(
                "records_root_mismatch", "records do not match the signed Merkle root", **where
            )
        offsets = block.offsets()
        expected = range(header.first_offset, header.last_offset + 1)
        if offsets != expected or header.record_count != len(offsets):
            self.find(
                "record_out_of_range",
                f"records cover offsets {list(offsets[:1])}..{list(offsets[-1:])} "
                f"({len(offsets)} records), "
                f"header says {header.first_offset}..{header.last_offset} ({header.record_count})",
                **where,
            )
        home = (chain.topic, chain.partition)
        strays = sum(n for where_from, n in block.record_partitions().items() if where_from != home)
        if strays:
            self.find("record_out_of_range", f"{strays} records of another partition", **where)

    def _check_link(
        self,
        header: BlockHeader,
        previous: BlockHeader | None,
        tree: CompactRange | None,
        where: dict[str, object],
    ) -> None:
        if tree is None:
            pass  # the tree could not be followed up to here (already reported)
        elif header.chain_size_before != tree.size or header.chain_root_before != tree.root():
            self.find("chain_root_mismatch", "chain root before this block differs", **where)
        if header.seq == 0:
            if header.prev_header_hash != ZERO_HASH:
                self.find("broken_link", "first block links to a predecessor", **where)
            return
        if previous is None:
            return  # the predecessor is already reported (missing or malformed)
        if header.prev_header_hash != previous.header_hash():
            self.find("broken_link", f"does not link to block {previous.seq}", **where)
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
        self, header: BlockHeader, version: ObjectVersion, where: dict[str, object]
    ) -> None:
        if not self.source.has_locks:
            return
        state = self.source.lock(header.object_key, version.version_id)
        if state.mode != "COMPLIANCE":
            self.find("not_locked", f"Object Lock mode is {state.mode}, not COMPLIANCE", **where)
            return
        created = datetime.fromtimestamp(header.created_ms / 1000, UTC)
        minimum = created + timedelta(days=self.options.min_retention_days) - timedelta(minutes=5)
        if state.retain_until is None or state.retain_until < minimum:
            self.find(
                "retention_too_short",
                f"retained until {state.retain_until}, minimum {minimum:%Y-%m-%d %H:%M}Z",
                **where,
            )


def _data_version(versions: list[ObjectVersion]) -> ObjectVersion | None:
    """The version of a block key to read: the latest data version (None: only markers)."""
    data = [v for v in versions if not v.is_delete_marker]
    if not data:
        return None
    return min(data, key=lambda v: (not v.is_latest, v.version_id or ""))
