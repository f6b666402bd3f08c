"""``riskseal verify``: check a sealed trail end to end and report every finding.

Unlike a walk that stops at the first problem, the verifier keeps going and reports all it
finds, each with a kind, the chain, the block and a precise detail, so an auditor sees the
whole extent of a problem. Findings are integrity problems only; an outage raises
StorageUnavailableError and never turns into a finding or into a pass.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from riskseal.audit.sources import ObjectVersion, TrailSource
from riskseal.block import ZERO_HASH, Block, BlockHeader, ChainId, block_key, records_root
from riskseal.contract.codec import EventCodec, typed_event
from riskseal.contract.events import AccessRequest, Decision
from riskseal.errors import ContractError, IntegrityError
from riskseal.keys import SignatureError, VerifierKey
from riskseal.manifest import KeyManifest, manifest_key
from riskseal.merkle import CompactRange
from riskseal.note import Checkpoint, NoteError, SignedNote
from riskseal.sealer.checkpoint import chain_origin


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
    leaves: list[bytes] = field(default_factory=list)


@dataclass
class Report:
    """Everything the verifier found."""

    source: str
    findings: list[Finding] = field(default_factory=list)
    chains: list[ChainResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Checks not performed and assumptions made (never counted as passes)."""

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
    now_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)


