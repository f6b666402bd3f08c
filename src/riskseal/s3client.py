"""Creating boto3 S3 clients for riskseal's roles (writer, reader, admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config
from pydantic import SecretStr

from riskseal.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Role = Literal["writer", "reader"]


def make_s3_client(
    endpoint: str | None,
    region: str,
    access_key_id: str | None,
    secret_access_key: SecretStr | None,
    *,
    connect_timeout_s: float = 5.0,
    read_timeout_s: float = 30.0,
    max_attempts: int = 3,
) -> S3Client:
    """A path-style S3 client; without keys boto3's default credential chain applies."""
    config = Config(
        region_name=region,
        s3={"addressing_style": "path"},
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        # Only send/validate checksums when we ask for them (SeaweedFS, MinIO, AWS agree):
        # the sealer sends ChecksumSHA256 on every PUT, and the auditor's reads
        # (riskseal.audit.sources.S3TrailSource) send ChecksumMode=ENABLED, so botocore checks
        # the body against the stored checksum and the source compares the SHA-256 itself.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=(
            secret_access_key.get_secret_value() if secret_access_key is not None else None
        ),
        config=config,
    )


def s3_client_for(settings: Settings, role: Role) -> S3Client:
    """The S3 client of a role: ``writer`` (the sealer) or ``reader`` (the auditor)."""
    if role == "writer":
        key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    else:
        key_id, secret = settings.audit_s3_access_key_id, settings.audit_s3_secret_access_key
    return make_s3_client(settings.s3_endpoint, settings.s3_region, key_id, secret)
