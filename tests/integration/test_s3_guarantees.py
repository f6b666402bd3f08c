"""The storage guarantees the sealer and the auditors rely on, checked on the real S3."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import RealStack


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _sha256_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def _locked_object(real_stack: RealStack) -> tuple[str, str]:
    """Put a fresh COMPLIANCE-locked object as the sealer; return (key, version id)."""
    settings = real_stack.settings
    key = f"{settings.s3_prefix}/tests/{uuid.uuid4()}"
    body = b"sealed block bytes"
    put = real_stack.writer().put_object(
        Bucket=settings.s3_bucket,
        Key=key,
        Body=body,
        IfNoneMatch="*",
        ChecksumSHA256=_sha256_b64(body),
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
    )
    return key, put["VersionId"]


def test_put_applies_compliance_lock_visible_to_the_auditor(real_stack: RealStack) -> None:
    key, version = _locked_object(real_stack)
    head = real_stack.reader().head_object(
        Bucket=real_stack.settings.s3_bucket, Key=key, VersionId=version
    )
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(hours=23)


def test_bucket_has_default_compliance_retention(real_stack: RealStack) -> None:
    config = real_stack.reader().get_object_lock_configuration(
        Bucket=real_stack.settings.s3_bucket
    )["ObjectLockConfiguration"]
    assert config["ObjectLockEnabled"] == "Enabled"
    # SeaweedFS answers the rule only to identities allowed to change it; the admin is.
    admin_config = real_stack.admin().get_object_lock_configuration(
        Bucket=real_stack.settings.s3_bucket
    )["ObjectLockConfiguration"]
    retention = admin_config["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["Days"] == real_stack.settings.object_lock_retention_days


def test_object_put_without_lock_headers_gets_the_default_retention(
    real_stack: RealStack,
) -> None:
    settings = real_stack.settings
    key = f"{settings.s3_prefix}/tests/{uuid.uuid4()}"
    version = real_stack.writer().put_object(Bucket=settings.s3_bucket, Key=key, Body=b"x")[
        "VersionId"
    ]
    head = real_stack.reader().head_object(Bucket=settings.s3_bucket, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_deleting_a_locked_version_is_refused_even_for_the_admin(real_stack: RealStack) -> None:
    key, version = _locked_object(real_stack)
    bucket = real_stack.settings.s3_bucket
    with pytest.raises(ClientError) as refused:
        real_stack.admin().delete_object(
            Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
        )
    assert _error_code(refused.value) == "AccessDenied"
    versions = real_stack.reader().list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert [v["VersionId"] for v in versions] == [version]


def test_shortening_compliance_retention_is_refused(real_stack: RealStack) -> None:
    key, version = _locked_object(real_stack)
    bucket = real_stack.settings.s3_bucket
    with pytest.raises(ClientError) as refused:
        real_stack.admin().put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC)},
        )
    assert _status(refused.value) in (400, 403)
    head = real_stack.reader().head_object(Bucket=bucket, Key=key, VersionId=version)
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(hours=23)


def test_sealer_identity_cannot_delete_or_change_bucket_settings(real_stack: RealStack) -> None:
    if real_stack.local is None:
        pytest.skip("the writer's rights on external storage are set by its own policy")
    key, version = _locked_object(real_stack)
    bucket = real_stack.settings.s3_bucket
    writer = real_stack.writer()
    for attempt in (
        lambda: writer.delete_object(Bucket=bucket, Key=key),
        lambda: writer.delete_object(Bucket=bucket, Key=key, VersionId=version),
        lambda: writer.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
                           "Expiration": {"Days": 1}}]
            },
        ),
    ):  # fmt: skip
        with pytest.raises(ClientError) as refused:
            attempt()
        assert _error_code(refused.value) == "AccessDenied"
    assert (
        real_stack.reader().list_object_versions(Bucket=bucket, Prefix=key).get("DeleteMarkers", [])
        == []
    )


def test_plain_delete_only_adds_a_marker_and_keeps_the_locked_version(
    real_stack: RealStack,
) -> None:
    key, version = _locked_object(real_stack)
    bucket = real_stack.settings.s3_bucket
    real_stack.admin().delete_object(Bucket=bucket, Key=key)
    listing = real_stack.reader().list_object_versions(Bucket=bucket, Prefix=key)
    assert [v["VersionId"] for v in listing["Versions"]] == [version]
    assert len(listing.get("DeleteMarkers", [])) == 1
    body = real_stack.reader().get_object(Bucket=bucket, Key=key, VersionId=version)["Body"]
    assert body.read() == b"sealed block bytes"


def test_if_none_match_on_an_existing_key_gives_412(real_stack: RealStack) -> None:
    key, _ = _locked_object(real_stack)
    with pytest.raises(ClientError) as refused:
        real_stack.writer().put_object(
            Bucket=real_stack.settings.s3_bucket, Key=key, Body=b"second", IfNoneMatch="*"
        )
    assert _status(refused.value) == 412


def test_wrong_sha256_checksum_is_rejected_and_nothing_is_stored(real_stack: RealStack) -> None:
    bucket = real_stack.settings.s3_bucket
    key = f"{real_stack.settings.s3_prefix}/tests/{uuid.uuid4()}"
    with pytest.raises(ClientError) as refused:
        real_stack.writer().put_object(
            Bucket=bucket, Key=key, Body=b"actual", ChecksumSHA256=_sha256_b64(b"claimed")
        )
    assert _error_code(refused.value) in ("BadDigest", "XAmzContentChecksumMismatch")
    listing = real_stack.reader().list_object_versions(Bucket=bucket, Prefix=key)
    assert listing.get("Versions", []) == []


def test_read_only_identity_cannot_put(real_stack: RealStack) -> None:
    bucket = real_stack.settings.s3_bucket
    key = f"{real_stack.settings.s3_prefix}/tests/{uuid.uuid4()}"
    with pytest.raises(ClientError) as refused:
        real_stack.reader().put_object(Bucket=bucket, Key=key, Body=b"x")
    assert _error_code(refused.value) == "AccessDenied"


def test_read_only_identity_cannot_delete_or_add_delete_markers(real_stack: RealStack) -> None:
    key, version = _locked_object(real_stack)
    bucket = real_stack.settings.s3_bucket
    reader = real_stack.reader()
    with pytest.raises(ClientError) as marker:
        reader.delete_object(Bucket=bucket, Key=key)
    assert _error_code(marker.value) == "AccessDenied"
    with pytest.raises(ClientError) as version_delete:
        reader.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert _error_code(version_delete.value) == "AccessDenied"
    assert reader.list_object_versions(Bucket=bucket, Prefix=key).get("DeleteMarkers", []) == []


def test_read_only_identity_can_read_list_and_see_retention(real_stack: RealStack) -> None:
    key, version = _locked_object(real_stack)
    bucket = real_stack.settings.s3_bucket
    reader = real_stack.reader()
    assert reader.get_object(Bucket=bucket, Key=key)["Body"].read() == b"sealed block bytes"
    retention = reader.get_object_retention(Bucket=bucket, Key=key, VersionId=version)
    assert retention["Retention"]["Mode"] == "COMPLIANCE"
    keys = [v["Key"] for v in reader.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]]
    assert keys == [key]