class Verifier:
    """Checks every object under a prefix of a TrailSource."""

    def __init__(self, source: TrailSource, options: VerifyOptions) -> None:
        self.source = source
        self.options = options
        self.report = Report(source.description)
        self.codec = EventCodec()

    def find(self, kind: str, detail: str, **where: object) -> None:
        """Record a finding."""
        self.report.findings.append(Finding(kind, detail, **where))  # type: ignore[arg-type]

    # --- top level -------------------------------------------------------------------------
    def run(self) -> Report:
        """Verify everything; return the report (StorageUnavailableError on outages)."""
        prefix = self.options.prefix
        manifest = self._manifest()
        by_key: dict[str, list[ObjectVersion]] = defaultdict(list)
        for version in self.source.versions(f"{prefix}/"):
            by_key[version.key].append(version)
        chains: dict[str, dict[int, list[ObjectVersion]]] = defaultdict(dict)
        checkpoints: dict[str, list[str]] = defaultdict(list)
        for key, versions in sorted(by_key.items()):
            place = self._classify(key)
            if place is None:
                continue
            kind, chain, number = place
            if kind == "block":
                chains[chain][number] = versions
            else:
                checkpoints[chain].append(key)
        if not self.source.has_locks:
            self.report.notes.append(
                "Object Lock and object versions were not checked: a local copy has neither; "
                "verify against the bucket for those"
            )
        events: list[tuple[str, bytes]] = []
        for chain_text in sorted(set(chains) | set(checkpoints)):
            if self.options.chain_filter and chain_text != self.options.chain_filter:
                continue
            result = self._chain(
                ChainId.parse(chain_text), chains.get(chain_text, {}), manifest, events
            )
            self._checkpoints(result, sorted(checkpoints.get(chain_text, [])), manifest)
            self.report.chains.append(result)
        self._events(events)
        return self.report

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
    def _chain(
        self,
        chain: ChainId,
        blocks: dict[int, list[ObjectVersion]],
        manifest: KeyManifest | None,
        events: list[tuple[str, bytes]],
    ) -> ChainResult:
        result = ChainResult(chain)
        previous: BlockHeader | None = None
        tree = CompactRange()
        head = max(blocks) if blocks else -1
        for seq in range(head + 1):
            key = block_key(self.options.prefix, chain, seq)
            where = {"chain": str(chain), "seq": seq, "key": key}
            versions = blocks.get(seq)
            if not versions:
                self.find("missing_block", "no object for this sequence number (a gap)", **where)
                previous = None
                continue
            data_version = self._check_versions(versions, where)
            if data_version is None:
                continue
            try:
                block = Block.from_bytes(self.source.read(key, data_version.version_id))
            except IntegrityError as exc:
                self.find("malformed_block", str(exc), **where)
                previous = None
                continue
            self._check_block(block, key, chain, seq, manifest, where)
            self._check_link(block.header, previous, tree, where)
            self._check_lock(block.header, data_version, where)
            tree.append(block.header.chain_leaf_hash())
            result.leaves.append(block.header.chain_leaf_hash())
            result.blocks += 1
            result.records += len(block.record_bytes)
            previous = block.header
            if chain.topic in self.options.audit_topics:
                events.extend((chain.topic, r.value) for r in block.records() if r.value)
        return result

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
            return None
        return min(data, key=lambda v: (not v.is_latest, v.version_id or ""))

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
        if records_root(block.record_bytes) != header.records_root:
            self.find(
                "records_root_mismatch", "records do not match the signed Merkle root", **where
            )
        records = block.records()
        offsets = [record.offset for record in records]
        expected = list(range(header.first_offset, header.last_offset + 1))
        if offsets != expected or header.record_count != len(offsets):
            self.find(
                "record_out_of_range",
                f"records cover offsets {offsets[:1]}..{offsets[-1:]} ({len(offsets)} records), "
                f"header says {header.first_offset}..{header.last_offset} ({header.record_count})",
                **where,
            )
        strays = [r for r in records if (r.topic, r.partition) != (chain.topic, chain.partition)]
        if strays:
            self.find("record_out_of_range", f"{len(strays)} records of another partition", **where)

    def _check_link(
        self,
        header: BlockHeader,
        previous: BlockHeader | None,
        tree: CompactRange,
        where: dict[str, object],
    ) -> None:
        if header.chain_size_before != tree.size or header.chain_root_before != tree.root():
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

    # --- checkpoints ---------------------------------------------------------------------------
    def _checkpoints(
        self, result: ChainResult, keys: list[str], manifest: KeyManifest | None
    ) -> None:
        chain = str(result.chain)
        if not keys:
            if result.blocks:
                self.find("no_checkpoint", "no signed checkpoint covers this chain", chain=chain)
            return
        trusted = manifest.public_keys().keys() if manifest else []
        last_size = -1
        for key in keys:
            try:
                note = SignedNote.parse(self.source.read(key))
                note.verify(trusted)
                checkpoint = Checkpoint.parse(note.text)
            except (IntegrityError, NoteError) as exc:
                self.find("bad_checkpoint", str(exc), chain=chain, key=key)
                continue
            if checkpoint.origin != chain_origin(self.options.log_origin, result.chain):
                self.find("bad_checkpoint", f"origin {checkpoint.origin!r}", chain=chain, key=key)
                continue
            if checkpoint.size < last_size:
                self.find(
                    "checkpoint_regressed",
                    f"size {checkpoint.size} after a checkpoint of size {last_size}",
                    chain=chain, key=key,
                )  # fmt: skip
            last_size = max(last_size, checkpoint.size)
            if checkpoint.size > result.blocks:
                self.find(
                    "tail_truncated",
                    f"checkpoint covers {checkpoint.size} blocks, the chain has {result.blocks}",
                    chain=chain, key=key,
                )  # fmt: skip
                continue
            prefix_tree = CompactRange()
            for leaf in result.leaves[: checkpoint.size]:
                prefix_tree.append(leaf)
            if prefix_tree.root() != checkpoint.root_hash:
                self.find(
                    "checkpoint_mismatch",
                    f"root of the first {checkpoint.size} blocks differs: a forked history",
                    chain=chain, key=key,
                )  # fmt: skip
        result.checkpoint_size = last_size if last_size >= 0 else None
        written_ms = int(keys[-1].rsplit("/", 1)[1])
        age_s = (self.options.now_ms - written_ms) / 1000
        if age_s > self.options.max_checkpoint_age_s:
            self.find(
                "stale_checkpoint",
                f"newest checkpoint is {age_s:.0f} s old "
                f"(limit {self.options.max_checkpoint_age_s:g} s)",
                chain=chain, key=keys[-1],
            )  # fmt: skip

    # --- events --------------------------------------------------------------------------------
    def _events(self, events: Iterable[tuple[str, bytes]]) -> None:
        requests_topic, _, decisions_topic = self.options.audit_topics
        seqs: dict[tuple[str, int], list[int]] = defaultdict(list)
        requests: set[str] = set()
        decided: dict[str, int] = defaultdict(int)
        for topic, value in events:
            try:
                event = typed_event(self.codec.decode(value))
            except ContractError:
                continue  # sealed as flagged records; not an event
            seqs[(event.source.source_id, event.source.epoch)].append(event.source.seq)
            if topic == requests_topic and isinstance(event, AccessRequest):
                requests.add(event.event_id)
            elif topic == decisions_topic and isinstance(event, Decision):
                decided[event.request_id] += 1
        for (source_id, epoch), numbers in sorted(seqs.items()):
            numbers.sort()
            seen = set(numbers)
            missing = [n for n in range(numbers[0], numbers[-1] + 1) if n not in seen]
            if numbers[0] != 0:
                missing = list(range(numbers[0])) + missing
            if missing:
                self.find(
                    "source_seq_gap",
                    f"source {source_id} epoch {epoch}: {len(missing)} events never reached "
                    f"Kafka (first missing seq {missing[0]})",
                )
            if len(numbers) != len(seen):
                self.find(
                    "source_seq_duplicate", f"source {source_id} epoch {epoch}: a seq repeats"
                )
        for request_id in sorted(requests - decided.keys()):
            self.find("request_without_decision", f"request {request_id} has no sealed decision")
        for request_id in sorted(decided.keys() - requests):
            self.find("decision_without_request", f"decision for unknown request {request_id}")
        for request_id, count in sorted(decided.items()):
            if count > 1:
                self.find("duplicate_decision", f"request {request_id} has {count} decisions")
