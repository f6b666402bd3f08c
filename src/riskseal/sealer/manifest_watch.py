"""The key manifest as a running sealer knows it: read again often enough that a rotation's
cut-over is never missed, and never used to sign once too old (docs/DEPLOYMENT.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from riskseal.errors import RiskSealError, StorageUnavailableError
from riskseal.manifest import KeyManifest
from riskseal.sealer import keyring
from riskseal.sealer.store import BlockStore
from riskseal.timestamps import iso_text

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 1.0
"""How soon a failed manifest read is tried again."""


class ManifestWatch:
    """The newest key manifest a sealer has followed, and when it last read it.

    :meth:`may_sign` answers for signatures from any thread. A manifest older than
    :data:`~riskseal.sealer.keyring.MANIFEST_MAX_AGE_S` is read again first, and if it
    cannot be, nothing is signed (StorageUnavailableError, retried like a failed PUT): a
    cut-over published at least that long ahead (``riskseal keys rotate`` makes sure) is
    therefore always seen before it comes.
    """

    def __init__(
        self,
        store: BlockStore,
        prefix: str,
        manifest: KeyManifest,
        key_id: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.manifest = manifest
        self.key_id = key_id
        """The key this sealer signs with."""
        self.monotonic = monotonic
        self._read_at = monotonic()
        self._failed_at: float | None = None
        self._lock = threading.Lock()
        self._announced_end: int | None = None
        self._announce()

    def age_s(self) -> float:
        """Seconds since the manifest was last read successfully."""
        return self.monotonic() - self._read_at

    def refresh(self, older_than_s: float = 0.0) -> None:
        """Follow newer versions (:func:`~riskseal.sealer.keyring.followed_manifest`) unless
        the last read is more recent than ``older_than_s``; keep the one known on failure,
        and try again only :data:`RETRY_AFTER_FAILURE_S` later."""
        with self._lock:
            now = self.monotonic()
            if now - self._read_at < older_than_s:
                return  # read meanwhile, maybe by another thread
            if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE_S:
                return
            try:
                followed = keyring.followed_manifest(self.store, self.prefix, self.manifest)
            except (RiskSealError, ValueError) as exc:
                self._failed_at = self.monotonic()
                log.warning("key manifest not followed, keeping version %d: %s",
                            self.manifest.version, exc)  # fmt: skip
                return
            self._read_at, self._failed_at = self.monotonic(), None
            if followed.version > self.manifest.version:
                log.info("key manifest version %d", followed.version)
                self.manifest = followed
        self._announce()

    def may_sign(self, key_id: str, time_ms: int) -> bool:
        """Whether the key manifest lets ``key_id`` sign at ``time_ms``.

        StorageUnavailableError when the manifest is too old and cannot be read again: the
        caller retries later, as for S3 down."""
        max_age_s = keyring.MANIFEST_MAX_AGE_S
        if self.age_s() >= max_age_s / 2:
            self.refresh(older_than_s=max_age_s / 2)
        age_s = self.age_s()
        if age_s >= max_age_s:
            raise StorageUnavailableError(
                f"the key manifest was last read {age_s:.0f} s ago and cannot be read now: "
                "nothing is signed until it is (a rotation's cut-over must not be missed)"
            )
        return self.manifest.may_sign(key_id, time_ms)

    def due_cut_over(self, latest_ms: int) -> int | None:
        """The cut-over of this sealer's key when ``latest_ms`` (the latest date its next
        signature could carry) is within :data:`~riskseal.sealer.keyring.RETIREMENT_LEAD_S`
        of it, or past it; None otherwise."""
        return keyring.due_cut_over(self.manifest, self.key_id, latest_ms)

    def _announce(self) -> None:
        """Log, once per cut-over, that the manifest ends this sealer's key's validity."""
        entry = self.manifest.entry(self.key_id)
        end = None if entry is None else entry.valid_until_ms
        if end is None or end == self._announced_end:
            return
        self._announced_end = end
        log.warning(
            "signing key %s retires at %s (key manifest version %d): this sealer stops "
            "%.0f s before; start the sealers with the key that took over before then",
            self.key_id, iso_text(end), self.manifest.version,
            keyring.RETIREMENT_LEAD_S,
        )  # fmt: skip
