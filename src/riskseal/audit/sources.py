"""Where an auditor reads the sealed trail from: the bucket (read-only) or a local copy.

Both answer the same questions: every version of every key under a prefix (a second version
or a delete marker on a block key is tampering, so listings of current objects are not
enough), the bytes of a version, and, for S3, the Object Lock state of a version. Nothing
here can write.

What cannot be read is never an integrity finding and never a pass: an outage, an object whose
bytes do not match their stored checksum even on a second download, a folder or file of a local
copy that cannot be read, a local folder that holds no trail: all raise
StorageUnavailableError (``riskseal verify`` exits 2). What the storage itself says about an
object is reported for the verifier to judge: :meth:`TrailSource.checksum_problem` says when a
version was stored without a usable SHA-256 checksum (the sealer always writes one).
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from riskseal.errors import StorageUnavailableError, UnreadableObjectError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of one key (or a delete marker)."""

    key: str
    version_id: str | None
    is_latest: bool
    is_delete_marker: bool = False


@dataclass(frozen=True, slots=True)
class LockState:
    """Object Lock state of a version as S3 reports it."""

    mode: str | None
    retain_until: datetime | None


class TrailSource(Protocol):
    """Read-only access to a sealed trail."""

    description: str
    has_locks: bool
    has_checksums: bool
    """Whether :meth:`read` checks every object against the SHA-256 checksum stored with it."""

    def versions(self, prefix: str) -> list[ObjectVersion]:
        """Every version and delete marker under ``prefix``."""

    def read(self, key: str, version_id: str | None = None) -> bytes:
        """The bytes of ``key`` (the given version, or the latest)."""

    def lock(self, key: str, version_id: str | None) -> LockState:
        """The Object Lock state of a version (only when ``has_locks``)."""

    def checksum_problem(self, key: str, version_id: str | None = None) -> str | None:
        """Why the bytes :meth:`read` returned for this version could not be checked against
        a stored SHA-256 checksum (an integrity finding); None once they were checked, or when
        the source has no checksums (``has_checksums`` false). Ask after reading."""


