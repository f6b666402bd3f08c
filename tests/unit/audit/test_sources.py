"""Reading a trail: a local copy (either layout, every folder read) and the bucket (checksums).

What cannot be read is an I/O error (exit 2), never a shorter trail that passes or a finding.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.httpchecksum import Sha256Checksum, StreamingChecksumBody
from botocore.response import StreamingBody
from botocore.stub import Stubber

from riskseal.audit.sources import LocalTrailSource, S3TrailSource, _trail_prefix, sha256_b64
from riskseal.cli import main
from riskseal.errors import StorageUnavailableError, UnreadableObjectError
from tests.unit.audit.trail import CLUSTER, DECISIONS, FRESH, PREFIX, REQUESTS, Trail

# --- helpers ---------------------------------------------------------------------------------


def _verify(root: Path, trail: Trail, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["verify", "--local", str(root), "--trust", str(trail.vkey_file()), "--json",
                 *FRESH])  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _unlistable(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """os.scandir fails with EACCES on ``folders`` (the tests run as root: chmod is no help)."""
    real = os.scandir
    refused = {str(folder) for folder in folders}

    def scandir(path: Any = ".") -> Any:
        if str(path) in refused:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


# --- local copy: nothing unreadable is skipped -----------------------------------------------


def test_unreadable_chain_folders_are_an_io_error_not_a_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = trail.root / PREFIX / "blocks" / CLUSTER / DECISIONS
    _unlistable(monkeypatch, blocks, trail.root / PREFIX / "checkpoints" / CLUSTER / DECISIONS)
    code, out, err = _verify(trail.root, trail, capsys)
    assert code == 2, out
    assert f"cannot list {blocks}" in err
    assert "check its permissions" in err
    assert out == ""  # no report: neither a finding nor a pass


def test_unreadable_blocks_and_checkpoints_are_an_io_error_not_an_empty_pass(
    trail: Trail, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _unlistable(monkeypatch, trail.root / PREFIX / "blocks", trail.root / PREFIX / "checkpoints")
    code, out, err = _verify(trail.root, trail, capsys)
    assert code == 2, out
    assert "Permission denied" in err
    assert "OK:" not in err


def test_unreadable_folder_is_an_io_error_when_listing_directly(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = trail.root / PREFIX / "blocks" / CLUSTER / REQUESTS / "0"
    _unlistable(monkeypatch, chain)
    with pytest.raises(StorageUnavailableError, match=f"cannot list {chain}: Permission denied"):
        LocalTrailSource(trail.root).versions(f"{PREFIX}/")


def test_unreadable_file_is_an_io_error_naming_it(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = trail.key(REQUESTS, 0)
    real = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path == trail.root / key:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(StorageUnavailableError, match="check its permissions") as raised:
        LocalTrailSource(trail.root).read(key)
    assert str(trail.root / key) in str(raised.value)


def test_broken_link_in_the_copy_is_an_io_error(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    """rglob listed only what ``is_file()``: a block that is a dangling link vanished."""
    path = trail.root / trail.key(REQUESTS, 2)
    path.unlink()
    path.symlink_to(trail.root / "elsewhere")
    code, out, err = _verify(trail.root, trail, capsys)
    assert code == 2, out
    assert f"cannot read {path}: neither a file nor a folder" in err


def test_linked_chain_folder_is_followed(
    trail: Trail, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chain = trail.root / PREFIX / "blocks" / CLUSTER / REQUESTS / "0"
    moved = tmp_path / "elsewhere"
    shutil.move(chain, moved)
    chain.symlink_to(moved, target_is_directory=True)
    code, out, _ = _verify(trail.root, trail, capsys)
    assert code == 0, out
    assert sum(chain["blocks"] for chain in json.loads(out)["chains"]) == 5


def test_link_loop_is_an_io_error(trail: Trail) -> None:
    folder = trail.root / PREFIX / "blocks" / CLUSTER
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    with pytest.raises(StorageUnavailableError, match="contain itself"):
        LocalTrailSource(trail.root).versions(f"{PREFIX}/")


# --- local copy: both layouts ----------------------------------------------------------------


def test_copy_of_the_bucket_verifies(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    """``aws s3 sync s3://BUCKET ./copy``: the prefix is a folder of the copy."""
    code, out, _ = _verify(trail.root, trail, capsys)
    assert code == 0, out


