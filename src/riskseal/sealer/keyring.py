"""Reading and publishing the key manifest in the bucket, for the sealer and `riskseal keys`."""

from __future__ import annotations

import time

from riskseal.errors import ConfigError
from riskseal.keys import Signer
from riskseal.manifest import KeyManifest, first_manifest, manifest_key, rotated
from riskseal.sealer.chain import latest_index
from riskseal.sealer.store import BlockStore


def now_ms() -> int:
    """Wall-clock ms since the epoch."""
    return time.time_ns() // 1_000_000


def latest_manifest(store: BlockStore, prefix: str) -> KeyManifest | None:
    """The newest manifest version in the bucket (checked against the one before it)."""
    version = latest_index(lambda v: store.exists(manifest_key(prefix, v)))
    if version is None:
        return None
    data = store.get(manifest_key(prefix, version))
    if data is None:
        raise ConfigError(f"key manifest version {version} disappeared while reading it")
    if version == 0:
        return KeyManifest.parse(data)
    previous = store.get(manifest_key(prefix, version - 1))
    if previous is None:
        raise ConfigError(f"key manifest version {version - 1} is missing")
    return KeyManifest.parse(data, trusted=KeyManifest.parse(previous).public_keys().keys())


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
