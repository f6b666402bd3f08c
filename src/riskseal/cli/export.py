"""``riskseal export``: a user's sealed events, from verified blocks only, as a file."""

from __future__ import annotations

import enum
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from riskseal.audit.export import OUT_OF_SCOPE, ExportFilter, describe, export_rows
from riskseal.audit.export_formats import Format, check_format, open_output, partial_path
from riskseal.audit.verify import Verifier
from riskseal.audit.verify_range import parse_bound
from riskseal.cli._common import EXIT_FAILED, err, state, trail_source, verify_options
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
from riskseal.errors import ConfigError, ExportStoppedError


class ExportFormat(enum.StrEnum):
    """The file formats of an export."""

    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


_FORMATS: dict[ExportFormat, Format] = {
    ExportFormat.JSONL: "jsonl",
    ExportFormat.CSV: "csv",
    ExportFormat.PARQUET: "parquet",
}


def export(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option(help="Only this user's events (actor uid or user_id).")
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Earliest event time, inclusive (ISO, e.g. 2026-01-01)."),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Latest event time, inclusive; a date alone: that whole day."),
    ] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Only this topic (repeatable).")
    ] = None,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl, csv or parquet.")
    ] = ExportFormat.JSONL,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write here (parquet needs a file).", show_default="stdout"
        ),
    ] = None,
    include_unverified: Annotated[
        bool,
        typer.Option(
            "--include-unverified",
            help="Export blocks that fail verification too, marked verified=false with the "
            "finding, instead of stopping (exit code is still 1).",
        ),
    ] = False,
    local: LocalCopyOption = None,
    trust: TrustOption = None,
    chain: ChainOption = None,
    max_checkpoint_age: MaxCheckpointAgeOption = DEFAULT_MAX_CHECKPOINT_AGE_S,
    min_retention_days: MinRetentionDaysOption = None,
    progress: ProgressOption = False,
) -> None:
    """Export the decoded events of verified blocks (verifying as it goes); exit 1 if one fails.

    Every block is verified as `riskseal verify` does before any of its rows is written. A
    block that fails stops the export with the finding (exit 1): an --output file is then
    not created; rows already written to stdout are incomplete and must be discarded.
    Records that do not decode are exported with a decode_error column, never dropped.

    Example:

        riskseal export --user alice --from 2026-01-01 --to 2026-01-31 --format csv -o alice.csv
    """
    check_format(_FORMATS[fmt], output)
    wanted = ExportFilter(user=user, from_ms=_event_time(from_, False), to_ms=_event_time(to, True))
    if wanted.from_ms is not None and wanted.to_ms is not None and wanted.to_ms < wanted.from_ms:
        raise ConfigError("--to is before --from: the range is empty")
    settings = state(ctx).settings()
    source = trail_source(settings, local)
    options = replace(
        verify_options(settings, trust, min_retention_days),
        max_checkpoint_age_s=max_checkpoint_age,
        chain_filter=chain,
        topic_filter=tuple(topic or ()),
        event_checks=False,
    )
    rows = unverified = 0
    with block_progress(show_progress(progress, as_json=False), "exporting") as bar:
        verifier = Verifier(source, options, bar)
        try:
            with open_output(_FORMATS[fmt], output, sys.stdout) as writer:
                for row in export_rows(verifier, wanted, include_unverified):
                    writer.write(row)
                    rows += 1
                    unverified += not row.verified
        except ExportStoppedError as exc:
            _print_findings(verifier)
            err.print(f"FAIL: {exc}", markup=False)
            if output is not None:
                err.print(
                    f"FAIL: nothing written: {output} was not created "
                    f"({partial_path(output).name} removed)",
                    markup=False,
                )
            else:
                err.print(
                    f"FAIL: the {rows} row(s) written before the failed block are INCOMPLETE: "
                    "discard them",
                    markup=False,
                )
            raise typer.Exit(EXIT_FAILED) from None
    report = verifier.report
    for note in report.notes:
        err.print(f"NOTE: {note}", markup=False)
    failed = _print_findings(verifier)
    outside = len(report.findings) - failed
    if outside:
        err.print(
            f"NOTE: {outside} finding(s) about objects outside this export; run riskseal verify",
            markup=False,
        )
    blocks = sum(c.blocks for c in report.chains)
    where = f" to {output}" if output is not None else ""
    if failed:
        err.print(
            f"FAIL: {rows} rows exported{where} from {blocks} blocks, {unverified} of them from "
            f"blocks that FAILED verification (verified=false); {failed} finding(s)",
            markup=False,
        )
        raise typer.Exit(EXIT_FAILED)
    err.print(f"OK: {rows} rows exported{where} from {blocks} verified blocks", markup=False)


def _print_findings(verifier: Verifier) -> int:
    findings = [f for f in verifier.report.findings if f.kind not in OUT_OF_SCOPE]
    for finding in findings:
        err.print(f"FAIL: {describe(finding)}", markup=False)
    return len(findings)


def _event_time(text: str | None, is_end: bool) -> int | None:
    bound = parse_bound(text, chain_given=True, is_end=is_end)
    if bound is None:
        return None
    kind, value = bound
    if kind != "time":
        raise ConfigError(f"--from/--to of an export are event times (ISO), not {text!r}")
    return value
