"""Sealing everything the demo produced, verifying the bucket, and catching a tampered copy.

The sealer runs in-process (a thread) until it has sealed exactly the records the demo
counted on the audit topics. The bucket is then verified as ``riskseal verify`` does, with
the auditor's read-only credentials and the sealer's key pinned; a local copy of the bucket
gets one flipped bit and is verified again, as ``riskseal verify --local`` would.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from riskseal.audit.report import Finding, Report, VerifyOptions
from riskseal.audit.sources import LocalTrailSource, S3TrailSource
from riskseal.audit.verify import Verifier
from riskseal.block import Block, ChainId, block_key
from riskseal.demo.report import DemoFailed
from riskseal.keys import FileSigner, VerifierKey
from riskseal.s3client import s3_client_for
from riskseal.sealer.keyring import ensure_signer_listed
from riskseal.sealer.service import Sealer
from riskseal.sealer.store import S3BlockStore
from riskseal.settings import Settings

SEAL_TIMEOUT_S = 90.0


@dataclass(frozen=True, slots=True)
class Sealed:
    """What the sealer wrote."""

    key: VerifierKey
    cluster_id: str
    records: int
    blocks: int
    flagged: int


def seal(console: Console, settings: Settings, workdir: Path, expected: int) -> Sealed:
    """Run the sealer until ``expected`` records are sealed; DemoFailed otherwise."""
    signer = FileSigner.generate("demo-sealer")
    signer.save(workdir / "sealer.key")
    store = S3BlockStore(
        s3_client_for(settings, "writer"),
        settings.s3_bucket,
        settings.object_lock_mode,
        settings.object_lock_retention_days,
    )
    manifest = ensure_signer_listed(store, settings.s3_prefix, signer)
    console.print(f"key manifest v{manifest.version} publishes {signer.verifier.vkey()}")
    sealer = Sealer(settings, signer, manifest, store)
    stop = threading.Event()
    thread = threading.Thread(target=sealer.run, args=(stop,), name="demo-sealer", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + SEAL_TIMEOUT_S
        while sealer.metrics.records < expected and time.monotonic() < deadline:
            if not thread.is_alive():
                raise DemoFailed("the sealer stopped before sealing every record")
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
    metrics = sealer.metrics
    if metrics.records != expected:
        raise DemoFailed(f"sealed {metrics.records} of {expected} records")
    console.print(
        f"[green]OK[/green] sealed {metrics.records} records in {metrics.blocks} blocks, "
        f"{metrics.checkpoints} signed checkpoints; offsets committed only after each PUT"
    )
    if metrics.flagged:
        console.print(
            f"[green]OK[/green] {metrics.flagged} records that are not events (the garbage and "
            "its dead letter) sealed raw and flagged, not dropped"
        )
    return Sealed(
        signer.verifier, sealer.cluster_id, metrics.records, metrics.blocks, metrics.flagged
    )


def verify_bucket(console: Console, settings: Settings, sealed: Sealed) -> Report:
    """``riskseal verify --trust sealer.vkey`` on the bucket; DemoFailed unless it passes."""
    source = S3TrailSource(s3_client_for(settings, "reader"), settings.s3_bucket)
    report = Verifier(source, _options(settings, sealed)).run()
    table = Table(
        "chain", "blocks", "records", "checkpoint", title=f"riskseal verify: {source.description}"
    )
    for result in report.chains:
        chain = result.chain
        table.add_row(
            f"{chain.topic}/{chain.partition}", str(result.blocks), str(result.records),
            "—" if result.checkpoint_size is None else str(result.checkpoint_size),
        )  # fmt: skip
    console.print(table)
    for note in report.notes:
        console.print(f"NOTE: {escape(note)}")
    unexpected = report.findings
    for finding in unexpected:
        console.print(
            f"  FAIL: {escape(finding.kind)}: {escape(_where(finding))} {escape(finding.detail)}"
        )
    if unexpected:
        first = unexpected[0]
        raise DemoFailed(
            f"the sealed bucket did not verify: {len(unexpected)} finding(s), first "
            f"{first.kind}: {_where(first)} {first.detail}"
        )
    records = sum(result.records for result in report.chains)
    console.print(
        f"[green]OK[/green] {len(report.chains)} chains, "
        f"{sum(result.blocks for result in report.chains)} blocks, {records} records verified: "
        "signatures, Merkle roots, links, offsets, Object Lock, checkpoints, a decision for "
        "every request"
    )
    return report


def catch_tampered_copy(
    console: Console, settings: Settings, sealed: Sealed, workdir: Path
) -> Report:
    """Copy the bucket, flip one bit of one sealed request, verify the copy: it must fail."""
    copy = workdir / "bucket-copy"
    reader = s3_client_for(settings, "reader")
    pages = reader.get_paginator("list_objects_v2").paginate(
        Bucket=settings.s3_bucket, Prefix=f"{settings.s3_prefix}/"
    )
    for page in pages:
        for item in page.get("Contents", []):
            target = copy / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            body = reader.get_object(Bucket=settings.s3_bucket, Key=item["Key"])["Body"]
            target.write_bytes(body.read())
    tampered = None
    for partition in range(settings.partitions_access):
        chain = ChainId(sealed.cluster_id, settings.topic_requests, partition)
        path = copy / block_key(settings.s3_prefix, chain, 0)
        if path.is_file():
            tampered = path
            break
    if tampered is None:
        raise DemoFailed("no sealed block of access requests to tamper with")
    block = Block.from_bytes(tampered.read_bytes())
    forged = bytearray(block.record_bytes[0])
    forged[-10] ^= 0x01  # one bit inside the first record
    tampered.write_bytes(
        dataclasses.replace(block, record_bytes=(bytes(forged), *block.record_bytes[1:])).to_bytes()
    )
    report = Verifier(
        LocalTrailSource(copy, prefix=settings.s3_prefix), _options(settings, sealed)
    ).run()
    caught = report.findings
    if not caught:
        raise DemoFailed("a tampered copy verified")
    console.print(
        f"[green]CAUGHT[/green] one flipped bit in a local copy "
        f"(riskseal verify --local exits 1), {len(caught)} finding(s):"
    )
    for finding in caught:
        console.print(
            f"  FAIL: {escape(finding.kind)}: {escape(_where(finding))} {escape(finding.detail)}"
        )
    return report


def _where(finding: Finding) -> str:
    return finding.key or finding.chain or ""


def _options(settings: Settings, sealed: Sealed) -> VerifyOptions:
    return VerifyOptions(
        prefix=settings.s3_prefix,
        log_origin=settings.log_origin,
        audit_topics=(settings.topic_requests, settings.topic_actions, settings.topic_decisions),
        trusted_keys=(sealed.key,),
        min_retention_days=settings.object_lock_retention_days,
    )