def test_copy_of_the_prefix_alone_verifies(
    trail: Trail, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``aws s3 sync s3://BUCKET/PREFIX ./copy``, as AUDITING.md says: no PREFIX/ folder."""
    copy = tmp_path / "copy"
    shutil.copytree(trail.root / PREFIX, copy)
    code, out, err = _verify(copy, trail, capsys)
    assert code == 0, (out, err)
    report = json.loads(out)
    assert report["findings"] == []
    assert sum(chain["records"] for chain in report["chains"]) == 18


def test_copy_of_the_prefix_alone_lists_and_reads_bucket_keys(trail: Trail, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(trail.root / PREFIX, copy)
    for source in (LocalTrailSource(copy), LocalTrailSource(copy, prefix=PREFIX)):
        whole = LocalTrailSource(trail.root)
        assert source.versions(f"{PREFIX}/") == whole.versions(f"{PREFIX}/")
        manifests = source.versions(f"{PREFIX}/keys/manifest/")
        assert [v.key for v in manifests] == [f"{PREFIX}/keys/manifest/000000"]
        key = trail.key(REQUESTS, 1)
        assert source.read(key) == whole.read(key)
        assert source.versions(f"{PREFIX}/blocks/{CLUSTER}/{REQUESTS}/0/00000000000") == [
            v for v in whole.versions(f"{PREFIX}/blocks/") if v.key.startswith(key[:-1])
        ]
    # A copy of the prefix alone does not know its name: only a given prefix rules others out.
    given = LocalTrailSource(copy, prefix=PREFIX)
    assert given.versions("other/") == []
    with pytest.raises(StorageUnavailableError, match="holds a copy of audit/ only"):
        given.read("other/keys/manifest/000000")


def test_folder_holding_both_layouts_is_refused(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(trail.root / PREFIX / "keys", trail.root / "keys")
    code, out, err = _verify(trail.root, trail, capsys)
    assert code == 2, out
    assert "holds two trails" in err


def test_folder_without_a_trail_is_an_io_error_not_a_finding(
    trail: Trail, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Pointing --local at the wrong folder was ``bad_key_manifest`` (exit 1): tampering."""
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _verify(empty, trail, capsys)
    assert code == 2, out
    assert "holds no riskseal trail" in err
    assert "aws s3 sync" in err


def test_missing_folder_is_an_io_error(trail: Trail, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _verify(trail.root / "nope", trail, capsys)
    assert code == 2
    assert "is not a directory" in err


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("audit/", "audit"),
        ("audit", "audit"),
        ("audit/keys/manifest/", "audit"),
        ("org/riskseal/blocks/c/t/0/000000000000", "org/riskseal"),
        ("org/riskseal/checkpoints/", "org/riskseal"),
        ("keys/", "keys"),
    ],
)
def test_trail_prefix_of_a_key(key: str, prefix: str) -> None:
    assert _trail_prefix(key) == prefix


# --- S3: every read is checked against the stored SHA-256 ------------------------------------

_SEALED = b"the bytes that were sealed"


def _s3() -> tuple[Any, Stubber]:
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client, Stubber(client)


def _get(stub: Stubber, body: bytes, version: str | None = "v1", **stored: str) -> None:
    expected = {"Bucket": "b", "Key": "k", "ChecksumMode": "ENABLED"}
    if version is not None:
        expected["VersionId"] = version
    stub.add_response(
        "get_object", {"Body": StreamingBody(io.BytesIO(body), len(body)), **stored}, expected
    )


@pytest.fixture
def s3() -> Iterator[tuple[S3TrailSource, Stubber]]:
    client, stub = _s3()
    with stub:
        yield S3TrailSource(client, "b"), stub
        stub.assert_no_pending_responses()


def test_s3_read_asks_for_the_stored_checksum_and_checks_it(
    s3: tuple[S3TrailSource, Stubber],
) -> None:
    source, stub = s3
    _get(stub, _SEALED, ChecksumSHA256=sha256_b64(_SEALED))
    _get(
        stub, _SEALED, version=None, ChecksumSHA256=sha256_b64(_SEALED), ChecksumType="FULL_OBJECT"
    )
    assert source.read("k", "v1") == _SEALED
    assert source.checksum_problem("k", "v1") is None
    assert source.read("k") == _SEALED
    assert source.checksum_problem("k") is None


def test_s3_checksum_mismatch_is_downloaded_again(s3: tuple[S3TrailSource, Stubber]) -> None:
    source, stub = s3
    _get(stub, b"the bytes that were SEALED", ChecksumSHA256=sha256_b64(_SEALED))
    _get(stub, _SEALED, ChecksumSHA256=sha256_b64(_SEALED))
    assert source.read("k", "v1") == _SEALED


def test_s3_checksum_mismatch_twice_is_an_io_error_naming_the_object(
    s3: tuple[S3TrailSource, Stubber],
) -> None:
    """Most likely a transfer fault: never a finding (exit 1), never the wrong bytes."""
    source, stub = s3
    for _ in range(2):
        _get(stub, b"the bytes that were SEALED", ChecksumSHA256=sha256_b64(_SEALED))
    with pytest.raises(StorageUnavailableError, match="do not match its stored SHA-256") as raised:
        source.read("k", "v1")
    assert "s3://b/k (version v1)" in str(raised.value)
    assert "run again" in str(raised.value)


def test_s3_botocore_checksum_error_is_downloaded_again(
    s3: tuple[S3TrailSource, Stubber],
) -> None:
    """With ChecksumMode botocore checks the body itself and raises FlexibleChecksumError."""
    source, stub = s3
    corrupt = b"the bytes that were SEALED"
    body = StreamingChecksumBody(
        io.BytesIO(corrupt), len(corrupt), Sha256Checksum(), sha256_b64(_SEALED)
    )
    stub.add_response(
        "get_object",
        {"Body": body, "ChecksumSHA256": sha256_b64(_SEALED)},
        {"Bucket": "b", "Key": "k", "VersionId": "v1", "ChecksumMode": "ENABLED"},
    )
    _get(stub, _SEALED, ChecksumSHA256=sha256_b64(_SEALED))
    assert source.read("k", "v1") == _SEALED


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        ({}, "stored without a SHA-256 checksum"),
        ({"ChecksumCRC32": "AAAAAA=="}, "stored without a SHA-256 checksum"),
        ({"ChecksumSHA256": sha256_b64(_SEALED) + "-2"}, "multipart"),
        ({"ChecksumSHA256": sha256_b64(_SEALED), "ChecksumType": "COMPOSITE"}, "multipart"),
        ({"ChecksumSHA256": "bm90IGEgZGlnZXN0"}, "not a base64 SHA-256"),
    ],
)
def test_s3_object_without_a_usable_sha256_is_reported_for_a_finding(
    s3: tuple[S3TrailSource, Stubber], stored: dict[str, str], why: str
) -> None:
    """Not a transfer fault: the object was not written as the sealer writes it (one GET)."""
    source, stub = s3
    _get(stub, _SEALED, **stored)
    assert source.read("k", "v1") == _SEALED
    problem = source.checksum_problem("k", "v1")
    assert problem is not None
    assert why in problem
    assert source.checksum_problem("k", "v2") is None  # per version


def test_local_copy_has_no_checksums(trail: Trail) -> None:
    source = LocalTrailSource(trail.root)
    assert source.has_checksums is False
    key = trail.key(REQUESTS, 0)
    assert source.read(key) == (trail.root / key).read_bytes()
    assert source.checksum_problem(key) is None


def test_sha256_b64_is_what_the_sealer_stores() -> None:
    assert sha256_b64(_SEALED) == base64.b64encode(hashlib.sha256(_SEALED).digest()).decode()


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (403, "InvalidObjectState", "The operation is not valid for the object's storage class"),
        (400, "InvalidRequest", "The object was stored using a form of Server Side Encryption."),
    ],
)
def test_s3_version_unreadable_as_stored_is_a_finding_not_an_outage(
    s3: tuple[S3TrailSource, Stubber], status: int, code: str, message: str
) -> None:
    # A second version of a block, put in GLACIER or with SSE-C, used to end verify with
    # exit 2 at that object on every run, and its extra_version finding with it.
    source, stub = s3
    stub.add_client_error("get_object", code, message, status)
    with pytest.raises(UnreadableObjectError, match="cannot be read as it is stored"):
        source.read("k", "v1")


def test_s3_access_denied_stays_an_outage(s3: tuple[S3TrailSource, Stubber]) -> None:
    source, stub = s3
    stub.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
    with pytest.raises(StorageUnavailableError, match="AccessDenied"):
        source.read("k", "v1")
