"""The strict block decoder on hostile input: whatever a container holds, the only exception
that leaves ``Block.from_bytes`` (or ``SealedRecord.from_canonical``) is InvalidBlockError, so
the verifier reports ``malformed_block`` instead of crashing."""

from __future__ import annotations

import base64
import copy
import io
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskseal.avrobin import avro_bytes, zigzag
from riskseal.block import (
    _RECORD_SCHEMA_JSON,
    META_FORMAT,
    META_FRONTIER,
    META_HEADER,
    META_SIGNATURE,
    OCF_MAGIC,
    SEALED_RECORD_SCHEMA,
    Block,
    ChainId,
    SealedRecord,
)
from riskseal.cli import main
from riskseal.errors import InvalidBlockError
from riskseal.keys import FileSigner
from riskseal.sealer.store import MemoryBlockStore
from tests.unit.audit import trail
from tests.unit.sealer.helpers import chain_of, records

_BLOCK = chain_of(MemoryBlockStore(), FileSigner.generate("t"), []).build(records(0, 4))


def _metadata(block: Block) -> dict[str, str]:
    return {
        META_FORMAT: "1",
        META_HEADER: base64.b64encode(block.header.canonical_bytes()).decode(),
        META_SIGNATURE: base64.b64encode(block.signature).decode(),
        META_FRONTIER: base64.b64encode(b"".join(block.frontier_before)).decode(),
    }


def _rewritten(schema: dict[str, Any], items: list[Any], codec: str = "deflate") -> bytes:
    """``_BLOCK``'s metadata with ``items`` written by fastavro under writer schema ``schema``."""
    buffer = io.BytesIO()
    writer(buffer, parse_schema(schema), items, codec=codec, metadata=_metadata(_BLOCK))
    return buffer.getvalue()


def _with_field_type(name: str, avro_type: Any) -> dict[str, Any]:
    schema = copy.deepcopy(SEALED_RECORD_SCHEMA)
    for field in schema["fields"]:
        if field["name"] == name:
            field["type"] = avro_type
    return schema


def _decode(data: bytes, *, fast: bool) -> Block | None:
    """The block, or None when it is rejected with InvalidBlockError (anything else escapes)."""
    try:
        block = Block.from_bytes(data, fast=fast)
        block.records(), block.offsets(), block.values(), block.record_partitions()
    except InvalidBlockError:
        return None
    return block


@pytest.mark.parametrize("fast", [True, False])
def test_offset_written_as_a_string_is_an_invalid_block(fast: bool) -> None:
    items = [record.to_record() | {"offset": str(record.offset)} for record in _BLOCK.records()]
    data = _rewritten(_with_field_type("offset", "string"), items)
    with pytest.raises(
        InvalidBlockError, match="the container's writer schema is not SealedRecord"
    ):
        Block.from_bytes(data, fast=fast)


@pytest.mark.parametrize(
    ("name", "avro_type", "value"),
    [
        ("partition", "boolean", True),
        ("partition", "double", 0.0),
        ("topic", "bytes", b"access.requests"),
        ("key", ["null", "string"], "k"),
        ("flag", ["null", "bytes"], b"x"),
        ("headers", {"type": "map", "values": ["null", "bytes"]}, {"h": b"x"}),
        ("headers", {"type": "array", "items": "string"}, ["h"]),
    ],
)
def test_field_of_another_type_is_an_invalid_block(name: str, avro_type: Any, value: Any) -> None:
    items = [record.to_record() | {name: value} for record in _BLOCK.records()]
    data = _rewritten(_with_field_type(name, avro_type), items)
    with pytest.raises(
        InvalidBlockError, match="the container's writer schema is not SealedRecord"
    ):
        Block.from_bytes(data)


def test_record_missing_a_field_or_not_a_record_is_an_invalid_block() -> None:
    schema = copy.deepcopy(SEALED_RECORD_SCHEMA)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "flag"]
    items = [record.to_record() for record in _BLOCK.records()]
    with pytest.raises(
        InvalidBlockError, match="the container's writer schema is not SealedRecord"
    ):
        Block.from_bytes(_rewritten(schema, items))
    with pytest.raises(
        InvalidBlockError, match="the container's writer schema is not SealedRecord"
    ):
        Block.from_bytes(_rewritten({"type": "string"}, ["a", "b"]))


