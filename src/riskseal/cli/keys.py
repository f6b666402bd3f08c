"""``riskseal keys generate | export-public | rotate``: the sealer's signing keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from riskseal.cli._common import err, out, state
from riskseal.errors import ConfigError
from riskseal.keys import FileSigner
from riskseal.s3client import s3_client_for
from riskseal.sealer import keyring
from riskseal.sealer.store import S3BlockStore
from riskseal.timestamps import iso_ms, iso_text

_DURATION = re.compile(r"(\d+)(s|m|h|d)")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

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
    cut_over: Annotated[
        str,
        typer.Option(
            "--cut-over",
            help="When the old key stops being valid: a delay (90s, 15m, 2h, 1d), an ISO "
            "time (2026-12-01T18:00Z), or `now` once every sealer is stopped.",
        ),
    ] = "10m",
) -> None:
    """Publish a new key manifest version: the new key valid from now, the old one until the
    cut-over (in 10 minutes by default).

    Signed by both keys; blocks signed by the old key stay verifiable. Until the cut-over
    both keys may sign: restart the sealers one at a time with the new key
    (RISKSEAL_SIGNING_KEY_FILE). A sealer still running with the old key reads the new
    manifest within 30 s and stops by itself 10 s before the cut-over, having sealed what it
    held; it signs nothing with a manifest older than 30 s. A cut-over must be at least 5 min
    40 s ahead (sealer clocks may be 5 min off). `--cut-over now` retires the old key at once
    (a leaked key): stop every sealer before.

    Example:

        riskseal keys rotate --old sealer-2026.key --new sealer-2027.key --cut-over 30m
    """
    settings = state(ctx).settings()
    now = keyring.now_ms()
    cut_over_ms = parse_cut_over(cut_over, now)
    if cut_over_ms is not None:
        keyring.check_cut_over(cut_over_ms, now)  # before the bucket is touched
    store = S3BlockStore(
        s3_client_for(settings, "writer"),
        settings.s3_bucket,
        settings.object_lock_mode,
        settings.object_lock_retention_days,
    )
    old_signer, new_signer = FileSigner.load(old_key), FileSigner.load(new_key)
    manifest = keyring.publish_rotation(
        store, settings.s3_prefix, old_signer, new_signer, cut_over_ms
    )
    err.print(f"OK: published key manifest version {manifest.version}")
    if cut_over_ms is not None:
        err.print(
            f"{old_signer.key_id} may sign until {iso_text(cut_over_ms)}: start the "
            f"sealers with {new_signer.key_id} before then (a sealer still on the old key stops "
            f"{keyring.RETIREMENT_LEAD_S:g} s before)",
            markup=False,
        )
    for line in manifest.lines():
        out.print(line, markup=False)


def parse_cut_over(text: str, now_ms: int) -> int | None:
    """``--cut-over``: None for ``now``; otherwise the time in ms since the epoch, from a
    delay after ``now_ms`` (``90s``, ``15m``, ``2h``, ``1d``) or an ISO time (UTC unless it
    names a zone). ConfigError on anything else."""
    text = text.strip()
    if text.lower() == "now":
        return None
    delay = _DURATION.fullmatch(text.lower())
    if delay is not None:
        return now_ms + int(delay.group(1)) * _UNIT_MS[delay.group(2)]
    try:
        return iso_ms(text)
    except ValueError:
        raise ConfigError(
            f"--cut-over {text!r} is not `now`, a delay (90s, 15m, 2h, 1d) or an ISO time "
            "(2026-12-01T18:00Z)"
        ) from None
