"""Reading and publishing the key manifest in the bucket, for the sealer and `riskseal keys`."""

from __future__ import annotations

import time

from riskseal.audit.manifest_checks import follow_versions
from riskseal.block import CLOCK_SKEW_MS
from riskseal.errors import ConfigError, IntegrityError
from riskseal.keys import SignatureError, Signer, VerifierKey
from riskseal.manifest import KeyManifest, ManifestError, first_manifest, manifest_key, rotated
from riskseal.note import NoteError
from riskseal.sealer.store import BlockStore
from riskseal.timestamps import iso_text

MANIFEST_MAX_AGE_S = 30.0
"""A sealer signs only with a key manifest it read successfully within this long
(:class:`~riskseal.sealer.manifest_watch.ManifestWatch`)."""

ROTATION_CLOCK_SKEW_S = CLOCK_SKEW_MS / 1000
"""How far a sealer's clock may be from the clock of the host running ``keys rotate``."""

RETIREMENT_LEAD_S = 10.0
"""How long before its key's cut-over a running sealer stops: time to seal what it holds and
write its last checkpoints while the key is still valid."""


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
    now = now_ms()
    if entry is None or not entry.covers(now):
        raise ConfigError(
            f"signing key {signer.key_id} is not valid in key manifest version "
            f"{manifest.version}; add it with `riskseal keys rotate`"
        )
    cut_over = due_cut_over(manifest, signer.key_id, now)
    if cut_over is not None:
        raise ConfigError(
            f"signing key {signer.key_id} retires at {iso_text(cut_over)} "
            f"(key manifest version {manifest.version}); start the sealer with the key that "
            "took over (RISKSEAL_SIGNING_KEY_FILE)"
        )
    return manifest


def due_cut_over(manifest: KeyManifest, key_id: str, now: int) -> int | None:
    """The end of ``key_id``'s validity when it is within :data:`RETIREMENT_LEAD_S` of
    ``now`` (or past): a sealer signing with the key stops then. None otherwise."""
    entry = manifest.entry(key_id)
    if entry is None or entry.valid_until_ms is None:
        return None
    if now < entry.valid_until_ms - int(RETIREMENT_LEAD_S * 1000):
        return None
    return entry.valid_until_ms


def earliest_cut_over_ms(now: int) -> int:
    """The earliest cut-over a rotation published at ``now`` may schedule: a sealer reads the
    manifest within :data:`MANIFEST_MAX_AGE_S` (or signs nothing), its clock may be
    :data:`ROTATION_CLOCK_SKEW_S` off, and it stops :data:`RETIREMENT_LEAD_S` before."""
    ahead_s = MANIFEST_MAX_AGE_S + ROTATION_CLOCK_SKEW_S + RETIREMENT_LEAD_S
    return now + int(ahead_s * 1000)


def check_cut_over(cut_over_ms: int, now: int) -> None:
    """ConfigError unless a cut-over scheduled at ``now`` is at least
    :func:`earliest_cut_over_ms` ahead, which running sealers are sure to see in time."""
    earliest = earliest_cut_over_ms(now)
    if cut_over_ms >= earliest:
        return
    past = " is in the past:" if cut_over_ms < now else " is too soon:"
    raise ConfigError(
        f"the cut-over {iso_text(cut_over_ms)}{past} running sealers read the key manifest "
        f"at least every {MANIFEST_MAX_AGE_S:g} s, their clocks may be "
        f"{ROTATION_CLOCK_SKEW_S:g} s off, and they stop {RETIREMENT_LEAD_S:g} s before the "
        f"cut-over, so give {iso_text(earliest)} or later, or stop every sealer and give "
        "--cut-over now"
    )


def publish_rotation(
    store: BlockStore, prefix: str, old: Signer, new: Signer, cut_over_ms: int | None = None
) -> KeyManifest:
    """Write the next manifest version: ``old`` valid until ``cut_over_ms`` (default: now),
    ``new`` valid from now on, signed by both.

    ConfigError, with nothing written, for a cut-over sealers could miss
    (:func:`check_cut_over`), a ``new`` key that is ``old`` or was retired, or a version
    that ``riskseal verify`` would not follow from version 0 (docs/FORMAT.md, "Keys"): a
    manifest version is locked once written.
    """
    if new.key_id == old.key_id:
        raise ConfigError(f"--old and --new are the same key ({old.key_id}): generate a new one")
    versions = manifest_versions(store, prefix)
    if not versions:
        raise ConfigError("no key manifest in the bucket yet; start the sealer first")
    trusted = [entry.key for entry in KeyManifest.parse(versions[0]).entries]
    manifest = _followed_as_verify_does(versions, trusted)
    if manifest.entry(old.key_id) is None:
        raise ConfigError(f"{old.key_id} is not in key manifest version {manifest.version}")
    known = manifest.entry(new.key_id)
    if known is not None and known.valid_until_ms is not None:
        raise ConfigError(
            f"{new.key_id} is in key manifest version {manifest.version} with an end "
            f"({iso_text(known.valid_until_ms)}), and no key can extend its own validity: "
            "take over with a newly generated key"
        )
    now = now_ms()
    if cut_over_ms is not None:
        check_cut_over(cut_over_ms, now)
    next_manifest = rotated(manifest, old, new, now, cut_over_ms)
    data = next_manifest.sign([old, new])
    _followed_as_verify_does([*versions, data], trusted)
    store.create(manifest_key(prefix, next_manifest.version), data)
    return next_manifest


def _followed_as_verify_does(versions: list[bytes], trusted: list[VerifierKey]) -> KeyManifest:
    """The newest of ``versions`` by ``riskseal verify``'s rules (docs/FORMAT.md, "Keys");
    ConfigError when it would refuse one, since a version is locked once written."""
    try:
        return follow_versions(versions, trusted)
    except IntegrityError as exc:
        raise ConfigError(
            f"nothing was published: `riskseal verify` would refuse it ({exc})"
        ) from exc


def manifest_versions(store: BlockStore, prefix: str) -> list[bytes]:
    """The stored manifest versions 0, 1, … up to the first one missing."""
    versions: list[bytes] = []
    while (data := store.get(manifest_key(prefix, len(versions)))) is not None:
        versions.append(data)
    return versions
