"""Writers for ``riskseal export``: JSON Lines, CSV and Parquet, one row at a time.

* JSON Lines keeps each event nested as in its Avro schema, under ``event``.
* CSV and Parquet are flat: the columns are fixed before the first row, from the event
  schemas themselves (so a streamed file has one header): nested records become dotted
  columns (``actor.uid``), arrays and maps become JSON text (``reasons``, ``attributes``).
* Parquet (needs ``pyarrow``: ``pip install 'riskseal[parquet]'``) is written in row groups
  of :data:`PARQUET_ROW_GROUP` rows, so memory stays bounded however long the export.

Every format carries the same sealed coordinates and the ``verified``/``finding`` and
``decode_error``/``raw_value`` columns; bytes are written as ``base64:<...>`` text.
"""

from __future__ import annotations

import base64
import csv
import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from riskseal.audit.export import ExportRow
from riskseal.contract.schemas_set import SchemaSet, default_schemas
from riskseal.errors import ConfigError

Format = Literal["jsonl", "csv", "parquet"]
ColumnType = Literal["string", "int", "float", "bool"]

PARQUET_ROW_GROUP = 10_000
"""Rows buffered per Parquet row group: the bound on the writer's memory."""

BASE_COLUMNS: tuple[tuple[str, ColumnType], ...] = (
    ("chain", "string"),
    ("block_seq", "int"),
    ("topic", "string"),
    ("partition", "int"),
    ("offset", "int"),
    ("kafka_timestamp", "int"),
    ("kafka_key", "string"),
    ("verified", "bool"),
    ("finding", "string"),
    ("seal_flag", "string"),
    ("decode_error", "string"),
    ("raw_value", "string"),
    ("event_type", "string"),
)
"""The columns every row has, before the event's own."""

_PRIMITIVES: dict[str, ColumnType] = {
    "string": "string",
    "bytes": "string",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "enum": "string",
}


def event_columns(schemas: SchemaSet | None = None) -> tuple[tuple[str, ColumnType], ...]:
    """The flat event columns of every event type, in schema order, each with its type.

    A column that two event types type differently is written as text.
    """
    found: dict[str, ColumnType] = {}
    for schema in schemas or default_schemas():
        named: dict[str, Any] = {}
        for name, kind in _flatten_schema(schema.declared, "", named):
            if name in found and found[name] != kind:
                found[name] = "string"
            else:
                found.setdefault(name, kind)
    clash = set(found) & {name for name, _ in BASE_COLUMNS}
    if clash:
        raise ValueError(f"event fields {sorted(clash)} clash with the export's own columns")
    return tuple(found.items())


def _flatten_schema(
    node: Any, path: str, named: dict[str, Any]
) -> Iterator[tuple[str, ColumnType]]:
    if isinstance(node, str):
        if node in named:
            yield from _flatten_schema(named[node], path, named)
        else:
            yield path, _PRIMITIVES.get(node, "string")
        return
    if isinstance(node, list):  # a union: ["null", X] flattens as X (every column is nullable)
        branches = [branch for branch in node if branch != "null"]
        if len(branches) == 1:
            yield from _flatten_schema(branches[0], path, named)
        else:
            yield path, "string"
        return
    kind = node.get("type")
    if isinstance(node, dict) and "name" in node and kind in ("record", "enum", "fixed"):
        named[node["name"]] = node
        named[node["name"].rsplit(".", 1)[-1]] = node
    if kind == "record":
        for child in node["fields"]:
            yield from _flatten_schema(child["type"], _join(path, child["name"]), named)
    elif kind in ("array", "map"):
        yield path, "string"
    elif isinstance(kind, (dict, list)):
        yield from _flatten_schema(kind, path, named)
    else:
        yield path, _PRIMITIVES.get(str(kind), "string")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def jsonable(value: Any) -> Any:
    """``value`` with bytes as ``base64:<...>`` text, ready for ``json.dumps``."""
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def base_columns(row: ExportRow) -> dict[str, Any]:
    """Where the record is sealed, whether it verified, and what it is: every format's first
    columns."""
    return {
        "chain": row.chain,
        "block_seq": row.block_seq,
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "kafka_timestamp": row.kafka_timestamp,
        "kafka_key": row.kafka_key,
        "verified": row.verified,
        "finding": row.finding,
        "seal_flag": row.seal_flag,
        "decode_error": row.decode_error,
        "raw_value": jsonable(row.raw_value),
        "event_type": row.event_type,
    }


def flat_row(row: ExportRow) -> dict[str, Any]:
    """The row as flat columns: base columns, then the event's fields flattened."""
    flat = base_columns(row)
    if row.event is not None:
        _flatten_value(row.event, "", flat)
    return flat


def _flatten_value(value: Mapping[str, Any], path: str, into: dict[str, Any]) -> None:
    for name, item in value.items():
        column = _join(path, name)
        if column not in _leaf_columns():  # a record: its fields are columns of their own
            if isinstance(item, Mapping):
                _flatten_value(item, column, into)
            # a null record leaves its columns null
        elif isinstance(item, (Mapping, list, tuple)):
            into[column] = json.dumps(jsonable(item), separators=(",", ":"), ensure_ascii=False)
        else:
            into[column] = jsonable(item)