def test_a_writer_schema_other_than_sealed_records_is_refused_even_a_compatible_one() -> None:
    """FORMAT.md §4: the container's schema is SealedRecord. Decoding any other would take
    the strict reader wherever that schema leads: here, 2^62 nulls from a few bytes."""
    items = [record.to_record() for record in _BLOCK.records()]
    with pytest.raises(
        InvalidBlockError, match="the container's writer schema is not SealedRecord"
    ):
        Block.from_bytes(_rewritten(_with_field_type("partition", "long"), items))
    nulls = _rewritten({"type": "array", "items": "null"}, [[None] * 3], codec="null")
    with pytest.raises(InvalidBlockError, match="writer schema is not SealedRecord"):
        Block.from_bytes(nulls)


def test_sealed_records_schema_written_otherwise_still_decodes_to_the_same_block() -> None:
    """Another spelling of the same schema (documentation added) has the same Parsing
    Canonical Form: decoded and re-encoded, the same leaves as the sealed block."""
    schema = copy.deepcopy(SEALED_RECORD_SCHEMA) | {"doc": "written by another library"}
    items = [record.to_record() for record in _BLOCK.records()]
    parsed = Block.from_bytes(_rewritten(schema, items))
    assert parsed.record_bytes == _BLOCK.record_bytes


def test_records_that_inflate_past_the_limit_in_several_data_blocks_are_refused_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each data block is under the limit, their sum is over it: both readers refuse it.
    monkeypatch.setattr("riskseal.blockread.MAX_INFLATED_BYTES", 10_000)
    items = [record.to_record() | {"value": bytes(4_000)} for record in _BLOCK.records()]
    buffer = io.BytesIO()
    writer(buffer, parse_schema(SEALED_RECORD_SCHEMA), items, codec="deflate",
           metadata=_metadata(_BLOCK), sync_interval=1)  # fmt: skip
    for fast in (True, False):
        with pytest.raises(InvalidBlockError, match="inflate to more than 10,000 bytes"):
            Block.from_bytes(buffer.getvalue(), fast=fast)


@pytest.mark.parametrize("codec", ["bzip2", "xz"])
def test_a_codec_other_than_deflate_is_refused(codec: str) -> None:
    items = [record.to_record() for record in _BLOCK.records()]
    with pytest.raises(InvalidBlockError, match=f"codec is '{codec}', not deflate"):
        Block.from_bytes(_rewritten(SEALED_RECORD_SCHEMA, items, codec=codec))


def test_records_that_inflate_past_the_limit_are_refused_without_inflating_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("riskseal.blockread.MAX_INFLATED_BYTES", 10_000)
    items = [record.to_record() | {"value": bytes(4_000)} for record in _BLOCK.records()]
    with pytest.raises(InvalidBlockError, match="inflate to more than 10,000 bytes"):
        Block.from_bytes(_rewritten(SEALED_RECORD_SCHEMA, items))


_TYPES: list[tuple[Any, st.SearchStrategy[Any]]] = [
    ("string", st.text(max_size=5)),
    ("bytes", st.binary(max_size=5)),
    ("int", st.integers(-(2**31), 2**31 - 1)),
    ("long", st.integers(-(2**63), 2**63 - 1)),
    ("double", st.floats(allow_nan=False)),
    ("boolean", st.booleans()),
    ("null", st.none()),
    (["null", "string"], st.none() | st.text(max_size=5)),
    (["null", "bytes"], st.none() | st.binary(max_size=5)),
    ({"type": "array", "items": "string"}, st.lists(st.text(max_size=3), max_size=2)),
    ({"type": "map", "values": "long"}, st.dictionaries(st.text(max_size=3), st.integers(0, 9))),
]


