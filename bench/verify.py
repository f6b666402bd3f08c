"""Verification benchmark: records/s and MB/s verified, against bare SHA-256 of the leaves.

Run with ``make bench-verify`` (or ``.venv/bin/python -m bench.verify [--records N]``). A trail
of signed blocks is built in memory (no Kafka: this measures verification, not sealing),
written to a local directory and to the local stack's S3, then verified. The baseline hashes
exactly the same leaves (``0x00 ‖ record bytes``) with ``hashlib.sha256`` and nothing else, in
the same run. Every rate is on one core (single process).

Rows:

* ``riskseal verify`` end to end (``Verifier.run``) from the local copy — integrity checks
  only, then with the event checks — and from S3 (object versions and locks too);
* the per-block integrity checks alone (parse, signature, Merkle root, offsets, partition,
  links) as a walker does them with the block's fast views (``offsets()``,
  ``record_partitions()``, ``leaf_hashes()``), with the fast reader and with the strict one;
* where the fast reader's time goes (inflate, record scan, hashing), and the event checks'
  per-event cost: reading the keys with the full decoder, with ``contract.partial`` one event
  at a time and a block at a time (``PartialDecoder.columns``, what the verifier uses), then
  the whole checks (``audit.event_checks``: keys read a block at a time, and the bookkeeping).

1 M records are timed when ``--records`` is at least 1,000,000, otherwise extrapolated from
the measured rate (and labelled so).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastavro import reader
from rich.console import Console

from bench.common import Row, local_stack, print_table, rate
from riskseal import blockread
from riskseal.audit.event_checks import EventChecks
from riskseal.audit.report import VerifyOptions
from riskseal.audit.sources import LocalTrailSource, S3TrailSource
from riskseal.audit.verify import Verifier
from riskseal.block import ZERO_HASH, Block, ChainId, SealedRecord, checkpoint_key
from riskseal.contract import AccessRequest, Actor, EventCodec, Resource, SourceStamp
from riskseal.contract.codec import typed_event
from riskseal.contract.events import Decision, RiskLevel, Verdict, Versions, new_event_id
from riskseal.contract.partial import PartialDecoder
from riskseal.keys import FileSigner, PublicKeys
from riskseal.manifest import first_manifest, manifest_key
from riskseal.merkle import CompactRange, root
from riskseal.s3client import s3_client_for
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.chain import ChainWriter, recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from riskseal.sealer.store import MemoryBlockStore

PREFIX, ORIGIN = "bench", "riskseal.bench/audit"
TOPICS = ("access.requests", "access.actions", "risk.decisions")
MILLION = 1_000_000


def build_trail(
    records: int, partitions: int = 4, block_size: int = 10_000
) -> tuple[MemoryBlockStore, FileSigner]:
    """A trail as a worker leaves it: access requests on ``partitions`` chains and, on as many
    decisions chains, one decision for each of them; with manifest and checkpoints."""
    store, signer = MemoryBlockStore(), FileSigner.generate("bench")
    codec = EventCodec()
    now = time.time_ns() // 1_000_000
    store.create(manifest_key(PREFIX, 0), first_manifest(signer, now - 1).sign([signer]))
    per_chain = records // (2 * partitions)
    versions = Versions("bench", "sha256:bench", "sha256:bench", "sha256:bench")
    for partition in range(partitions):
        requests, decisions = [], []
        for offset in range(per_chain):
            seq = partition * per_chain + offset
            user = f"user-{offset % 100}"
            request = AccessRequest(
                event_id=new_event_id(), time=now, source=SourceStamp("bench", 1, seq),
                actor=Actor(user), action="data.read", resource=Resource("doc", str(offset)),
            )  # fmt: skip
            decision = Decision(
                event_id=new_event_id(), time=now, source=SourceStamp("bench-risk", 1, seq),
                request_id=request.event_id, user_id=user, verdict=Verdict.ALLOW,
                request_risk=0, user_risk=0, risk_level=RiskLevel.LOW, versions=versions,
            )  # fmt: skip
            requests.append((user, codec.encode_event(request)))
            decisions.append((user, codec.encode_event(decision)))
        for topic, values in ((TOPICS[0], requests), (TOPICS[2], decisions)):
            _seal_chain(store, signer, ChainId("bench-cluster", topic, partition), values, now,
                        block_size)  # fmt: skip
    return store, signer


def _seal_chain(
    store: MemoryBlockStore,
    signer: FileSigner,
    chain: ChainId,
    values: list[tuple[str, bytes]],
    now: int,
    block_size: int,
) -> None:
    head = recover_head(store, PREFIX, chain, PublicKeys([signer.verifier]))
    writer = ChainWriter(head, store, signer, PREFIX, ORIGIN, clock_ms=lambda: now)
    for first in range(0, len(values), block_size):
        pending = []
        for offset, (key, value) in enumerate(values[first : first + block_size], first):
            record = SealedRecord(chain.topic, chain.partition, offset, now, 1, key.encode(), value)
            pending.append(PendingRecord(offset, now, record.canonical_bytes(), False))
        writer.append(writer.build(pending))
    note = signed_checkpoint(
        ORIGIN, chain, writer.head.tree.size, writer.head.tree.root(), signer, time_ms=now
    )
    store.create(checkpoint_key(PREFIX, chain, now), note)


def options(event_checks: bool = True) -> VerifyOptions:
    """Verify options for the bench trail."""
    return VerifyOptions(
        prefix=PREFIX,
        log_origin=ORIGIN,
        audit_topics=TOPICS,
        max_checkpoint_age_s=1e9,
        event_checks=event_checks,
    )


def block_files(root: Path) -> list[list[Path]]:
    """The local copy's block files, per chain, in seq order."""
    chains = sorted(p for p in (root / PREFIX / "blocks").glob("*/*/*") if p.is_dir())
    return [sorted(chain.iterdir()) for chain in chains]


