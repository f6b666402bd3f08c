"""Where an auditor reads the sealed trail from: the bucket (read-only) or a local copy.

Both answer the same questions: every version of every key under a prefix (a second version
or a delete marker on a block key is tampering, so listings of current objects are not
enough), the bytes of a version, and, for S3, the Object Lock state of a version. Nothing
here can write. Outages raise StorageUnavailableError, never an integrity finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from riskseal.errors import StorageUnavailableError

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

    def versions(self, prefix: str) -> list[ObjectVersion]:
        """Every version and delete marker under ``prefix``."""

    def read(self, key: str, version_id: str | None = None) -> bytes:
        """The bytes of ``key`` (the given version, or the latest)."""

    def lock(self, key: str, version_id: str | None) -> LockState:
        """The Object Lock state of a version (only when ``has_locks``)."""


class S3TrailSource:
    """A bucket read with the auditor's read-only credentials."""

    has_locks = True

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self.description = f"s3://{bucket}"

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
        """GET one version."""
        try:
            if version_id:
                response = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            else:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailableError(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc

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


class LocalTrailSource:
    """A directory holding a copy of the bucket (``aws s3 sync`` or any S3 tool).

    A local copy has one version per key and no lock state; those checks are reported as not
    performed, never as passed.
    """

    has_locks = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def versions(self, prefix: str) -> list[ObjectVersion]:
        """One version per file under ``prefix``."""
        base = self.root / prefix
        if not self.root.is_dir():
            raise StorageUnavailableError(f"{self.root} is not a directory")
        if not base.exists():
            return []
        return sorted(
            (
                ObjectVersion(path.relative_to(self.root).as_posix(), None, True)
                for path in base.rglob("*")
                if path.is_file()
            ),
            key=lambda version: version.key,
        )

    def read(self, key: str, version_id: str | None = None) -> bytes:
        """The file's bytes."""
        try:
            return (self.root / key).read_bytes()
        except OSError as exc:
            raise StorageUnavailableError(f"cannot read {self.root / key}: {exc.strerror}") from exc

    def lock(self, key: str, version_id: str | None) -> LockState:
        """A local copy has no lock state."""
        return LockState(None, None)
