"""A small sealed trail on disk, built in memory: the auditor's tests tamper with copies of it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from riskseal.audit.report import VerifyOptions
from riskseal.audit.sources import LockState, ObjectVersion
from riskseal.block import Block, ChainId, SealedRecord, block_key, checkpoint_key
from riskseal.contract import (
    AccessRequest,
    Actor,
    Decision,
    EventCodec,
    Resource,
    RiskLevel,
    SourceStamp,
    Verdict,
    Versions,
)
from riskseal.errors import StorageUnavailableError
from riskseal.keys import FileSigner, PublicKeys
from riskseal.manifest import KeyManifest, first_manifest, manifest_key, rotated
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.chain import ChainWriter, recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from riskseal.sealer.store import MemoryBlockStore

PREFIX, ORIGIN, CLUSTER = "audit", "riskseal.test/audit", "cluster-1"
REQUESTS, ACTIONS, DECISIONS = "access.requests", "access.actions", "risk.decisions"
NOW_MS = 1_790_000_000_000
CODEC = EventCodec()
FRESH = ["--max-checkpoint-age", "1e12"]
"""CLI arguments under which no checkpoint of a test trail is stale."""


def request(n: int, seq: int | None = None) -> AccessRequest:
    """Request ``n`` from source app-1 (its seq is ``n`` unless given)."""
    return AccessRequest(
        event_id=f"00000000-0000-4000-8000-{n:012d}", time=NOW_MS + n,
        source=SourceStamp("app-1", 1, n if seq is None else seq), actor=Actor(f"u{n % 3}"),
        action="data.read", resource=Resource("doc", f"d{n}"),
    )  # fmt: skip


def decision(n: int) -> Decision:
    """The decision on request ``n``."""
    return Decision(
        event_id=f"00000000-0000-4000-9000-{n:012d}", time=NOW_MS + n,
        source=SourceStamp("risk-1", 1, n), request_id=request(n).event_id, user_id=f"u{n % 3}",
        verdict=Verdict.ALLOW, request_risk=0, user_risk=0, risk_level=RiskLevel.LOW,
        versions=Versions("t", "t", "t", "t"),
    )  # fmt: skip


@dataclass
class Trail:
    """The store, its signer, and where it is written on disk."""

    store: MemoryBlockStore
    signer: FileSigner
    root: Path

    def chain(self, topic: str) -> ChainId:
        """The chain of partition 0 of ``topic``."""
        return ChainId(CLUSTER, topic, 0)

    def key(self, topic: str, seq: int) -> str:
        """Block key of ``seq`` in ``topic``'s chain."""
        return block_key(PREFIX, self.chain(topic), seq)

    def write(self) -> None:
        """Write every object as a file under ``root``."""
        for key, data in self.store.objects.items():
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def vkey_file(self) -> Path:
        """A file holding the trusted vkey."""
        path = self.root.parent / "trusted.vkey"
        path.write_text(self.signer.verifier.vkey() + "\n")
        return path


def seal_events(
    store: MemoryBlockStore,
    signer: FileSigner,
    topic: str,
    values: list[bytes],
    sizes: list[int],
    partition: int = 0,
) -> ChainWriter:
    """Seal ``values`` into blocks of ``sizes`` on ``partition`` of ``topic``; checkpoint it."""
    chain = ChainId(CLUSTER, topic, partition)
    head = recover_head(store, PREFIX, chain, PublicKeys([signer.verifier]))
    writer = ChainWriter(head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: NOW_MS)
    offset = 0
    for size in sizes:
        pending = []
        for value in values[offset : offset + size]:
            record = SealedRecord(topic, partition, offset, NOW_MS, 1, b"k", value)
            pending.append(PendingRecord(offset, NOW_MS, record.canonical_bytes(), False))
            offset += 1
        writer.append(writer.build(pending))
    tree = writer.head.tree
    note = signed_checkpoint(ORIGIN, chain, tree.size, tree.root(), signer, time_ms=NOW_MS)
    store.create(checkpoint_key(PREFIX, chain, NOW_MS), note)
    return writer


def build_trail(root: Path, requests: list[AccessRequest] | None = None) -> Trail:
    """Nine requests in three blocks, their nine decisions in two, a manifest, checkpoints."""
    store, signer = MemoryBlockStore(), FileSigner.generate("auditor-test")
    store.create(manifest_key(PREFIX, 0), first_manifest(signer, NOW_MS - 1).sign([signer]))
    sent = requests if requests is not None else [request(n) for n in range(9)]
    seal_events(
        store, signer, REQUESTS, [CODEC.encode_event(r) for r in sent], [3, 3, len(sent) - 6]
    )
    answered = [decision(n) for n in range(9)]
    seal_events(store, signer, DECISIONS, [CODEC.encode_event(d) for d in answered], [5, 4])
    trail = Trail(store, signer, root)
    trail.write()
    return trail


