"""Verification benchmark: records/s and MB/s verified, against bare SHA-256 of the leaves.

Run with ``make bench-verify`` (or ``.venv/bin/python -m bench.verify``). A trail of signed
blocks is built in memory (no Kafka: this measures verification, not sealing), written to a
local directory and to the local stack's S3, then verified from both. The baseline hashes
exactly the same leaves with ``hashlib.sha256`` and nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from bench.common import Row, local_stack, print_table, rate
from riskseal.audit.sources import LocalTrailSource, S3TrailSource
from riskseal.audit.verify import Verifier, VerifyOptions
from riskseal.block import ChainId, SealedRecord, checkpoint_key
from riskseal.contract import AccessRequest, Actor, EventCodec, Resource, SourceStamp
from riskseal.contract.events import new_event_id
from riskseal.keys import FileSigner, PublicKeys
from riskseal.manifest import first_manifest, manifest_key
from riskseal.s3client import s3_client_for
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.chain import ChainWriter, recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from riskseal.sealer.store import MemoryBlockStore

PREFIX, ORIGIN = "bench", "riskseal.bench/audit"
TOPICS = ("access.requests", "access.actions", "risk.decisions")


def build_trail(records: int, partitions: int = 4, block_size: int = 10_000) -> MemoryBlockStore:
    """Blocks of encoded access requests on ``partitions`` chains, with manifest and checkpoints."""
    store, signer, codec = MemoryBlockStore(), FileSigner.generate("bench"), EventCodec()
    now = time.time_ns() // 1_000_000
    store.create(manifest_key(PREFIX, 0), first_manifest(signer, now - 1).sign([signer]))
    per_partition = records // partitions
    for partition in range(partitions):
        chain = ChainId("bench-cluster", TOPICS[0], partition)
        head = recover_head(store, PREFIX, chain, PublicKeys([signer.verifier]))
        writer = ChainWriter(head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: now)
        for first in range(0, per_partition, block_size):
            pending = []
            for offset in range(first, min(first + block_size, per_partition)):
                seq = partition * per_partition + offset
                request = AccessRequest(
                    event_id=new_event_id(), time=now, source=SourceStamp("bench", 1, seq),
                    actor=Actor(f"user-{offset % 100}"), action="data.read",
                    resource=Resource("doc", str(offset)),
                )  # fmt: skip
                record = SealedRecord(
                    chain.topic, partition, offset, now, 1, b"k", codec.encode_event(request)
                )
                pending.append(PendingRecord(offset, now, record.canonical_bytes(), False))
            writer.append(writer.build(pending))
        note = signed_checkpoint(
            ORIGIN, chain, writer.head.tree.size, writer.head.tree.root(), signer
        )
        store.create(checkpoint_key(PREFIX, chain, now), note)
    return store


def options() -> VerifyOptions:
    """Verify options for the bench trail (the event checks find the ids unanswered)."""
    return VerifyOptions(
        prefix=PREFIX, log_origin=ORIGIN, audit_topics=TOPICS, max_checkpoint_age_s=1e9
    )


def bare_hashing(store: MemoryBlockStore) -> tuple[float, int]:
    """SHA-256 of every leaf (0x00 ‖ record bytes) of every block; (records/s, bytes)."""
    from riskseal.block import Block

    leaves = [
        data
        for key, blob in store.objects.items()
        if "/blocks/" in key
        for data in Block.from_bytes(blob).record_bytes
    ]
    started = time.perf_counter()
    for data in leaves:
        hashlib.sha256(b"\x00" + data).digest()
    return rate(len(leaves), started), sum(len(d) for d in leaves)


def main() -> None:
    """Build, verify from a local copy and from S3, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    store = build_trail(args.records)
    hash_rate, size = bare_hashing(store)
    mb = size / args.records / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for key, data in store.objects.items():
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(data)
        started = time.perf_counter()
        report = Verifier(LocalTrailSource(root), options()).run()
        local_rate = rate(args.records, started)
    assert sum(c.records for c in report.chains) == args.records
    assert {f.kind for f in report.findings} <= {"request_without_decision"}
    with local_stack() as endpoints:
        settings = endpoints.settings(s3_prefix=PREFIX)
        admin = s3_client_for(settings, "writer")
        for key, data in store.objects.items():
            admin.put_object(Bucket=settings.s3_bucket, Key=key, Body=data)
        started = time.perf_counter()
        s3_report = Verifier(
            S3TrailSource(s3_client_for(settings, "reader"), settings.s3_bucket), options()
        ).run()
        s3_rate = rate(args.records, started)
    assert sum(c.records for c in s3_report.chains) == args.records
    measured = [
        ("bare hashlib.sha256 of the leaves (baseline)", hash_rate),
        ("riskseal verify, local copy", local_rate),
        ("riskseal verify, from S3 (locks, versions)", s3_rate),
    ]
    rows = [
        Row(name, value, ratio=value / hash_rate, note=f"{value * mb:.1f} MB/s")
        for name, value in measured
    ]
    print_table(f"riskseal verify, {args.records:,} records of {size / args.records:.0f} B", rows)


if __name__ == "__main__":
    main()