def check_blocks(chains: list[list[Path]], keys: PublicKeys, fast: bool) -> int:
    """The per-block integrity checks of a walk, with the block's fast views; records checked.

    The same checks as ``Verifier._check_block`` and ``_check_link`` (place aside): signature,
    Merkle root, offsets exactly ``first … last``, every record of the chain's partition,
    header link, offset continuity, chain-level root. AssertionError on any failure (the
    bench trail is intact).
    """
    records = 0
    for paths in chains:
        previous_hash, next_offset, tree = ZERO_HASH, None, CompactRange()
        for path in paths:
            block = Block.from_bytes(path.read_bytes(), fast=fast)
            header = block.header
            chain = ChainId.parse(header.chain_id)
            keys.verify(header.key_id, header.signing_payload(), block.signature)
            assert root(block.leaf_hashes()) == header.records_root
            assert block.offsets() == range(header.first_offset, header.last_offset + 1)
            assert len(block.record_bytes) == header.record_count
            assert block.record_partitions().keys() == {(chain.topic, chain.partition)}
            assert header.prev_header_hash == previous_hash
            assert next_offset is None or header.first_offset == next_offset
            assert (header.chain_size_before, header.chain_root_before) == (tree.size, tree.root())
            previous_hash, next_offset = header.header_hash(), header.last_offset + 1
            tree.append(header.chain_leaf_hash())
            records += len(block.record_bytes)
    return records


def timed(work: Callable[[], object], repeat: int = 1) -> float:
    """The shortest wall time of ``repeat`` runs of ``work``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def fast_path_shares(blobs: list[bytes]) -> dict[str, float]:
    """Seconds spent in each step of the fast reader and the hashing, over ``blobs``."""
    starts = []
    for blob in blobs:
        buffer = io.BytesIO(blob)
        reader(buffer)
        starts.append(buffer.tell())
    inflated: list[list[tuple[int, bytes]]] = []

    def inflate() -> None:
        inflated.clear()
        for blob, start in zip(blobs, starts, strict=True):
            blocks = blockread.read_data_blocks(blob, start, "deflate")
            assert blocks is not None
            inflated.append(blocks)

    parsed = [Block.from_bytes(blob) for blob in blobs]
    return {
        "container header (fastavro)": timed(lambda: [reader(io.BytesIO(b)) for b in blobs], 3),
        "inflate (ISA-L)": timed(inflate, 3),
        "record scan": timed(lambda: [blockread.scan_records(b) for b in inflated], 3),
        "leaf hashes + Merkle root": timed(
            lambda: [
                root(Block(b.header, b.signature, b.record_bytes).leaf_hashes()) for b in parsed
            ],
            3,
        ),
    }


def event_rates(blobs: list[bytes]) -> dict[str, float]:
    """Events/s of the event checks: reading the keys (full decoder, the partial reader one
    event at a time, then a block at a time), and the whole checks over the blocks' values."""
    blocks = [
        (ChainId.parse(b.header.chain_id).topic, b.values()) for b in map(Block.from_bytes, blobs)
    ]
    values = [v for _, block_values in blocks for v in block_values if v]
    codec = EventCodec()
    partial = PartialDecoder(codec)

    def full() -> None:
        for value in values:
            typed_event(codec.decode(value))

    def keys() -> None:
        for value in values:
            partial.keys(value)

    def columns() -> None:
        for _, block_values in blocks:
            partial.columns(filter(None, block_values))

    def checks() -> None:
        events = EventChecks(TOPICS, partial)
        for topic, block_values in blocks:
            events.add(topic, block_values)
        events.finish()

    return {
        "full decode (fastavro + typed event)": len(values) / timed(full),
        "contract.partial keys, one event at a time": len(values) / timed(keys),
        "contract.partial columns, a block at a time": len(values) / timed(columns, 3),
        "audit.event_checks over the blocks' values": len(values) / timed(checks, 3),
    }