HOUR_MS = 3_600_000
RETIRED_MS = NOW_MS + HOUR_MS
"""When the trail's key is retired, in the tests that rotate it: an hour after its blocks."""


def rotate(trail: Trail) -> FileSigner:
    """Manifest version 1, stored and written: the trail's key valid until RETIRED_MS, a
    successor (returned) from then."""
    successor = FileSigner.generate("successor")
    first = KeyManifest.parse(trail.store.objects[manifest_key(PREFIX, 0)])
    version = rotated(first, trail.signer, successor, RETIRED_MS)
    trail.store.objects[manifest_key(PREFIX, 1)] = version.sign([trail.signer, successor])
    trail.write()
    return successor


def next_request_block(
    trail: Trail, signer: FileSigner, created_ms: int
) -> tuple[ChainWriter, Block]:
    """Block 3 of the requests chain, request 9 at offset 9, signed by ``signer`` and dated
    ``created_ms`` (well formed, linked, contiguous; not stored), and the writer that built
    it."""
    chain = trail.chain(REQUESTS)
    head = recover_head(trail.store, PREFIX, chain, PublicKeys([trail.signer.verifier]))
    writer = ChainWriter(head, trail.store, signer, PREFIX, ORIGIN, clock_ms=lambda: created_ms)
    record = SealedRecord(REQUESTS, 0, 9, NOW_MS, 1, b"k", CODEC.encode_event(request(9)))
    return writer, writer.build([PendingRecord(9, NOW_MS, record.canonical_bytes(), False)])


class VersionedSource:
    """An in-memory versioned bucket that answers like S3 (a TrailSource with locks).

    Every object starts as one locked version; ``put`` adds a version, ``delete`` a delete
    marker. Reading a key whose newest version is a delete marker without a version id, or
    asking for a version the key does not have, fails as S3 does: StorageUnavailableError.
    """

    has_locks = True
    has_checksums = False
    description = "s3://versioned-test"

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.stored: dict[str, list[tuple[str, bytes | None]]] = {}
        self.count = 0
        for key, data in objects.items():
            self.put(key, data)

    def put(self, key: str, data: bytes | None) -> None:
        """A new version of ``key`` (a delete marker when ``data`` is None)."""
        self.count += 1
        self.stored.setdefault(key, []).append((f"v{self.count:06d}", data))

    def delete(self, key: str) -> None:
        """A delete marker on ``key``."""
        self.put(key, None)

    def versions(self, prefix: str) -> list[ObjectVersion]:
        """Every version and marker under ``prefix``."""
        found = []
        for key in sorted(self.stored):
            if key.startswith(prefix):
                stored = self.stored[key]
                for n, (version_id, data) in enumerate(stored):
                    found.append(ObjectVersion(key, version_id, n == len(stored) - 1, data is None))
        return found

    def read(self, key: str, version_id: str | None = None) -> bytes:
        """One version's bytes, as S3 GET answers."""
        stored = self.stored.get(key, [])
        data = dict(stored).get(version_id) if version_id else (stored or [("", None)])[-1][1]
        if data is None:
            raise StorageUnavailableError(f"GET {key} ({version_id}): 404")
        return data

    def lock(self, key: str, version_id: str | None) -> LockState:
        """Every version is locked ten years; HEAD of a version the key lacks is a 404."""
        if version_id not in dict(self.stored.get(key, [])):
            raise StorageUnavailableError(f"HEAD {key} ({version_id}): 404 NoSuchVersion")
        until = datetime.fromtimestamp(NOW_MS / 1000, UTC) + timedelta(days=3650)
        return LockState("COMPLIANCE", until)

    def checksum_problem(self, key: str, version_id: str | None = None) -> str | None:
        """No stored checksums here (``has_checksums`` is false)."""
        return None


def verify_options(trail: Trail, **changes: Any) -> VerifyOptions:
    """The options of a verification of ``trail``, at NOW + 1 s, no checkpoint stale."""
    options = VerifyOptions(
        prefix=PREFIX, log_origin=ORIGIN, audit_topics=(REQUESTS, ACTIONS, DECISIONS),
        trusted_keys=(trail.signer.verifier,), max_checkpoint_age_s=1e12, now_ms=NOW_MS + 1000,
    )  # fmt: skip
    return dataclasses.replace(options, **changes)
