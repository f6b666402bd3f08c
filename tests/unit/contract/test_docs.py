"""docs/events.md cannot go stale: fingerprints, field tables and JSON examples are checked.

- The fingerprint table and every ``c3 01 ...`` header quoted in the text equal what the codec
  writes for the current schemas.
- Every field of every schema has a row in its section's table, in schema order, and the row
  says "required" or gives the schema's default.
- Every ```json block is an event example, announced by ``<!-- example: <EventType> -->``; it
  must validate, and encoding then decoding it must give back exactly the example (so the
  examples are complete and show the real defaults).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from riskseal.contract import EventCodec, EventType, typed_event
from tests.unit.contract.reference import REPO, expanded_schema

DOC = (REPO / "docs" / "events.md").read_text(encoding="utf-8")
CODEC = EventCodec()
TOPICS = {
    EventType.ACCESS_REQUEST: "access.requests",
    EventType.ACCESS_ACTION: "access.actions",
    EventType.DECISION: "risk.decisions",
    EventType.ALERT: "risk.alerts",
}
FINGERPRINT_MARKER = "<!-- fingerprints: generated, checked by tests/unit/contract/test_docs.py -->"
EXAMPLE = re.compile(r"<!-- example: (\w+) -->\n```json\n(.*?)\n```", re.DOTALL)
VOCABULARY = (
    "auth.login",
    "auth.mfa",
    "auth.logout",
    "data.read",
    "data.write",
    "data.delete",
    "data.export",
    "data.share",
    "role.grant",
    "role.revoke",
    "admin.config",
)


# --- fingerprints -------------------------------------------------------------------------


def _fingerprint_rows() -> list[str]:
    rows = []
    for event_type in EventType:
        schema = CODEC.schemas[event_type]
        unsigned = schema.fingerprint_int
        signed = unsigned - 2**64 if unsigned >= 2**63 else unsigned
        rows.append(
            f"| {event_type.value} | `{TOPICS[event_type]}` | `{schema.fingerprint.hex()}` "
            f"| `{unsigned}` | `{signed}` |"
        )
    return rows


def _documented_fingerprint_rows() -> list[str]:
    assert FINGERPRINT_MARKER in DOC
    table = DOC.split(FINGERPRINT_MARKER, 1)[1].strip().split("\n\n", 1)[0]
    return table.splitlines()[2:]  # after the header row and the separator


def test_fingerprint_table_equals_current_schemas() -> None:
    expected = _fingerprint_rows()
    assert _documented_fingerprint_rows() == expected, (
        "docs/events.md is stale; the fingerprint rows must be:\n" + "\n".join(expected)
    )


def test_every_quoted_header_is_a_current_header() -> None:
    headers = {b"\xc3\x01" + schema.fingerprint for schema in CODEC.schemas}
    quoted = re.findall(r"c3 ?01(?: ?[0-9a-f]{2}){8}", DOC)
    assert len(quoted) >= 2
    for text in quoted:
        assert bytes.fromhex(text.replace(" ", "")) in headers, text


# --- field tables -------------------------------------------------------------------------

# Sections that document a part shared by several events, and the record they document.
SHARED_SECTIONS = {
    "SourceStamp (`source`)": "SourceStamp",
    "Actor (`actor`)": "Actor",
    "Endpoint (`src_endpoint`) and Location": "Endpoint",
    "Resource (`resource`)": "Resource",
    "AuthContext (`auth`)": "AuthContext",
}
DOCUMENTED_APART = set(SHARED_SECTIONS.values())


def _sections() -> dict[str, str]:
    parts = re.split(r"^#{2,3} (.+)$", DOC, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _table_rows(section: str) -> list[tuple[str, str]]:
    """(field path, required/default cell) of each row of the section's field table."""
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and cells[0] != "`field`":
            rows.append((cells[0].strip("`"), cells[2]))
    return rows


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def _schema_rows(
    record: dict[str, Any], apart: set[str], prefix: str = "", named: dict[str, Any] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, field) of every field, entering nested records unless their name is in ``apart``."""
    named = {} if named is None else named
    named[_short(record["name"])] = record
    for field in record["fields"]:
        path = prefix + field["name"]
        yield path, field
        inner, suffix = field["type"], ""
        if isinstance(inner, list):
            (inner,) = [branch for branch in inner if branch != "null"]
        if isinstance(inner, dict) and inner["type"] == "array":
            inner, suffix = inner["items"], "[]"
        if isinstance(inner, str):
            inner = named.get(_short(inner), inner)
        if isinstance(inner, dict) and inner["type"] == "record":
            named[_short(inner["name"])] = inner
            if _short(inner["name"]) not in apart:
                yield from _schema_rows(inner, apart, f"{path}{suffix}.", named)


SECTIONS = [
    *[(heading, expanded_schema(record)) for heading, record in SHARED_SECTIONS.items()],
    *[(event_type.value, expanded_schema(event_type.value)) for event_type in EventType],
]


def _expected_rows(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    # A shared part's own section documents it with its nested records (Endpoint: Location);
    # an event's section leaves the shared parts to their sections.
    return list(_schema_rows(record, DOCUMENTED_APART - {_short(record["name"])}))


@pytest.mark.parametrize(("heading", "record"), SECTIONS, ids=[h for h, _ in SECTIONS])
def test_field_table_lists_every_field_in_schema_order(
    heading: str, record: dict[str, Any]
) -> None:
    rows = _table_rows(_sections()[heading])
    assert [path for path, _ in rows] == [path for path, _ in _expected_rows(record)]


@pytest.mark.parametrize(("heading", "record"), SECTIONS, ids=[h for h, _ in SECTIONS])
def test_field_table_gives_required_or_the_schema_default(
    heading: str, record: dict[str, Any]
) -> None:
    documented = dict(_table_rows(_sections()[heading]))
    for path, field in _expected_rows(record):
        cell = documented[path]
        if "default" in field:
            default = field["default"]
            text = default if isinstance(default, str) else json.dumps(default)
            assert f"`{text}`" in cell, (path, cell)
        else:
            assert cell.startswith("required"), (path, cell)


# --- examples -----------------------------------------------------------------------------


def _examples() -> list[tuple[str, str]]:
    return EXAMPLE.findall(DOC)


def test_every_json_block_is_an_announced_example() -> None:
    assert DOC.count("```json") == len(_examples())


def test_every_event_type_has_an_example() -> None:
    assert {name for name, _ in _examples()} == {event_type.value for event_type in EventType}


@pytest.mark.parametrize(("name", "text"), _examples(), ids=[name for name, _ in _examples()])
def test_example_is_a_complete_valid_event(name: str, text: str) -> None:
    record = json.loads(text)
    event_type = EventType(name)

    decoded = CODEC.decode(CODEC.encode(event_type, record))

    assert decoded.event_type is event_type
    assert decoded.record == record, "the example must show every field with its real value"
    assert typed_event(decoded).to_record() == record


WITH_ACTION = [(name, text) for name, text in _examples() if "action" in json.loads(text)]


@pytest.mark.parametrize(("name", "text"), WITH_ACTION, ids=[name for name, _ in WITH_ACTION])
def test_example_action_is_in_the_documented_vocabulary(name: str, text: str) -> None:
    assert json.loads(text)["action"] in VOCABULARY


def test_action_table_lists_the_vocabulary() -> None:
    rows = re.findall(r"^\| `([a-z]+\.[a-z]+)` \|", _sections()["Actions"], flags=re.MULTILINE)
    assert tuple(rows) == VOCABULARY
