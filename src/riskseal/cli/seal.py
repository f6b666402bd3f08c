"""``riskseal seal``: run the sealer until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer

from riskseal.cli._common import err, state
from riskseal.errors import ConfigError, SigningKeyError
from riskseal.keys import FileSigner
from riskseal.s3client import s3_client_for
from riskseal.sealer.keyring import ensure_signer_listed
from riskseal.sealer.service import Sealer
from riskseal.sealer.store import S3BlockStore


def seal(ctx: typer.Context) -> None:
    """Seal the audit topics into signed, hash-linked blocks in S3 until SIGTERM or Ctrl-C.

    Needs RISKSEAL_SIGNING_KEY_FILE (see `riskseal keys generate`) and the writer S3
    credentials. On the first start it publishes the key manifest. On SIGTERM it seals the
    pending records, writes checkpoints and commits before exiting.

    Example:

        RISKSEAL_SIGNING_KEY_FILE=sealer.key riskseal seal
    """
    settings = state(ctx).settings()
    if settings.signing_key_file is None:
        raise ConfigError(
            "RISKSEAL_SIGNING_KEY_FILE is not set; create a key with `riskseal keys generate`"
        )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    signer = FileSigner.load(settings.signing_key_file)
    store = S3BlockStore(
        s3_client_for(settings, "writer"),
        settings.s3_bucket,
        settings.object_lock_mode,
        settings.object_lock_retention_days,
    )
    manifest = ensure_signer_listed(store, settings.s3_prefix, signer)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    sealer = Sealer(settings, signer, manifest, store)
    err.print(f"OK: sealing {', '.join(settings.audit_topics)} as {signer.key_id}")
    sealer.run(stop)
    metrics = sealer.metrics
    err.print(
        f"{'OK' if sealer.retired is None else 'STOPPED'}: sealed {metrics.records} records "
        f"in {metrics.blocks} blocks ({metrics.conflicts} lost races, {metrics.s3_errors} S3 "
        "errors)"
    )
    if sealer.retired is not None:
        raise SigningKeyError(sealer.retired)