@st.composite
def _foreign_container(draw: st.DrawFn) -> bytes:
    """``_BLOCK``'s records re-written with some fields given another type (and a value of
    that type), some dropped, under a null or deflate codec."""
    schema = copy.deepcopy(SEALED_RECORD_SCHEMA)
    changes: dict[str, st.SearchStrategy[Any]] = {}
    fields = []
    for field in schema["fields"]:
        choice = draw(st.sampled_from(["keep", "keep", "retype", "drop"]))
        if choice == "drop":
            continue
        if choice == "retype":
            avro_type, values = draw(st.sampled_from(_TYPES))
            field = {"name": field["name"], "type": avro_type}
            changes[field["name"]] = values
        fields.append(field)
    schema["fields"] = fields
    items = []
    for record in _BLOCK.records():
        item = record.to_record()
        for name, values in changes.items():
            item[name] = draw(values)
        items.append(item)
    return _rewritten(schema, items, draw(st.sampled_from(["null", "deflate"])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_foreign_container())
def test_strict_decoder_raises_only_invalid_block_error_on_foreign_schemas(data: bytes) -> None:
    fast, strict = _decode(data, fast=True), _decode(data, fast=False)
    assert fast == strict


def _container(payload: bytes, count: int, codec: str) -> bytes:
    """A container of ``_BLOCK``'s metadata around one hand-made data block."""
    metadata = {"avro.schema": _RECORD_SCHEMA_JSON, "avro.codec": codec, **_metadata(_BLOCK)}
    sync = b"S" * 16
    out = [OCF_MAGIC, zigzag(len(metadata))]
    for name, value in metadata.items():
        out += [avro_bytes(name.encode()), avro_bytes(value.encode())]
    out += [b"\x00", sync]
    if codec == "deflate":
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
        payload = compressor.compress(payload) + compressor.flush()
    out += [zigzag(count), zigzag(len(payload)), payload, sync]
    return b"".join(out)


_EDIT = st.tuples(st.sampled_from(["set", "delete", "insert"]), st.integers(0), st.integers(0, 255))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_EDIT, max_size=4),
    st.integers(-1, 1),
    st.sampled_from(["null", "deflate"]),
)
def test_mutated_record_bytes_give_the_same_verdict_fast_and_strict(
    edits: list[tuple[str, int, int]], extra: int, codec: str
) -> None:
    payload = bytearray(b"".join(_BLOCK.record_bytes))
    for op, where, byte in edits:
        at = where % (len(payload) + 1)
        if op == "insert":
            payload.insert(at, byte)
        elif at < len(payload):
            if op == "set":
                payload[at] = byte
            else:
                del payload[at]
    data = _container(bytes(payload), len(_BLOCK.record_bytes) + extra, codec)
    assert _decode(data, fast=True) == _decode(data, fast=False)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80) | st.sampled_from(_BLOCK.record_bytes).map(lambda b: b[:-1]))
def test_record_bytes_that_do_not_decode_raise_invalid_block_error(data: bytes) -> None:
    try:
        record = SealedRecord.from_canonical(data)
    except InvalidBlockError:
        return
    assert record.canonical_bytes() == data


def test_record_bytes_not_in_canonical_form_are_refused() -> None:
    good = _BLOCK.record_bytes[0]
    assert good[0] == 2 * len("access.requests")  # a one-byte topic length …
    padded = bytes([good[0] | 0x80, 0x00]) + good[1:]  # … written in two bytes
    with pytest.raises(InvalidBlockError, match="not in canonical form"):
        SealedRecord.from_canonical(padded)


@pytest.mark.parametrize("text", ["c/t/²", "c/t/٣", "c/t/007", "c/t/+1", "c/t/-1", "c/t/"])
def test_chain_id_partition_must_be_plain_decimal(text: str) -> None:
    with pytest.raises(InvalidBlockError, match="malformed chain id"):
        ChainId.parse(text)


def test_verify_reports_a_block_under_another_schema_as_malformed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The end-to-end case: `riskseal verify` used to crash with a TypeError traceback."""
    monkeypatch.setenv("RISKSEAL_S3_PREFIX", trail.PREFIX)
    monkeypatch.setenv("RISKSEAL_LOG_ORIGIN", trail.ORIGIN)
    sealed = trail.build_trail(tmp_path / "bucket")
    path = sealed.root / sealed.key(trail.REQUESTS, 1)
    block = Block.from_bytes(path.read_bytes())
    items = [record.to_record() | {"offset": str(record.offset)} for record in block.records()]
    buffer = io.BytesIO()
    schema = parse_schema(_with_field_type("offset", "string"))
    writer(buffer, schema, items, codec="deflate", metadata=_metadata(block))
    path.write_bytes(buffer.getvalue())
    args = ["verify", "--local", str(sealed.root), "--trust", str(sealed.vkey_file()), "--json"]
    capsys.readouterr()
    assert main([*args, *trail.FRESH]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    malformed = [f for f in findings if f["kind"] == "malformed_block"]
    assert [(f["seq"], f["detail"]) for f in malformed] == [
        (1, "the container's writer schema is not SealedRecord (FORMAT.md §4)")
    ]
