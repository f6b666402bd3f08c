"""`riskseal verify` against a versioned bucket: every version of every key is examined, a
tampered key is a finding (exit 1), never an I/O error (exit 2), and every stray key is an
``unreferenced_object``, never a crash."""

from __future__ import annotations

import dataclasses

import pytest

from riskseal.audit.report import Report
from riskseal.audit.verify import Verifier
from riskseal.block import Block
from riskseal.errors import UnreadableObjectError
from riskseal.keys import FileSigner
from riskseal.manifest import manifest_key
from tests.unit.audit.trail import (
    CLUSTER,
    DECISIONS,
    PREFIX,
    REQUESTS,
    Trail,
    VersionedSource,
    verify_options,
)


def _run(trail: Trail, bucket: VersionedSource) -> Report:
    return Verifier(bucket, verify_options(trail)).run()


def _kinds(report: Report) -> set[str]:
    return {finding.kind for finding in report.findings}


def _checkpoint(bucket: VersionedSource) -> str:
    return next(key for key in bucket.stored if "/checkpoints/" in key)


def test_untouched_versioned_bucket_verifies(trail: Trail) -> None:
    report = _run(trail, VersionedSource(trail.store.objects))
    assert report.ok, report.findings


def test_block_copied_onto_another_key_is_misplaced_not_an_outage(trail: Trail) -> None:
    bucket = VersionedSource(trail.store.objects)
    bucket.put(trail.key(DECISIONS, 0), trail.store.objects[trail.key(REQUESTS, 0)])
    report = _run(trail, bucket)
    assert {"misplaced_block", "extra_version"} <= _kinds(report)


def test_old_block_replayed_under_a_new_seq_is_misplaced_not_an_outage(trail: Trail) -> None:
    bucket = VersionedSource(trail.store.objects)
    bucket.put(trail.key(REQUESTS, 3), trail.store.objects[trail.key(REQUESTS, 0)])
    report = _run(trail, bucket)
    assert ("misplaced_block", 3) in {(f.kind, f.seq) for f in report.findings}


def test_delete_marker_on_a_checkpoint_is_a_finding(trail: Trail) -> None:
    bucket = VersionedSource(trail.store.objects)
    key = _checkpoint(bucket)
    bucket.delete(key)
    report = _run(trail, bucket)
    assert [(f.kind, f.key) for f in report.findings] == [("delete_marker", key)]


def test_delete_marker_on_manifest_version_0_is_a_finding(trail: Trail) -> None:
    bucket = VersionedSource(trail.store.objects)
    key = manifest_key(PREFIX, 0)
    bucket.delete(key)
    report = _run(trail, bucket)
    assert [(f.kind, f.key) for f in report.findings] == [("delete_marker", key)]


def test_second_version_of_a_checkpoint_and_of_the_manifest_are_findings(trail: Trail) -> None:
    bucket = VersionedSource(trail.store.objects)
    checkpoint, manifest = _checkpoint(bucket), manifest_key(PREFIX, 0)
    bucket.put(checkpoint, bucket.read(checkpoint))
    bucket.put(manifest, bucket.read(manifest))
    report = _run(trail, bucket)
    found = {(f.kind, f.key) for f in report.findings}
    assert found == {("extra_version", checkpoint), ("extra_version", manifest)}


@pytest.mark.parametrize(
    "stray",
    [
        f"{PREFIX}/blocks//{REQUESTS}/0/000000000000",
        f"{PREFIX}/checkpoints/{CLUSTER}//0/000000000000001",
        f"{PREFIX}/checkpoints/{CLUSTER}/{REQUESTS}/\u00b2/000000000000001",
        f"{PREFIX}/checkpoints/{CLUSTER}/{REQUESTS}/0/\u00b2",
        f"{PREFIX}/blocks/{CLUSTER}/{REQUESTS}/\u0661/000000000000",
        f"{PREFIX}/blocks/{CLUSTER}/{REQUESTS}/00/000000000000",
        f"{PREFIX}/checkpoints/{CLUSTER}/{REQUESTS}/0/1",
        f"{PREFIX}/blocks/{CLUSTER}/{REQUESTS}/0/000000000000/extra",
        f"{PREFIX}/keys/other",
    ],
)
def test_any_unexpected_key_is_an_unreferenced_object(trail: Trail, stray: str) -> None:
    bucket = VersionedSource(trail.store.objects)
    bucket.put(stray, b"junk")
    report = _run(trail, bucket)
    assert [(f.kind, f.key) for f in report.findings] == [("unreferenced_object", stray)]


