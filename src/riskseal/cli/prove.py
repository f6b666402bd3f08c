"""``riskseal prove`` and ``riskseal verify-proof``: one record, proved offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from riskseal.audit.manifest_checks import follow_versions
from riskseal.audit.proof import ProofBundle, verify_bundle
from riskseal.audit.prove import Located, build_bundle, find_event
from riskseal.block import ChainId
from riskseal.cli._common import (
    EXIT_FAILED,
    err,
    out,
    read_input,
    state,
    trail_source,
    trusted_keys,
    write_output,
)
from riskseal.cli._trail_options import LocalCopyOption
from riskseal.errors import ConfigError, IntegrityError
from riskseal.timestamps import iso_text

_VERSION_NAME = re.compile(r"[0-9]{6}")
"""A key manifest version's name in its folder (``manifest_key``'s last part)."""
_MANIFEST_HINT = (
    "give --manifest the folder holding the key manifest versions 000000, 000001, … "
    "(copied from <prefix>/keys/manifest/ in the bucket)"
)


def prove(
    ctx: typer.Context,
    event_id: Annotated[str | None, typer.Argument(help="The event id to prove.")] = None,
    chain: Annotated[
        str | None, typer.Option(help="Instead of an event id: cluster/topic/partition …")
    ] = None,
    offset: Annotated[int | None, typer.Option(help="… and the record's offset.")] = None,
    local: LocalCopyOption = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the bundle here.", show_default="stdout")
    ] = None,
) -> None:
    """Write a self-contained proof bundle for one sealed record.

    The bundle holds the record, its Merkle path in its block, the signed block header, the
    block's path in the chain and the signed checkpoint it leads to. Anyone can check it
    offline with `riskseal verify-proof` and the public key.

    Example:

        riskseal prove 3f0c2a9e-5b1d-4c8e-9f7a-2d6b8e1c4a50 --out proof.json
    """
    settings = state(ctx).settings()
    source = trail_source(settings, local)
    if event_id is not None:
        located = find_event(source, settings.s3_prefix, settings.audit_topics, event_id)
    elif chain is not None and offset is not None:
        located = Located(ChainId.parse(chain), offset)
    else:
        raise ConfigError("give an EVENT_ID, or --chain and --offset")
    bundle = build_bundle(source, settings.s3_prefix, located)
    if out_file is None:
        out.print(bundle.to_json(), markup=False, end="")
    else:
        write_output(out_file, bundle.to_json(), "--out")
    err.print(f"OK: proof of {located.chain} offset {located.offset} written")


def verify_proof(
    bundle_file: Annotated[Path, typer.Argument(help="A bundle written by `riskseal prove`.")],
    trust: Annotated[
        list[Path], typer.Option("--trust", help="File with a trusted vkey (repeatable).")
    ],
    manifest_dir: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="Folder holding the key manifest versions (000000, 000001, … as under "
            "<prefix>/keys/manifest/ in the bucket), followed from the --trust key: the "
            "block and checkpoint keys must have been valid when they signed.",
        ),
    ] = None,
) -> None:
    """Check a proof bundle offline: with the trusted public key, and the key manifest.

    Exit 0 when it proves its record, 1 when it does not (a bundle that is altered or
    malformed in any field proves nothing; with --manifest, a key that was not valid when
    it signed, or a manifest that does not follow from the trusted key), 2 when a file
    cannot be read.

    Example:

        riskseal verify-proof proof.json --trust sealer.vkey --manifest manifest/
    """
    trusted = trusted_keys(trust)
    data = read_input(bundle_file, "proof bundle", "give the file `riskseal prove` wrote")
    versions = read_manifest_versions(manifest_dir) if manifest_dir is not None else None
    try:
        manifest = follow_versions(versions, trusted) if versions is not None else None
        proved = verify_bundle(ProofBundle.from_json(data), trusted, manifest)
    except IntegrityError as exc:
        err.print(f"FAIL: {exc}", markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    record = proved.record
    out.print(
        f"record {record.topic}/{record.partition}@{record.offset} is in block "
        f"{proved.header.seq} of {proved.header.chain_id}, signed by {proved.signer}, "
        f"covered by a checkpoint of {proved.checkpoint.size} blocks signed at "
        f"{iso_text(proved.checkpoint_time_ms)}",
        markup=False,
    )
    if manifest is None:
        err.print(
            "NOTE: key validity not checked: without --manifest, a key retired since still "
            "proves; give the folder of key manifest versions to check it",
            markup=False,
        )
    else:
        out.print(f"keys valid when they signed, by key manifest version {manifest.version}")
    err.print("OK: proof verified")


def read_manifest_versions(folder: Path) -> list[bytes]:
    """The signed key manifest versions in ``folder``, version 0 first; ConfigError (exit 2)
    when the folder cannot be read, holds no version 0, or skips a version (an incomplete
    copy: a later version might retire a key)."""
    try:
        names = {path.name for path in folder.iterdir() if _VERSION_NAME.fullmatch(path.name)}
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read --manifest {folder}: {reason}; {_MANIFEST_HINT}") from None
    numbers = sorted(int(name) for name in names)
    if not numbers or numbers != list(range(len(numbers))):
        missing = next(n for n in range(len(numbers) + 1) if n not in numbers)
        raise ConfigError(
            f"--manifest {folder} has no version {missing:06d}"
            + (f" but has {numbers[-1]:06d}: the copy is incomplete" if numbers else "")
            + f"; {_MANIFEST_HINT}"
        )
    return [
        read_input(folder / f"{n:06d}", "key manifest version", _MANIFEST_HINT) for n in numbers
    ]