def sha256_b64(data: bytes) -> str:
    """The base64 SHA-256 of ``data``, as S3 stores it in ``x-amz-checksum-sha256``."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class S3TrailSource:
    """A bucket read with the auditor's read-only credentials.

    Every GET asks for the object's stored checksum (``ChecksumMode=ENABLED``, no extra
    request) and compares the SHA-256 of the bytes received with the stored SHA-256 checksum:

    - they differ (or botocore's own check fails): most likely a fault between the storage and
      this machine. The object is downloaded once more; if it still differs,
      StorageUnavailableError naming the object (exit 2: run again, escalate if it persists).
    - the version has no SHA-256 checksum, or only a composite (multipart) one: it was not
      written as the sealer writes it. The bytes are returned and :meth:`checksum_problem`
      says so; the verifier reports it as a finding.
    """

    has_locks = True
    has_checksums = True
    attempts = 2
    """Downloads of one object whose bytes do not match its stored checksum before giving up."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self.description = f"s3://{bucket}"
        self._unchecked: dict[tuple[str, str | None], str] = {}

    def versions(self, prefix: str) -> list[ObjectVersion]:
        """ListObjectVersions, every page."""
        found: list[ObjectVersion] = []
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Versions", []):
                    found.append(
                        ObjectVersion(
                            item["Key"], item.get("VersionId"), item.get("IsLatest", False)
                        )
                    )
                for marker in page.get("DeleteMarkers", []):
                    found.append(
                        ObjectVersion(
                            marker["Key"], marker.get("VersionId"), marker.get("IsLatest", False),
                            is_delete_marker=True,
                        )
                    )  # fmt: skip
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailableError(
                f"cannot list versions of s3://{self.bucket}/{prefix}: {exc}"
            ) from exc
        return found

    def read(self, key: str, version_id: str | None = None) -> bytes:
        """GET one version with its stored checksum, and check the bytes against it."""
        where = f"s3://{self.bucket}/{key}" + (f" (version {version_id})" if version_id else "")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            params["VersionId"] = version_id
        mismatch = ""
        for _ in range(self.attempts):
            try:
                response = self.client.get_object(**params)
                data = response["Body"].read()
            except FlexibleChecksumError as exc:  # botocore checked a stored checksum itself
                mismatch = str(exc)
                continue
            except ClientError as exc:
                if _unreadable_as_stored(exc):
                    raise UnreadableObjectError(
                        f"{where} cannot be read as it is stored ({exc}): archived or encrypted "
                        "with a customer key, which the sealer never does (someone else wrote "
                        "or moved it); if your storage rules archive blocks, restore it"
                    ) from exc
                raise StorageUnavailableError(f"cannot read {where}: {exc}") from exc
            except BotoCoreError as exc:
                raise StorageUnavailableError(f"cannot read {where}: {exc}") from exc
            stored = response.get("ChecksumSHA256")
            problem = _stored_sha256_problem(stored, response.get("ChecksumType"))
            if problem is not None:
                self._unchecked[(key, version_id)] = problem
                return data
            received = sha256_b64(data)
            if received == stored:
                self._unchecked.pop((key, version_id), None)
                return data
            mismatch = f"stored SHA-256 {stored}, bytes received {received}"
        raise StorageUnavailableError(
            f"cannot read {where}: the bytes received do not match its stored SHA-256 "
            f"checksum, {self.attempts} times ({mismatch}). Most likely a fault between the "
            "storage and this machine (a proxy, the network): run again; if it persists, the "
            "storage returns other bytes than were written: report it to the operators"
        )

    def lock(self, key: str, version_id: str | None) -> LockState:
        """HEAD one version: its lock mode and retain-until date."""
        try:
            if version_id:
                head = self.client.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            else:
                head = self.client.head_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailableError(f"cannot HEAD s3://{self.bucket}/{key}: {exc}") from exc
        return LockState(head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate"))

    def checksum_problem(self, key: str, version_id: str | None = None) -> str | None:
        """Why the version read last could not be checked: it has no usable stored SHA-256."""
        return self._unchecked.get((key, version_id))


def _unreadable_as_stored(exc: ClientError) -> bool:
    """Whether S3 refused a GET for how the version is stored, not for an outage or for our
    permissions: archived (InvalidObjectState), or encrypted with a customer-provided key."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), str(error.get("Message", "")).lower()
    return code == "InvalidObjectState" or (code == "InvalidRequest" and "encrypt" in message)


def _stored_sha256_problem(stored: str | None, kind: str | None) -> str | None:
    """Why ``stored`` (a GetObject ChecksumSHA256) is no SHA-256 of the whole object."""
    if not stored:
        return "stored without a SHA-256 checksum (the sealer writes every object with one)"
    if kind == "COMPOSITE" or "-" in stored:
        return (
            f"its stored SHA-256 checksum {stored} is a multipart (composite) one, not the "
            "checksum of the object (the sealer writes every object in one PUT)"
        )
    try:
        digest = base64.b64decode(stored, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != hashlib.sha256().digest_size:
        return f"its stored SHA-256 checksum {stored!r} is not a base64 SHA-256 digest"
    return None


TRAIL_FOLDERS = ("keys", "blocks", "checkpoints")
"""The folders directly under a trail's prefix."""

_ABSENT = (errno.ENOENT, errno.ENOTDIR)


class LocalTrailSource:
    """A folder holding a copy of the bucket (``aws s3 sync`` or any S3 tool).

    The copy may be of the bucket (``root/<prefix>/keys/…``) or of the prefix alone
    (``root/keys/…``); a folder that holds both, or neither, is refused. ``prefix`` is the
    trail's prefix; without it, the prefix of each key asked for is what comes before its
    ``keys``/``blocks``/``checkpoints`` folder (or the whole of a bare ``<prefix>/``).

    A local copy has one version per key, no lock state and no stored checksums; those checks
    are reported as not performed, never as passed. Every folder and file of the copy must be
    readable: one that is not raises StorageUnavailableError (it is never skipped, which would
    make the trail look shorter).
    """

    has_locks = False
    has_checksums = False

    def __init__(self, root: Path, prefix: str | None = None) -> None:
        self.root = root
        self.description = str(root)
        self.prefix = prefix.strip("/") if prefix else None
        self._strips: dict[str, str] = {}

    def versions(self, prefix: str) -> list[ObjectVersion]:
        """One version per file whose key starts with ``prefix`` (every folder is read)."""
        strip = self._strip(prefix)
        if strip.startswith(prefix):
            start = ""  # the whole copy is under the asked prefix
        elif prefix.startswith(strip):
            start = prefix[len(strip) :].rpartition("/")[0]
        else:
            return []  # outside the prefix this copy holds
        top = self.root / start if start else self.root
        if not self._is_dir(top):
            return []
        found = []
        for path in self._files(top):
            key = strip + path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                found.append(ObjectVersion(key, None, True))
        return sorted(found, key=lambda version: version.key)

    def read(self, key: str, version_id: str | None = None) -> bytes:
        """The file's bytes."""
        strip = self._strip(key)
        if not key.startswith(strip):
            raise StorageUnavailableError(
                f"cannot read {key}: {self.root} holds a copy of {strip} only"
            )
        path = self.root / key[len(strip) :]
        try:
            return path.read_bytes()
        except OSError as exc:
            raise _unreadable(f"cannot read {path}", exc) from exc

    def lock(self, key: str, version_id: str | None) -> LockState:
        """A local copy has no lock state."""
        return LockState(None, None)

    def checksum_problem(self, key: str, version_id: str | None = None) -> str | None:
        """A local copy has no stored checksums: never a problem, never checked."""
        return None

    # --- layout ------------------------------------------------------------------------------
    def _strip(self, key: str) -> str:
        """What to take off the front of a key to get its path under ``root``: ``""`` for a
        copy of the bucket, ``"<prefix>/"`` for a copy of the prefix alone."""
        prefix = self.prefix if self.prefix is not None else _trail_prefix(key)
        strip = self._strips.get(prefix)
        if strip is None:
            strip = self._strips[prefix] = self._layout(prefix)
        return strip

    def _layout(self, prefix: str) -> str:
        if not self._is_dir(self.root):
            raise StorageUnavailableError(f"{self.root} is not a directory")
        whole = self._holds_trail(self.root / prefix) if prefix else False
        alone = self._holds_trail(self.root)
        folders = "/".join(TRAIL_FOLDERS)
        if whole and alone:
            raise StorageUnavailableError(
                f"{self.root} holds two trails: one in {self.root / prefix} and one directly in "
                f"{self.root} ({folders}); give --local a folder that holds one copy, either "
                f"of the bucket (with {prefix}/ in it) or of s3://BUCKET/{prefix} alone"
            )
        if whole:
            return ""
        if alone:
            return f"{prefix}/" if prefix else ""
        raise StorageUnavailableError(
            f"{self.root} holds no riskseal trail: no {folders} folder in {self.root / prefix} "
            f"or in {self.root}. Give --local the folder you copied the bucket into "
            f"(aws s3 sync s3://BUCKET {self.root}) or the prefix into "
            f"(aws s3 sync s3://BUCKET/{prefix} {self.root}); if the trail was sealed under "
            "another prefix, set RISKSEAL_S3_PREFIX to it"
        )

    def _holds_trail(self, folder: Path) -> bool:
        return any(self._is_dir(folder / name) for name in TRAIL_FOLDERS)

    @staticmethod
    def _is_dir(path: Path) -> bool:
        """Whether ``path`` is a folder; False when absent; unreadable raises."""
        try:
            return stat.S_ISDIR(path.stat().st_mode)
        except OSError as exc:
            if exc.errno in _ABSENT:
                return False
            raise _unreadable(f"cannot look at {path}", exc) from exc

    # --- listing -----------------------------------------------------------------------------
    def _files(
        self, folder: Path, above: frozenset[tuple[int, int]] = frozenset()
    ) -> Iterator[Path]:
        """Every file under ``folder``, following links to folders; anything unreadable raises."""
        try:
            info = folder.stat()
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            raise _unreadable(f"cannot list {folder}", exc) from exc
        here = (info.st_dev, info.st_ino)
        if here in above:
            raise StorageUnavailableError(
                f"cannot list {folder}: a link makes it contain itself; copy the trail again "
                "without links"
            )
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError as exc:
                raise _unreadable(f"cannot look at {path}", exc) from exc
            if is_dir:
                yield from self._files(path, above | {here})
            elif is_file:
                yield path
            else:
                raise StorageUnavailableError(
                    f"cannot read {path}: neither a file nor a folder (a broken link?); a copy "
                    "of the bucket holds only files and folders"
                )


def _trail_prefix(key: str) -> str:
    """The prefix of a trail key: what comes before its first keys/blocks/checkpoints folder,
    or the whole key (less its slashes) when it has none (``"<prefix>/"``)."""
    parts = key.strip("/").split("/")
    for index, part in enumerate(parts):
        if index and part in TRAIL_FOLDERS:
            return "/".join(parts[:index])
    return "/".join(parts)


def _unreadable(what: str, exc: OSError) -> StorageUnavailableError:
    """The I/O error for a local path that cannot be read, with what to do about it."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        advice = (
            "every folder and file of the copy must be readable by this user: check its "
            "permissions (or run as the copy's owner) and run again"
        )
    else:
        advice = "check that the copy is complete and readable, and run again"
    return StorageUnavailableError(f"{what}: {reason}; {advice}")
