"""S3 Object Lock: a sealed object cannot be removed, overwritten or shortened, by anyone."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from rich.console import Console

from riskseal.demo.report import DemoFailed
from riskseal.s3client import s3_client_for
from riskseal.stack.local import StackEndpoints

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def show_object_lock(console: Console, endpoints: StackEndpoints, admin: S3Client) -> None:
    """Write one locked object, then let the sealer, the admin and the auditor try to undo it."""
    settings = endpoints.settings()
    sealer = s3_client_for(settings, "writer")
    auditor = s3_client_for(settings, "reader")
    bucket, key = endpoints.s3_bucket, f"{endpoints.s3_prefix}/demo/sealed-object"
    body = b"an audit block would go here\n"
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    retain_until = datetime.now(UTC) + timedelta(days=settings.object_lock_retention_days)
    put = sealer.put_object(
        Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ChecksumSHA256=checksum,
        ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=retain_until,
    )  # fmt: skip
    version = put["VersionId"]
    head = auditor.head_object(Bucket=bucket, Key=key, VersionId=version)
    console.print(
        f"[green]OK[/green] sealer wrote s3://{bucket}/{key} version {version}: "
        f"{head.get('ObjectLockMode')} until {head.get('ObjectLockRetainUntilDate')}"
    )
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("sealer deletes the locked version",
         lambda: sealer.delete_object(Bucket=bucket, Key=key, VersionId=version)),
        ("admin deletes it, bypassing governance",
         lambda: admin.delete_object(
             Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)),
        ("admin shortens its retention",
         lambda: admin.put_object_retention(
             Bucket=bucket, Key=key, VersionId=version,
             Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC)})),
        ("sealer overwrites it (If-None-Match: *)",
         lambda: sealer.put_object(Bucket=bucket, Key=key, Body=b"forged", IfNoneMatch="*")),
        ("sealer writes with a wrong SHA-256",
         lambda: sealer.put_object(
             Bucket=bucket, Key=key + "-2", Body=b"forged", ChecksumSHA256=checksum)),
        ("auditor (read-only) writes",
         lambda: auditor.put_object(Bucket=bucket, Key=key + "-3", Body=b"forged")),
    ]  # fmt: skip
    for description, attempt in attempts:
        try:
            attempt()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            console.print(f"[green]REFUSED[/green] {description}: {code}")
        else:
            raise DemoFailed(f"S3 accepted: {description}")
    versions = admin.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    if [v.get("VersionId") for v in versions if v.get("Key") == key] != [version]:
        raise DemoFailed(f"{key} no longer has exactly its one sealed version")
    console.print(f"[green]OK[/green] {key} still has exactly one version, unchanged")
