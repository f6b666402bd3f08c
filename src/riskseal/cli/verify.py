"""``riskseal verify``: check the sealed trail in the bucket or in a local copy."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from riskseal.audit.sources import LocalTrailSource, S3TrailSource, TrailSource
from riskseal.audit.verify import Report, Verifier, VerifyOptions
from riskseal.cli._common import EXIT_FAILED, err, out, state
from riskseal.keys import VerifierKey
from riskseal.s3client import s3_client_for


def verify(
    ctx: typer.Context,
    local: Annotated[
        Path | None,
        typer.Option("--local", help="Verify a local copy of the bucket instead of S3."),
    ] = None,
    trust: Annotated[
        list[Path] | None,
        typer.Option("--trust", help="File with a trusted vkey (repeatable); pins the keys."),
    ] = None,
    chain: Annotated[
        str | None, typer.Option(help="Verify one chain only: cluster/topic/partition.")
    ] = None,
    max_checkpoint_age: Annotated[
        float, typer.Option(help="Newest checkpoint older than this (seconds) is stale.")
    ] = 3600.0,
    min_retention_days: Annotated[
        int | None, typer.Option(help="Minimum Object Lock retention [default: setting].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every finding as JSON.")] = False,
) -> None:
    """Verify every block, link, signature, lock and checkpoint; exit 1 on any finding.

    Reads with the read-only auditor credentials (RISKSEAL_AUDIT_S3_*), or a local copy made
    with any S3 tool. Exit 0: everything holds; 1: integrity findings; 2: usage or I/O error
    (an outage is never reported as tampering or as success).

    Example:

        riskseal verify --trust sealer.vkey --json > report.json
    """
    settings = state(ctx).settings()
    source: TrailSource
    if local is not None:
        source = LocalTrailSource(local)
    else:
        source = S3TrailSource(s3_client_for(settings, "reader"), settings.s3_bucket)
    trusted = tuple(VerifierKey.from_vkey(path.read_text().strip()) for path in trust or [])
    options = VerifyOptions(
        prefix=settings.s3_prefix,
        log_origin=settings.log_origin,
        audit_topics=(settings.topic_requests, settings.topic_actions, settings.topic_decisions),
        trusted_keys=trusted,
        min_retention_days=min_retention_days or settings.object_lock_retention_days,
        max_checkpoint_age_s=max_checkpoint_age,
        chain_filter=chain,
    )
    report = Verifier(source, options).run()
    _print(report, as_json)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        document = {
            "source": report.source,
            "ok": report.ok,
            "chains": [
                {"chain": str(c.chain), "blocks": c.blocks, "records": c.records,
                 "checkpoint_size": c.checkpoint_size}
                for c in report.chains
            ],
            "findings": [dataclasses.asdict(f) for f in report.findings],
            "notes": report.notes,
        }  # fmt: skip
        out.print_json(json.dumps(document))
    else:
        table = Table(
            "chain", "blocks", "records", "checkpoint", title=f"riskseal verify: {report.source}"
        )
        for result in report.chains:
            table.add_row(
                str(result.chain), str(result.blocks), str(result.records),
                "—" if result.checkpoint_size is None else str(result.checkpoint_size),
            )  # fmt: skip
        out.print(table)
        for finding in report.findings:
            where = " ".join(str(x) for x in (finding.key or finding.chain or "",) if x)
            err.print(f"FAIL: {finding.kind}: {where} {finding.detail}".rstrip(), markup=False)
    for note in report.notes:
        err.print(f"NOTE: {note}", markup=False)
    if report.ok:
        blocks = sum(c.blocks for c in report.chains)
        records = sum(c.records for c in report.chains)
        err.print(f"OK: {len(report.chains)} chains, {blocks} blocks, {records} records verified")
    else:
        err.print(f"FAIL: {len(report.findings)} finding(s)")
