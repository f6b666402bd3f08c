"""``riskseal verify``: check the sealed trail in the bucket or in a local copy."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from riskseal.audit.report import Report
from riskseal.audit.verify import Verifier
from riskseal.audit.verify_range import parse_bound, range_from_bounds
from riskseal.cli._common import EXIT_FAILED, err, out, state, trail_source, verify_options
from riskseal.cli._progress import block_progress, show_progress
from riskseal.cli._trail_options import (
    DEFAULT_MAX_CHECKPOINT_AGE_S,
    ChainOption,
    LocalCopyOption,
    MaxCheckpointAgeOption,
    MinRetentionDaysOption,
    ProgressOption,
    TrustOption,
)


def verify(
    ctx: typer.Context,
    local: LocalCopyOption = None,
    trust: TrustOption = None,
    chain: ChainOption = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Start of the range: an ISO time of sealing (2026-01-01, 2026-01-01T08:00Z), "
            "or a block number with --chain. Inclusive.",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="End of the range, inclusive: an ISO time (a date alone means the end of "
            "that day) or a block number with --chain.",
        ),
    ] = None,
    max_checkpoint_age: MaxCheckpointAgeOption = DEFAULT_MAX_CHECKPOINT_AGE_S,
    min_retention_days: MinRetentionDaysOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every finding as JSON.")] = False,
    progress: ProgressOption = False,
) -> None:
    """Verify every block, link, signature, lock and checkpoint; exit 1 on any finding.

    Reads with the read-only auditor credentials (RISKSEAL_AUDIT_S3_*), or a local copy made
    with any S3 tool. Exit 0: everything holds; 1: integrity findings; 2: usage or I/O error
    (an outage is never reported as tampering or as success).

    With --from/--to only the blocks sealed in that range are verified in full, plus the
    link into the range and the checkpoints (see docs/AUDITING.md, "Verifying a period").

    Example:

        riskseal verify --trust sealer.vkey --json > report.json

        riskseal verify --trust sealer.vkey --from 2026-01-01 --to 2026-01-31
    """
    block_range = range_from_bounds(
        parse_bound(from_, chain_given=chain is not None, is_end=False),
        parse_bound(to, chain_given=chain is not None, is_end=True),
    )
    settings = state(ctx).settings()
    source = trail_source(settings, local)
    options = dataclasses.replace(
        verify_options(settings, trust, min_retention_days),
        max_checkpoint_age_s=max_checkpoint_age,
        chain_filter=chain,
        block_range=block_range,
    )
    with block_progress(show_progress(progress, as_json), "verifying") as bar:
        report = Verifier(source, options, bar).run()
    _print(report, as_json)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        document = {
            "source": report.source,
            "ok": report.ok,
            "range": report.range,
            "chains": [
                {"chain": str(c.chain), "blocks": c.blocks, "records": c.records,
                 "checkpoint_size": c.checkpoint_size, "first_seq": c.first_seq,
                 "last_seq": c.last_seq}
                for c in report.chains
            ],
            "findings": [dataclasses.asdict(f) for f in report.findings],
            "notes": report.notes,
        }  # fmt: skip
        out.print_json(json.dumps(document))
    else:
        title = f"riskseal verify: {report.source}"
        if report.range:
            title += f" ({report.range})"
        # Chain names and the source come from object keys and arguments: never markup.
        table = Table("chain", "blocks", "records", "checkpoint", title=Text(title))
        for result in report.chains:
            counted = str(result.blocks)
            if report.range and result.first_seq is not None:
                counted += f" (seq {result.first_seq}..{result.last_seq})"
            table.add_row(
                Text(str(result.chain)), counted, str(result.records),
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
        scope = f" in {report.range}" if report.range else ""
        err.print(
            f"OK: {len(report.chains)} chains, {blocks} blocks, {records} records verified{scope}"
        )
    else:
        err.print(f"FAIL: {len(report.findings)} finding(s)")
