"""The auditor's S3 client, down to the HTTP exchange: reads ask for and check the checksum."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from pydantic import SecretStr

from riskseal.audit.sources import S3TrailSource, sha256_b64
from riskseal.errors import StorageUnavailableError
from riskseal.s3client import make_s3_client

_SEALED = b"the bytes that were sealed"


class _Raw(io.BytesIO):
    def stream(self, amt: int = 1024, decode_content: bool = False) -> Any:
        yield self.read()


class _Server:
    """Answers GetObject with the given bodies, all with the checksum of the sealed bytes."""

    def __init__(self, *bodies: bytes, stored: str | None = sha256_b64(_SEALED)) -> None:
        self.bodies = list(bodies)
        self.stored = stored
        self.requests: list[AWSPreparedRequest] = []

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(request)
        body = self.bodies.pop(0)
        headers = HTTPHeaders()
        headers["Content-Length"] = str(len(body))
        headers["x-amz-version-id"] = "v1"
        if self.stored is not None:
            headers["x-amz-checksum-sha256"] = self.stored
            headers["x-amz-checksum-type"] = "FULL_OBJECT"
        return AWSResponse(request.url, 200, headers, _Raw(body))


def _source(server: _Server) -> S3TrailSource:
    client = make_s3_client(
        "http://s3.test:9000", "us-east-1", "id", SecretStr("secret"), max_attempts=1
    )
    # A before-send handler that returns a response answers in place of the server.
    client.meta.events.register("before-send.s3.GetObject", server)  # type: ignore[arg-type]
    return S3TrailSource(client, "bucket")


def test_reader_asks_for_the_stored_checksum_in_the_one_get() -> None:
    server = _Server(_SEALED)
    assert _source(server).read("audit/k", "v1") == _SEALED
    (request,) = server.requests
    assert request.headers["x-amz-checksum-mode"] == b"ENABLED"


def test_body_changed_in_transit_is_downloaded_again_then_an_io_error() -> None:
    """botocore checks the body against x-amz-checksum-sha256 (ChecksumMode asks it to)."""
    corrupt = b"the bytes that were SEALED"
    server = _Server(corrupt, _SEALED)
    assert _source(server).read("audit/k", "v1") == _SEALED
    server = _Server(corrupt, corrupt)
    with pytest.raises(StorageUnavailableError, match="s3://bucket/audit/k"):
        _source(server).read("audit/k", "v1")
    assert len(server.requests) == 2


def test_object_without_a_stored_checksum_is_returned_and_flagged() -> None:
    server = _Server(_SEALED, stored=None)
    source = _source(server)
    assert source.read("audit/k", "v1") == _SEALED
    assert "without a SHA-256 checksum" in (source.checksum_problem("audit/k", "v1") or "")
