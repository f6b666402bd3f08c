"""CRC-64-AVRO fingerprints against the Apache Avro specification's published test vectors.

The vectors are ``share/test/data/schema-tests.txt`` of apache/avro (commit
0ea74a36cebb2e5fbc37e599814a05c33cb7d424), cases 000-033: an input schema, its Parsing
Canonical Form and the fingerprint as the signed 64-bit number Java prints. Cases whose input
only differs in spelling from an earlier one (001, 003, 005, ...) carry no fingerprint there
and are checked for their canonical form only.

Our SchemaSet computes a schema's wire identity with fastavro's ``to_parsing_canonical_form``
and ``fingerprint(canonical, "CRC-64-AVRO")`` (hex of the wire-order bytes); both are checked
here, and ``reference.crc64_avro`` (written from the spec's algorithm) is checked too, so the
other tests can use it as an independent oracle.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from riskseal.contract import EventType, default_schemas
from tests.unit.contract.reference import EMPTY, crc64_avro, wire_order


class Vector(NamedTuple):
    case: str
    input: str
    canonical: str
    fingerprint: int | None


VECTORS = (
    Vector("000", '"null"', '"null"', 7195948357588979594),
    Vector("001", '{"type":"null"}', '"null"', None),
    Vector("002", '"boolean"', '"boolean"', -6970731678124411036),
    Vector("003", '{"type":"boolean"}', '"boolean"', None),
    Vector("004", '"int"', '"int"', 8247732601305521295),
    Vector("005", '{"type":"int"}', '"int"', None),
    Vector("006", '"long"', '"long"', -3434872931120570953),
    Vector("007", '{"type":"long"}', '"long"', None),
    Vector("008", '"float"', '"float"', 5583340709985441680),
    Vector("009", '{"type":"float"}', '"float"', None),
    Vector("010", '"double"', '"double"', -8181574048448539266),
    Vector("011", '{"type":"double"}', '"double"', None),
    Vector("012", '"bytes"', '"bytes"', 5746618253357095269),
    Vector("013", '{"type":"bytes"}', '"bytes"', None),
    Vector("014", '"string"', '"string"', -8142146995180207161),
    Vector("015", '{"type":"string"}', '"string"', None),
    Vector("016", "[  ]", "[]", -1241056759729112623),
    Vector("017", '[ "int"  ]', '["int"]', -5232228896498058493),
    Vector("018", '[ "int" , {"type":"boolean"} ]', '["int","boolean"]', 5392556393470105090),
    Vector(
        "019",
        '{"fields":[], "type":"record", "name":"foo"}',
        '{"name":"foo","type":"record","fields":[]}',
        -4824392279771201922,
    ),
    Vector(
        "020",
        '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
        '{"name":"x.y.foo","type":"record","fields":[]}',
        5916914534497305771,
    ),
    Vector(
        "021",
        '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}',
        '{"name":"a.b.foo","type":"record","fields":[]}',
        -4616218487480524110,
    ),
    Vector(
        "022",
        '{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}',
        '{"name":"foo","type":"record","fields":[]}',
        -4824392279771201922,
    ),
    Vector(
        "023",
        '{"fields":[], "type":"record", "name":"foo", "aliases":["foo","bar"]}',
        '{"name":"foo","type":"record","fields":[]}',
        -4824392279771201922,
    ),
    Vector(
        "024",
        '{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}',
        '{"name":"foo","type":"record","fields":[]}',
        -4824392279771201922,
    ),
    Vector(
        "025",
        '{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}',
        '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
        7843277075252814651,
    ),
    Vector(
        "026",
        '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},\n'
        '            {"order":"descending","name":"f2","doc":"Hello","type":"int"}],\n'
        '  "type":"record", "name":"foo"\n}',
        '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},'
        '{"name":"f2","type":"int"}]}',
        -4860222112080293046,
    ),
    Vector(
        "027",
        '{"type":"enum", "name":"foo", "symbols":["A1"]}',
        '{"name":"foo","type":"enum","symbols":["A1"]}',
        -6342190197741309591,
    ),
    Vector(
        "028",
        '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", '
        '"symbols":["A1", "A2"]}',
        '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
        -4448647247586288245,
    ),
    Vector(
        "029",
        '{"name":"foo","type":"fixed","size":15}',
        '{"name":"foo","type":"fixed","size":15}',
        1756455273707447556,
    ),
    Vector(
        "030",
        '{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}',
        '{"name":"x.y.z.foo","type":"fixed","size":32}',
        -3064184465700546786,
    ),
    Vector(
        "031",
        '{ "items":{"type":"null"}, "type":"array"}',
        '{"type":"array","items":"null"}',
        -589620603366471059,
    ),
    Vector(
        "032",
        '{ "values":"string", "type":"map"}',
        '{"type":"map","values":"string"}',
        -8732877298790414990,
    ),
    Vector(
        "033",
        '{"name":"PigValue","type":"record",\n'
        '   "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
        '{"name":"PigValue","type":"record","fields":[{"name":"value",'
        '"type":["null","int","long","PigValue"]}]}',
        -1759257747318642341,
    ),
)
WITH_FINGERPRINT = [vector for vector in VECTORS if vector.fingerprint is not None]
# Case 026 gives the boolean field the default "true" (a JSON string); fastavro refuses such
# a default when it parses the schema (the spec wants a JSON boolean), so only its canonical
# form and fingerprint are checked, not the canonicalisation of its input.
CANONICALISABLE = [vector for vector in VECTORS if vector.case != "026"]


def _id(vector: Vector) -> str:
    return vector.case


@pytest.mark.parametrize("vector", WITH_FINGERPRINT, ids=_id)
def test_fastavro_fingerprint_equals_spec_vector_in_wire_order(vector: Vector) -> None:
    assert vector.fingerprint is not None
    assert fingerprint(vector.canonical, "CRC-64-AVRO") == wire_order(vector.fingerprint).hex()


@pytest.mark.parametrize("vector", CANONICALISABLE, ids=_id)
def test_parsing_canonical_form_equals_spec_vector(vector: Vector) -> None:
    assert to_parsing_canonical_form(json.loads(vector.input)) == vector.canonical


@pytest.mark.parametrize("vector", CANONICALISABLE, ids=_id)
def test_fingerprint_of_input_schema_equals_fingerprint_of_its_canonical_form(
    vector: Vector,
) -> None:
    expected = next(v.fingerprint for v in WITH_FINGERPRINT if v.canonical == vector.canonical)
    assert expected is not None
    canonical = to_parsing_canonical_form(json.loads(vector.input))
    assert fingerprint(canonical, "CRC-64-AVRO") == wire_order(expected).hex()


@pytest.mark.parametrize("vector", WITH_FINGERPRINT, ids=_id)
def test_reference_crc64_avro_equals_spec_vector(vector: Vector) -> None:
    assert vector.fingerprint is not None
    assert crc64_avro(vector.canonical.encode("utf-8")) == vector.fingerprint % 2**64


def test_reference_crc64_avro_of_nothing_is_the_empty_fingerprint() -> None:
    assert crc64_avro(b"") == EMPTY


def test_wire_order_is_little_endian_of_the_unsigned_value() -> None:
    # "null" -> 7195948357588979594 = 0x63DD24E7CC258F8A; the wire carries its low byte first.
    assert wire_order(7195948357588979594) == bytes.fromhex("8a8f25cce724dd63")
    # A negative Java long is the same 64 bits read as unsigned: -1 is eight 0xFF bytes.
    assert wire_order(-1) == b"\xff" * 8
    # "boolean" -> -6970731678124411036 = 0x9F42FC78A4D4F764 unsigned.
    assert wire_order(-6970731678124411036) == bytes.fromhex("64f7d4a478fc429f")


@pytest.mark.parametrize("event_type", list(EventType))
def test_schema_set_fingerprint_is_crc64_avro_of_its_canonical_form(
    event_type: EventType,
) -> None:
    schema = default_schemas()[event_type]
    expected = crc64_avro(schema.canonical_form.encode("utf-8"))
    assert schema.fingerprint == wire_order(expected)
    assert schema.fingerprint_int == expected
