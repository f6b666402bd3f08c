"""Where blocks live: a small storage protocol, with S3 and in-memory implementations.

The sealer only ever creates objects: a block key is written once, with ``If-None-Match: *``
so that a second writer racing for the same sequence number loses (``BlockExistsError``)
instead of forking the chain, with its SHA-256 checksum so a corrupted upload is refused, and
with COMPLIANCE Object Lock so nobody can remove it.

Errors keep "someone else wrote it" (BlockExistsError) apart from "the store did not answer"
(StorageUnavailableError): the first is normal competition, the second an outage to ride out.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from riskseal.errors import BlockExistsError, DeletedObjectError, StorageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LockMode = Literal["COMPLIANCE", "GOVERNANCE"]
CONFLICT_STATUSES = (409, 412)


class BlockStore(Protocol):
    """What the sealer needs from object storage."""

    def create(self, key: str, data: bytes, *, created_ms: int | None = None) -> None:
        """Write ``data`` under ``key`` once; BlockExistsError if the key exists.

        ``created_ms``: the time the object says it was made (a block's header); its lock
        runs from then if that is later than now (the verifier checks it from then)."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""

    def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``; DeletedObjectError when a delete marker
        hides it (S3 would take a new block there, beside the deleted one)."""

    def keys(self, prefix: str) -> list[str]:
        """Every current key under ``prefix``, sorted."""


class S3BlockStore:
    """Blocks in an S3 bucket with Object Lock, written with If-None-Match and SHA-256."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        lock_mode: LockMode,
        retention_days: int,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.lock_mode = lock_mode
        self.retention_days = retention_days

    def create(self, key: str, data: bytes, *, created_ms: int | None = None) -> None:
        """PUT once with If-None-Match, a SHA-256 checksum and a COMPLIANCE retain-until."""
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        start = datetime.now(UTC)
        if created_ms is not None:  # a block dated after now (never before the previous one)
            start = max(start, datetime.fromtimestamp(created_ms / 1000, UTC))
        retain_until = start + timedelta(days=self.retention_days)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                IfNoneMatch="*",
                ChecksumSHA256=checksum,
                ObjectLockMode=self.lock_mode,
                ObjectLockRetainUntilDate=retain_until,
            )
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status in CONFLICT_STATUSES:
                raise BlockExistsError(f"s3://{self.bucket}/{key} already exists") from exc
            raise StorageUnavailableError(
                f"PUT s3://{self.bucket}/{key} failed: {_describe(exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(f"PUT s3://{self.bucket}/{key} failed: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        """GET the object; None on 404."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read()
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise StorageUnavailableError(
                f"GET s3://{self.bucket}/{key} failed: {_describe(exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(f"GET s3://{self.bucket}/{key} failed: {exc}") from exc

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404 and _is_delete_marker(exc):
                raise DeletedObjectError(
                    f"s3://{self.bucket}/{key} was deleted (a delete marker hides its locked "
                    "version): nothing is written beside a deleted block"
                ) from exc
            if _status(exc) == 404:
                return False
            raise StorageUnavailableError(
                f"HEAD s3://{self.bucket}/{key} failed: {_describe(exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(f"HEAD s3://{self.bucket}/{key} failed: {exc}") from exc
        return True

    def keys(self, prefix: str) -> list[str]:
        """List every current key under ``prefix`` (all pages)."""
        found: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                found.extend(item["Key"] for item in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailableError(
                f"LIST s3://{self.bucket}/{prefix} failed: {exc}"
            ) from exc
        return sorted(found)


class MemoryBlockStore:
    """An in-memory BlockStore with the same write-once semantics, for pure tests."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.deleted: set[str] = set()
        """Keys hidden by a delete marker (their bytes stay in ``objects``, as S3 keeps a
        locked version): ``get`` finds nothing there, ``exists`` refuses."""
        self._lock = threading.Lock()

    def create(self, key: str, data: bytes, *, created_ms: int | None = None) -> None:
        """Store once; BlockExistsError when taken."""
        with self._lock:
            if key in self.objects:
                raise BlockExistsError(f"{key} already exists")
            self.objects[key] = bytes(data)

    def get(self, key: str) -> bytes | None:
        """The stored bytes or None."""
        return None if key in self.deleted else self.objects.get(key)

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        if key in self.deleted:
            raise DeletedObjectError(f"{key} was deleted")
        return key in self.objects

    def keys(self, prefix: str) -> list[str]:
        """Stored keys under ``prefix``, sorted."""
        return sorted(key for key in self.objects if key.startswith(prefix))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _is_delete_marker(exc: ClientError) -> bool:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return str(headers.get("x-amz-delete-marker", "")).lower() == "true"


def _describe(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', '?')} (HTTP {_status(exc)}): {error.get('Message', '')}"