@cache
def _leaf_columns() -> frozenset[str]:
    # Every event column; a map or an array is one (text) column, a record is not a column.
    return frozenset(name for name, _ in event_columns())


def json_row(row: ExportRow) -> dict[str, Any]:
    """The row for JSON Lines: base columns and the event nested under ``event``."""
    return {**base_columns(row), "event": jsonable(row.event)}


class RowWriter(Protocol):
    """Writes export rows to an open stream."""

    def write(self, row: ExportRow) -> None:
        """Write one row."""

    def close(self) -> None:
        """Flush what is buffered and finish the file (the stream stays open)."""


class JsonlWriter:
    """One JSON object per line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, row: ExportRow) -> None:
        """Write one row as a line: strict JSON, so a number that is not finite (NaN, which
        only a foreign producer can seal) is written as the string "NaN", "Infinity" or
        "-Infinity"."""
        document = json_row(row)
        try:
            line = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except ValueError:
            line = json.dumps(_finite(document), separators=(",", ":"), ensure_ascii=False)
        self.stream.write(line)
        self.stream.write("\n")

    def close(self) -> None:
        """Flush."""
        self.stream.flush()


class CsvWriter:
    """RFC 4180 CSV with a header of every column; empty cells are nulls."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.columns = [name for name, _ in (*BASE_COLUMNS, *event_columns())]
        self.writer = csv.DictWriter(stream, fieldnames=self.columns, lineterminator="\r\n")
        self.writer.writeheader()

    def write(self, row: ExportRow) -> None:
        """Write one row."""
        self.writer.writerow({k: _csv_cell(v) for k, v in flat_row(row).items()})

    def close(self) -> None:
        """Flush."""
        self.stream.flush()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # a spreadsheet would run it as a formula (CSV injection)
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a CSV cell a spreadsheet runs as a formula starts (OWASP, CSV injection): such text
cells are written with a leading apostrophe."""


def _finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by its name as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class ParquetWriter:
    """Parquet with typed, nullable columns, written one row group at a time."""

    def __init__(self, stream: IO[bytes], row_group: int = PARQUET_ROW_GROUP) -> None:
        pa, pq = _pyarrow()
        types = {
            "string": pa.string(),
            "int": pa.int64(),
            "float": pa.float64(),
            "bool": pa.bool_(),
        }
        self.columns = (*BASE_COLUMNS, *event_columns())
        self.schema = pa.schema([pa.field(name, types[kind]) for name, kind in self.columns])
        self.writer = pq.ParquetWriter(stream, self.schema)
        self.row_group = row_group
        self.buffer: list[dict[str, Any]] = []
        self._table = pa.Table.from_pylist

    def write(self, row: ExportRow) -> None:
        """Buffer one row; write a row group when the buffer is full."""
        self.buffer.append(flat_row(row))
        if len(self.buffer) >= self.row_group:
            self._flush()

    def close(self) -> None:
        """Write the last row group and the file footer."""
        self._flush()
        self.writer.close()

    def _flush(self) -> None:
        if self.buffer:
            self.writer.write_table(self._table(self.buffer, schema=self.schema))
            self.buffer = []


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ConfigError(
            "--format parquet needs pyarrow, which is not installed: "
            "pip install 'riskseal[parquet]'"
        ) from None
    return pyarrow, pyarrow.parquet


def check_format(fmt: Format, output: Path | None) -> None:
    """ConfigError when ``fmt`` cannot be written where asked (before any work is done)."""
    if fmt == "parquet":
        _pyarrow()
        if output is None:
            raise ConfigError("--format parquet writes a binary file: give --output FILE")


def partial_path(output: Path) -> Path:
    """Where rows go until the export completes: ``FILE.partial`` next to ``FILE``."""
    return output.with_name(output.name + ".partial")


@contextmanager
def open_output(fmt: Format, output: Path | None, stdout: IO[str]) -> Iterator[RowWriter]:
    """A writer for ``fmt`` on ``output`` (or ``stdout``).

    A file is written as ``FILE.partial`` and renamed to ``FILE`` only when the block ends
    normally: if the export stops (a failed block) or fails (an outage), the partial file
    is removed, so a file named ``FILE`` always holds a complete export. On stdout, rows
    already written cannot be taken back; the caller marks the output as incomplete.
    """
    if output is None:
        if fmt == "parquet":
            raise ConfigError("--format parquet writes a binary file: give --output FILE")
        writer: RowWriter = JsonlWriter(stdout) if fmt == "jsonl" else CsvWriter(stdout)
        yield writer
        writer.close()
        return
    partial = partial_path(output)
    binary = fmt == "parquet"
    try:
        opened = partial.open("wb") if binary else partial.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(
            f"cannot write --output {output}: {exc.strerror or exc}; give a path in a "
            "writable, existing folder"
        ) from None
    try:
        with opened as stream:
            writer = _writer(fmt, stream)
            yield writer
            writer.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output)


def _writer(fmt: Format, stream: Any) -> RowWriter:
    if fmt == "jsonl":
        return JsonlWriter(stream)
    if fmt == "csv":
        return CsvWriter(stream)
    return ParquetWriter(stream)