def main() -> None:
    """Build, verify from a local copy and from S3, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 rows (no local stack)")
    args = parser.parse_args()
    n = args.records - args.records % 8  # requests and decisions on 4 partitions each
    store, signer = build_trail(n)
    blobs = [data for key, data in store.objects.items() if "/blocks/" in key]
    leaves = [data for blob in blobs for data in Block.from_bytes(blob).record_bytes]
    assert len(leaves) == n
    mb = sum(len(d) for d in leaves) / n / 1e6  # MB per record
    sha256 = hashlib.sha256
    hash_rate = n / timed(lambda: [sha256(b"\x00" + d).digest() for d in leaves], 3)
    measured: list[tuple[str, float, str]] = [
        ("bare hashlib.sha256 of the leaves (baseline)", hash_rate, "")
    ]
    keys = PublicKeys([signer.verifier])
    with tempfile.TemporaryDirectory() as tmp:
        root_dir = Path(tmp)
        for key, data in store.objects.items():
            (root_dir / key).parent.mkdir(parents=True, exist_ok=True)
            (root_dir / key).write_bytes(data)
        chains = block_files(root_dir)
        fast_s = timed(lambda: check_blocks(chains, keys, fast=True), 2)
        measured.append(("block checks, fast reader (walker with fast views)", n / fast_s, ""))
        strict_s = timed(lambda: check_blocks(chains, keys, fast=False))
        measured.append(("block checks, strict reader (before)", n / strict_s, ""))
        for events in (False, True):
            started = time.perf_counter()
            report = Verifier(LocalTrailSource(root_dir, prefix=PREFIX), options(events)).run()
            label = "with event checks" if events else "integrity only"
            measured.append((f"riskseal verify, local copy, {label}", rate(n, started), ""))
            assert sum(c.records for c in report.chains) == n
            assert report.ok, report.findings[:3]
    if not args.no_s3:
        with local_stack() as endpoints:
            settings = endpoints.settings(s3_prefix=PREFIX)
            admin = s3_client_for(settings, "writer")
            for key, data in store.objects.items():
                admin.put_object(Bucket=settings.s3_bucket, Key=key, Body=data)
            source = S3TrailSource(s3_client_for(settings, "reader"), settings.s3_bucket)
            started = time.perf_counter()
            s3_report = Verifier(source, options()).run()
            measured.append(
                ("riskseal verify, from S3 (versions, locks, events)", rate(n, started), "")
            )
            assert sum(c.records for c in s3_report.chains) == n

    shares = fast_path_shares(blobs)
    total = sum(shares.values())
    event_rows = event_rates(blobs)
    rows = [
        Row(name, value, ratio=value / hash_rate, note=f"{value * mb:.1f} MB/s{note}")
        for name, value, note in measured
    ]
    rows += [
        Row(f"  of the fast path: {step}", n / seconds, note=f"{seconds / total:.0%} of its time")
        for step, seconds in shares.items()
    ]
    rows += [
        Row(f"event checks: {step}", value, ratio=value / hash_rate, note="events/s")
        for step, value in event_rows.items()
    ]
    print_table(f"riskseal verify, {n:,} records of {mb * 1e6:.0f} B", rows, Console(width=150))
    how = "measured" if n >= MILLION else f"extrapolated from {n:,} records"
    print(
        f"1 M records ({how}): block checks {MILLION * fast_s / n:.1f} s with the fast reader, "
        f"{MILLION * strict_s / n:.1f} s with the strict one; "
        + ", ".join(
            f"{name.removeprefix('riskseal verify, ')} {MILLION / value:.1f} s"
            for name, value, _ in measured
            if name.startswith("riskseal verify")
        )
    )


if __name__ == "__main__":
    main()
