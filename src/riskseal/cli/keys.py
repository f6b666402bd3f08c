"""``riskseal keys generate | export-public | rotate``: the sealer's signing keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskseal.cli._common import err, out, state
from riskseal.keys import FileSigner
from riskseal.s3client import s3_client_for
from riskseal.sealer.keyring import publish_rotation
from riskseal.sealer.store import S3BlockStore

keys_app = typer.Typer(help="Create, publish and rotate signing keys.", no_args_is_help=True)


@keys_app.command("generate")
def generate(
    out_file: Annotated[Path, typer.Option("--out", help="Private key file to create (0600).")],
    name: Annotated[
        str, typer.Option(help="Key name, shown in signatures (no spaces or '+').")
    ] = "riskseal-sealer",
) -> None:
    """Create an Ed25519 signing key; print its public verifier key (vkey).

    The private key file is created mode 0600 and never overwritten. Give the vkey to
    auditors: it is their trust anchor.

    Example:

        riskseal keys generate --out /etc/riskseal/sealer.key --name acme-audit-2026
    """
    signer = FileSigner.generate(name)
    signer.save(out_file)
    err.print(f"OK: wrote private key {out_file} (mode 0600)")
    out.print(signer.verifier.vkey(), markup=False)


@keys_app.command("export-public")
def export_public(
    key_file: Annotated[Path, typer.Argument(help="Private key file.")],
) -> None:
    """Print the public verifier key (vkey) of a private key file.

    Example:

        riskseal keys export-public /etc/riskseal/sealer.key > sealer.vkey
    """
    out.print(FileSigner.load(key_file).verifier.vkey(), markup=False)


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    old_key: Annotated[Path, typer.Option("--old", help="The key being retired.")],
    new_key: Annotated[Path, typer.Option("--new", help="The key taking over.")],
) -> None:
    """Publish a new key manifest version: the old key valid until now, the new one from now.

    Signed by both keys; blocks signed by the old key stay verifiable. Stop the sealers
    before, and start them with the new key (RISKSEAL_SIGNING_KEY_FILE) after: a block the
    old key signs after this is not valid (a running sealer stops once it sees the new
    manifest).

    Example:

        riskseal keys rotate --old sealer-2026.key --new sealer-2027.key
    """
    settings = state(ctx).settings()
    store = S3BlockStore(
        s3_client_for(settings, "writer"),
        settings.s3_bucket,
        settings.object_lock_mode,
        settings.object_lock_retention_days,
    )
    manifest = publish_rotation(
        store, settings.s3_prefix, FileSigner.load(old_key), FileSigner.load(new_key)
    )
    err.print(f"OK: published key manifest version {manifest.version}")
    for line in manifest.lines():
        out.print(line, markup=False)
