"""The key manifest a trail is verified with, followed version by version from the
trusted keys (docs/FORMAT.md, "Keys"): which signing keys exist and when each was valid."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from riskseal.audit.checkpoint_checks import data_version, version_problems
from riskseal.audit.report import Finding, Report, VerifyOptions
from riskseal.audit.sources import ObjectVersion, TrailSource
from riskseal.errors import IntegrityError
from riskseal.keys import VerifierKey
from riskseal.manifest import KeyManifest, KeyValidity, manifest_key
from riskseal.note import NoteError, SignedNote


def follow_manifests(
    source: TrailSource, options: VerifyOptions, report: Report
) -> KeyManifest | None:
    """The newest key manifest that follows from the trusted keys, version by version.

    Version 0 must be signed by a trusted key (``--trust``); version ``n + 1`` by a key
    that version ``n`` says is valid at version ``n + 1``'s time (:func:`_manifest_time`),
    and a key's validity may be extended (or a retired key reopened) only with the
    signature of another such key (see docs/FORMAT.md, "Keys"). The first version that
    breaks this is reported and neither it nor any later version is used.
    """
    prefix = options.prefix

    def find(kind: str, detail: str, key: str) -> None:
        report.findings.append(Finding(kind, detail, key=key))

    by_key: dict[str, list[ObjectVersion]] = defaultdict(list)
    for listed in source.versions(f"{prefix}/keys/manifest/"):
        by_key[listed.key].append(listed)
    manifests: list[KeyManifest] = []
    effective_ms = 0
    version = 0
    while manifest_key(prefix, version) in by_key:
        key = manifest_key(prefix, version)
        versions = by_key[key]
        for kind, detail in version_problems(versions, "key manifest"):
            find(kind, detail, key=key)
        chosen = data_version(versions)
        if chosen is None:
            find("bad_key_manifest", "only delete markers remain", key=key)
            break
        try:
            data = source.read(key, chosen.version_id)
        except IntegrityError as exc:  # stored unreadably: nothing beyond it can be followed
            find("bad_key_manifest", f"{exc}", key=key)
            break
        unchecked = source.checksum_problem(key, chosen.version_id)
        if unchecked is not None:
            find("missing_checksum", unchecked, key=key)
        try:
            manifest, effective_ms = next_version(
                data, version, manifests[-1] if manifests else None, effective_ms,
                options.trusted_keys,
            )  # fmt: skip
        except (IntegrityError, NoteError) as exc:
            find("bad_key_manifest", f"{exc}", key=key)
            break
        if version == 0 and not options.trusted_keys:
            report.notes.append(
                "no trusted key given (--trust): key manifest version 0 was trusted as "
                "found; pin its vkey to detect a replaced manifest"
            )
        manifests.append(manifest)
        version += 1
    if not manifests:
        if not by_key or manifest_key(prefix, 0) not in by_key:
            find("bad_key_manifest", "no key manifest found", key=manifest_key(prefix, 0))
        return None
    in_sequence: set[str] = set()
    while manifest_key(prefix, len(in_sequence)) in by_key:
        in_sequence.add(manifest_key(prefix, len(in_sequence)))
    extra = sorted(by_key.keys() - in_sequence)  # (versions after a bad one are unused)
    for key in extra:
        find("bad_key_manifest", "manifest version out of sequence", key=key)
    return manifests[-1]


def follow_versions(versions: Sequence[bytes], trusted: Sequence[VerifierKey]) -> KeyManifest:
    """The newest of key manifest versions ``0 … n`` (their signed notes, in order),
    followed from the ``trusted`` keys by the rules of :func:`follow_manifests`.

    Pure, for offline checks (``riskseal verify-proof --manifest``): IntegrityError naming
    the first version that breaks a rule, since with one missing link no later version can
    be trusted.
    """
    if not trusted:
        raise IntegrityError("no trusted key to check key manifest version 0 with")
    manifest: KeyManifest | None = None
    time_ms = 0
    for version, data in enumerate(versions):
        try:
            manifest, time_ms = next_version(data, version, manifest, time_ms, trusted)
        except (IntegrityError, NoteError) as exc:
            hint = (
                " (trust the key that signed version 000000, the first one the auditors "
                "were given, not a key that took over since)"
                if version == 0
                else ""
            )
            raise IntegrityError(f"key manifest version {version}: {exc}{hint}") from None
    if manifest is None:
        raise IntegrityError("no key manifest version (version 0 is needed)")
    return manifest


def next_version(
    data: bytes,
    version: int,
    previous: KeyManifest | None,
    previous_ms: int,
    trusted: Sequence[VerifierKey],
) -> tuple[KeyManifest, int]:
    """Manifest ``version`` checked against the one before it (version 0: signed by a
    ``trusted`` key, or taken as found when none is given); with its time.
    IntegrityError (or NoteError) when it must not be used."""
    keys = list(trusted) if previous is None else [entry.key for entry in previous.entries]
    manifest = KeyManifest.parse(data, trusted=keys) if keys else KeyManifest.parse(data)
    if manifest.version != version:
        raise IntegrityError(f"says version {manifest.version}")
    time_ms = _manifest_time(manifest, previous_ms)
    if previous is not None:
        signers = SignedNote.parse(data).verify([entry.key for entry in previous.entries])
        _check_rotation(previous, manifest, signers, time_ms)
    return manifest, time_ms


def _manifest_time(manifest: KeyManifest, previous_ms: int) -> int:
    """A manifest version's time: the latest time it or any earlier version names.

    A manifest carries no signing time, but it cannot have been made before the changes it
    states (a rotation names its own time as the old key's end and the new key's start), and
    versions follow each other: the time never goes back.
    """
    times = [previous_ms]
    for entry in manifest.entries:
        times.append(entry.valid_from_ms)
        if entry.valid_until_ms is not None:
            times.append(entry.valid_until_ms)
    return max(times)


def _extends(before: KeyValidity, after: KeyValidity) -> bool:
    """Whether ``after`` lets the key sign at a time ``before`` did not."""
    if after.valid_from_ms < before.valid_from_ms:
        return True
    if before.valid_until_ms is None:
        return False
    return after.valid_until_ms is None or after.valid_until_ms > before.valid_until_ms


def _check_rotation(
    previous: KeyManifest, manifest: KeyManifest, signers: Sequence[VerifierKey], time_ms: int
) -> None:
    """IntegrityError unless ``manifest`` may follow ``previous``: signed by a key that
    ``previous`` says is valid at ``time_ms``, and any key whose validity it extends also
    signed by another such key (a key, retired or not, cannot extend its own validity)."""
    valid = [key for key in signers if previous.may_sign(key.key_id, time_ms)]
    if not valid:
        names = ", ".join(key.key_id for key in signers)
        raise IntegrityError(
            f"not signed by a key valid at {time_ms} in manifest version {previous.version} "
            f"(signed by {names}): a retired key cannot sign a new version"
        )
    for entry in manifest.entries:
        before = previous.entry(entry.key.key_id)
        if before is None or not _extends(before, entry):
            continue
        if not any(key.key_id != entry.key.key_id for key in valid):
            raise IntegrityError(
                f"extends the validity of key {entry.key.key_id} with no signature but its own"
            )
