"""The S3 block store's answers to a HEAD, with the S3 client stubbed (no bucket)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from riskseal.errors import DeletedObjectError
from riskseal.sealer.store import S3BlockStore

KEY = "riskseal/blocks/c/access.requests/0/000000000003"


def _store() -> tuple[S3BlockStore, Stubber]:
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return S3BlockStore(client, "audit", "COMPLIANCE", 1), Stubber(client)


def test_a_key_hidden_by_a_delete_marker_is_deleted_not_missing() -> None:
    # AWS answers a HEAD of such a key 404 with x-amz-delete-marker: true; a PUT there is
    # taken (beside the locked version), so a head search must not treat it as free.
    store, stub = _store()
    stub.add_client_error(
        "head_object",
        http_status_code=404,
        response_meta={"HTTPHeaders": {"x-amz-delete-marker": "true"}},
    )
    with stub, pytest.raises(DeletedObjectError, match="delete marker"):
        store.exists(KEY)


def test_a_key_never_written_is_missing() -> None:
    store, stub = _store()
    stub.add_client_error("head_object", http_status_code=404)
    with stub:
        assert store.exists(KEY) is False


def test_a_block_dated_after_now_is_locked_from_its_own_date() -> None:
    # A block is never dated before the one it follows, so a sealer whose clock is behind
    # dates it ahead of its clock; the verifier checks the lock from the block's date.
    store, _ = _store()
    calls: list[dict[str, Any]] = []
    store.client = cast(
        Any, type("Recorder", (), {"put_object": lambda _, **kw: calls.append(kw)})()
    )
    ahead = datetime.now(UTC) + timedelta(minutes=30)
    store.create(KEY, b"block", created_ms=int(ahead.timestamp() * 1000))
    store.create(KEY + "-now", b"block")
    assert calls[0]["ObjectLockRetainUntilDate"] >= ahead + timedelta(days=1) - timedelta(seconds=1)
    assert calls[1]["ObjectLockRetainUntilDate"] < ahead + timedelta(days=1)
