"""Reading and publishing the key manifest in the bucket, for the sealer and `riskseal keys`."""

from __future__ import annotations

import time

from riskseal.errors import ConfigError
from riskseal.keys import SignatureError, Signer
from riskseal.manifest import KeyManifest, ManifestError, first_manifest, manifest_key, rotated
from riskseal.note import NoteError
from riskseal.sealer.store import BlockStore


def now_ms() -> int:
    """Wall-clock ms since the epoch."""
    return time.time_ns() // 1_000_000


def latest_manifest(store: BlockStore, prefix: str) -> KeyManifest | None:
    """The newest manifest version in the bucket, followed from version 0 (which must be
    signed by a key it lists) by :func:`followed_manifest`; None when there is none."""
    data = store.get(manifest_key(prefix, 0))
    if data is None:
        return None
    return followed_manifest(store, prefix, KeyManifest.parse(data))


def followed_manifest(store: BlockStore, prefix: str, known: KeyManifest) -> KeyManifest:
    """The newest manifest version reached from ``known`` one version at a time, each signed
    by a key of the version before it that is still valid now (a retired key signs no new
    version); the last good one when a later version is missing or refused.

    Unlike :func:`latest_manifest`, nothing written to the bucket without a trusted key can
    become trusted this way."""
    current = known
    now = now_ms()
    while True:
        data = store.get(manifest_key(prefix, current.version + 1))
        if data is None:
            return current
        signers = [
            e.key for e in current.entries if e.valid_until_ms is None or now < e.valid_until_ms
        ]
        try:
            following = KeyManifest.parse(data, trusted=signers)
        except (ManifestError, NoteError, SignatureError) as exc:
            raise ConfigError(
                f"key manifest version {current.version + 1} is not signed by a key of version "
                f"{current.version} still valid ({exc}); keeping version {current.version}"
            ) from exc
        if following.version != current.version + 1:
            raise ConfigError(
                f"key manifest at version {current.version + 1} says version {following.version}"
            )
        current = following


def ensure_signer_listed(store: BlockStore, prefix: str, signer: Signer) -> KeyManifest:
    """The manifest that lists ``signer`` as valid now, publishing version 0 if none exists."""
    manifest = latest_manifest(store, prefix)
    if manifest is None:
        manifest = first_manifest(signer, now_ms())
        store.create(manifest_key(prefix, 0), manifest.sign([signer]))
        return manifest
    entry = manifest.entry(signer.key_id)
    if entry is None or not entry.covers(now_ms()):
        raise ConfigError(
            f"signing key {signer.key_id} is not valid in key manifest version "
            f"{manifest.version}; add it with `riskseal keys rotate`"
        )
    return manifest


def publish_rotation(store: BlockStore, prefix: str, old: Signer, new: Signer) -> KeyManifest:
    """Write the next manifest version: ``old`` retired now, ``new`` valid from now."""
    manifest = latest_manifest(store, prefix)
    if manifest is None:
        raise ConfigError("no key manifest in the bucket yet; start the sealer first")
    if manifest.entry(old.key_id) is None:
        raise ConfigError(f"{old.key_id} is not in key manifest version {manifest.version}")
    next_manifest = rotated(manifest, old, new, now_ms())
    store.create(manifest_key(prefix, next_manifest.version), next_manifest.sign([old, new]))
    return next_manifest