def test_junk_at_a_huge_sequence_number_is_one_gap_not_a_walk(trail: Trail) -> None:
    bucket = VersionedSource(trail.store.objects)
    far = trail.key(REQUESTS, 10**5)
    bucket.put(far, b"junk")
    report = _run(trail, bucket)
    missing = [f for f in report.findings if f.kind == "missing_block"]
    assert [(f.seq, f.detail) for f in missing] == [
        (3, f"no object for sequence numbers 3..{10**5 - 1} ({10**5 - 3} blocks, a gap)")
    ]
    assert ("malformed_block", 10**5) in {(f.kind, f.seq) for f in report.findings}


class UnchecksummedSource(VersionedSource):
    """A bucket where some versions were stored without a SHA-256 checksum."""

    has_checksums = True

    def __init__(self, objects: dict[str, bytes], unchecked: set[str]) -> None:
        super().__init__(objects)
        self.unchecked = unchecked

    def checksum_problem(self, key: str, version_id: str | None = None) -> str | None:
        return "stored without a SHA-256 checksum" if key in self.unchecked else None


def test_objects_stored_without_a_checksum_are_findings_once_each(trail: Trail) -> None:
    block = trail.key(REQUESTS, 1)
    checkpoint = next(key for key in trail.store.objects if "/checkpoints/" in key)
    manifest = manifest_key(PREFIX, 0)
    bucket = UnchecksummedSource(trail.store.objects, {block, checkpoint, manifest})
    report = _run(trail, bucket)
    found = sorted((f.kind, f.key) for f in report.findings)
    expected = [("missing_checksum", key) for key in (block, checkpoint, manifest)]
    assert found == sorted(expected)


def test_a_trail_with_no_chain_at_all_is_a_finding(trail: Trail) -> None:
    only_keys = {key: data for key, data in trail.store.objects.items() if "/keys/" in key}
    report = _run(trail, VersionedSource(only_keys))
    assert [(f.kind, f.key) for f in report.findings] == [("no_chain", f"{PREFIX}/")]
    assert not report.ok


def test_block_with_a_time_no_calendar_holds_is_a_finding_not_a_crash(trail: Trail) -> None:
    # Anyone able to write to the bucket can put a block with any header at the next seq;
    # in an Object Lock bucket it is locked by default, so its lock is checked against it.
    bucket = VersionedSource(trail.store.objects)
    genuine = Block.from_bytes(trail.store.objects[trail.key(REQUESTS, 2)])
    forger = FileSigner.generate("forger")
    header = dataclasses.replace(
        genuine.header, seq=3, object_key=trail.key(REQUESTS, 3), created_ms=2**62,
        key_id=forger.key_id,
    )  # fmt: skip
    forged = Block(header, forger.sign(header.signing_payload()), genuine.record_bytes, ())
    bucket.put(trail.key(REQUESTS, 3), forged.to_bytes())
    report = _run(trail, bucket)
    found = {(f.kind, f.seq) for f in report.findings if f.key == trail.key(REQUESTS, 3)}
    assert {("unknown_key", 3), ("retention_too_short", 3)} <= found


def test_a_second_version_stored_unreadably_is_a_finding_not_an_outage(trail: Trail) -> None:
    # Archived (GLACIER) or encrypted with a customer key: S3 refuses every GET of it.
    class Archived(VersionedSource):
        def read(self, key: str, version_id: str | None = None) -> bytes:
            if (key, version_id) == (trail.key(REQUESTS, 1), "v999999"):
                raise UnreadableObjectError(f"{key} cannot be read as it is stored")
            return super().read(key, version_id)

    bucket = Archived(trail.store.objects)
    bucket.stored[trail.key(REQUESTS, 1)].append(("v999999", b"archived"))
    report = _run(trail, bucket)
    found = {(f.kind, f.seq) for f in report.findings if f.key == trail.key(REQUESTS, 1)}
    assert {("extra_version", 1), ("malformed_block", 1)} <= found
