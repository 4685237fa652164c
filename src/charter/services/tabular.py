"""Tabular data sets: read CSV or Parquet into Arrow, describe the columns, check data quality.

Registering a data set version reads its file (or a folder of Parquet files) once and records
the row count, :func:`table_schema` and :func:`quality_report`. Missing values, distinct
counts, numeric text and duplicate rows are counted by the same kernels that check monitoring
windows (:mod:`charter.metrics.quality`), over whole Arrow columns, never value by value in
Python.

Missing values: nulls, plus NaN in float columns and ``""`` in string columns (pyarrow's CSV
reader keeps empty strings in string columns). Columns whose values Arrow cannot hash (lists,
structs, maps) get ``distinct = None``, are never constant and are left out when rows are
compared for duplicates; the duplicates sentence then names them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from charter.errors import InvalidInput
from charter.metrics.quality import distinct_count, duplicate_rows, is_number_text, missing_mask
from charter.metrics.quality_report import format_share, format_value
from charter.metrics.quality_values import read_table as read_columns
from charter.services.artifacts import ArtifactDigest

FORMATS: tuple[str, ...] = ("csv", "parquet")
#: Rows a batch when a file is read in batches (``iter_batches``).
BATCH_ROWS = 65_536

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_KNOWN = "known formats: csv (.csv, .csv.gz, .tsv, .tsv.gz), parquet (.parquet, .pq, or a folder of them)"
_ROW = re.compile(r"Row #(\d+): (.*)", re.DOTALL)


def detect_format(path: Path) -> str:
    """'csv' for .csv/.csv.gz/.tsv/.tsv.gz, 'parquet' for .parquet/.pq or a folder holding .parquet/.pq files."""
    name = path.name.lower()
    if path.is_dir():
        if _parquet_files(path):
            return "parquet"
        raise InvalidInput(f"{path} is a folder without .parquet or .pq files ({_KNOWN})")
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or folder")
    raise InvalidInput(f"cannot tell the format of {path} from its name ({_KNOWN})")


def read_table(path: Path, fmt: str | None = None) -> pa.Table:
    """Read the whole file (or Parquet folder) into Arrow; ``fmt=None`` detects it from the name.

    CSV parse errors name the row pyarrow reports: the header is row 1 and blank lines are not
    counted, so in a file without blank lines or quoted line breaks it is the line number.
    A folder is read as its .parquet/.pq files (recursively, skipping names starting with '.'
    or '_'), in path order; they must all have the same columns. Hive partition keys in folder
    names are not turned into columns.
    """
    fmt = _readable(path, fmt)
    table = _read_csv(path) if fmt == "csv" else _read_parquet(path)
    if table.num_columns == 0:
        raise InvalidInput(f"{path} is empty: it has no columns")
    _check_names(table, str(path))
    return table


def _readable(path: Path, fmt: str | None) -> str:
    """The file's format, once it is known to be a supported one and the path to exist."""
    fmt = detect_format(path) if fmt is None else fmt
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r} ({_KNOWN})")
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or folder")
    return fmt


def count_rows(path: Path, fmt: str | None = None) -> int | None:
    """The number of rows when the file says it without being read (Parquet), else None (CSV)."""
    if _readable(path, fmt) != "parquet":
        return None
    try:
        return sum(
            int(pq.ParquetFile(file).metadata.num_rows) for file in (_parquet_files(path) if path.is_dir() else [path])
        )
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInput(f"{path}: not a readable Parquet file ({exc})") from None


def iter_batches(path: Path, fmt: str | None = None, *, rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Read a file (or Parquet folder) as record batches of about ``rows`` rows, never all at once.

    Parquet batches keep the file's column types. A CSV file is read block by block, and
    each column's type is inferred from the first block: a later value that does not fit
    that type is an error naming the column (read such a file whole with ``read_table``, or
    convert it to Parquet).
    """
    fmt = _readable(path, fmt)
    first: pa.Schema | None = None
    for batch in _csv_batches(path, rows) if fmt == "csv" else _parquet_batches(path, rows):
        if first is None:
            first = batch.schema
            if not first.names:
                raise InvalidInput(f"{path} is empty: it has no columns")
            _check_names(pa.Table.from_batches([], schema=first), str(path))
        yield batch


def _csv_batches(path: Path, rows: int) -> Iterator[pa.RecordBatch]:
    tsv = path.name.lower().endswith((".tsv", ".tsv.gz"))
    parse = pcsv.ParseOptions(delimiter="\t" if tsv else ",")
    read = pcsv.ReadOptions(block_size=max(rows * 64, 1 << 16))  # bytes: about ``rows`` rows of 64 bytes
    try:
        reader = pcsv.open_csv(path, parse_options=parse, read_options=read)
        yield from reader
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    except pa.ArrowException as exc:
        message = str(exc)
        if message == "Empty CSV file":
            raise InvalidInput(f"{path} is empty: it has no header line") from None
        raise InvalidInput(
            f"{path}: not readable as CSV in batches ({message}); a column's type comes from the first rows"
        ) from None


def _parquet_batches(path: Path, rows: int) -> Iterator[pa.RecordBatch]:
    files = _parquet_files(path) if path.is_dir() else [path]
    if not files:
        raise InvalidInput(f"{path} is a folder without .parquet or .pq files ({_KNOWN})")
    first: pa.Schema | None = None
    for file in files:
        try:
            reader = pq.ParquetFile(file)
            schema = reader.schema_arrow
            if first is not None and not schema.equals(first):
                raise InvalidInput(
                    f"{file}: its columns ({_describe(schema)}) differ from those of {files[0]} "
                    f"({_describe(first)}); every file in a folder must have the same columns"
                )
            first = schema
            yield from reader.iter_batches(batch_size=rows)
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc}") from None
        except pa.ArrowException as exc:
            raise InvalidInput(f"{file}: not a readable Parquet file ({exc})") from None


def as_table(data: Any, where: str) -> pa.Table:
    """An in-memory table as Arrow: a pyarrow Table or RecordBatch, a pandas or Polars DataFrame.

    Anything else with the Arrow PyCapsule stream interface is accepted too. pandas' index
    is not a column (reset it first to keep it); schema metadata is dropped.
    """
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif not isinstance(data, pa.Table):
        module = type(data).__module__.split(".", 1)[0]
        if module == "pandas" and type(data).__name__ == "DataFrame":
            try:
                data = pa.Table.from_pandas(data, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InvalidInput(f"{where}: a column of this DataFrame cannot be stored as Arrow: {exc}") from None
        elif hasattr(data, "__arrow_c_stream__"):
            data = pa.table(data)
        else:
            raise InvalidInput(
                f"{where}: expected a pyarrow Table or RecordBatch, or a pandas or Polars DataFrame, "
                f"not {type(data).__name__}"
            )
    if data.num_columns == 0:
        raise InvalidInput(f"{where} is empty: it has no columns")
    _check_names(data, where)
    return data.replace_schema_metadata(None)


def frame_digest(table: pa.Table) -> ArtifactDigest:
    """SHA-256 of a table's content: its Arrow IPC stream with one record batch and no metadata.

    The same columns (names, types, order) and rows give the same digest however the table
    was chunked or built. Text is hashed as ``large_string`` and bytes as ``large_binary``
    (pandas, Polars and pyarrow pick different string types for the same data), and
    dictionary-encoded columns (categoricals) as their values. ``size`` is the bytes hashed.
    """
    hasher = hashlib.sha256()
    sink = _HashingSink(hasher)
    schema = pa.schema([field.with_type(_canonical_type(field.type)) for field in table.schema])
    canonical = table.replace_schema_metadata(None).cast(schema).combine_chunks()
    with pa.ipc.new_stream(sink, canonical.schema) as writer:
        for batch in canonical.to_batches(max_chunksize=max(canonical.num_rows, 1)):
            writer.write_batch(batch)
    digest = hasher.hexdigest()
    return ArtifactDigest(uri=f"frame:sha256:{digest}", sha256=digest, size=sink.size, files=1)


def _canonical_type(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(dtype):
        return _canonical_type(dtype.value_type)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.large_string()
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_binary_view(dtype):
        return pa.large_binary()
    return dtype


class _HashingSink:
    """A writable file object that hashes what is written instead of keeping it."""

    def __init__(self, hasher: Any) -> None:
        self.hasher = hasher
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hasher.update(view)
        self.size += view.nbytes
        return view.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def table_schema(table: pa.Table) -> list[dict[str, str]]:
    """``[{"name": column, "type": simple type}]`` in column order.

    Simple types: integer, number (floats and decimals), string, boolean, date, timestamp,
    other (binary, times, durations, nested and null columns). Dictionary columns take the
    type of their values.
    """
    return [{"name": field.name, "type": _simple_type(field.type)} for field in table.schema]


def sample_values(table: pa.Table, column: str, limit: int = 1000) -> list[object]:
    """Up to ``limit`` non-missing values of ``column`` (first ones first), as Python objects."""
    if column not in table.column_names:
        raise InvalidInput(f"no column {column!r} (columns: {', '.join(table.column_names)})")
    if limit < 0:
        raise InvalidInput(f"limit must be 0 or more, not {limit}")
    values = _plain(table.column(column))
    present = values.filter(pa.array(~missing_mask(values)))
    return list(present.slice(0, limit).to_pylist())


@dataclass(frozen=True)
class QualityReport:
    rows: int
    duplicate_rows: int  # rows that repeat an earlier identical row
    columns: dict[str, dict[str, Any]]  # missing, missing_share, constant, distinct, type_violations
    issues: tuple[str, ...]  # one human sentence per finding, in column order, then table-level

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "columns": {name: dict(stats) for name, stats in self.columns.items()},
            "issues": list(self.issues),
        }


def quality_report(table: pa.Table, *, missing_threshold: float = 0.05) -> QualityReport:
    """Missing values, constant columns, distinct counts, numbers stored as text, duplicate rows."""
    if not 0.0 <= missing_threshold <= 1.0:
        raise InvalidInput(f"missing_threshold must be between 0 and 1, not {missing_threshold}")
    _check_names(table, "the table")
    rows = int(table.num_rows)
    columns: dict[str, dict[str, Any]] = {}
    issues: list[str] = []
    read = read_columns(table, name="the table")  # each column is read once for all the checks
    for name in table.column_names:
        missing_values = missing_mask(read.read(name))
        missing = int(missing_values.sum())
        present = _plain(table.column(name)).filter(pa.array(~missing_values))
        distinct = distinct_count(read.read(name))  # hashes the values once; duplicate_rows reuses the codes
        violations = _type_violations(present)
        constant = distinct == 1
        columns[name] = {
            "missing": missing,
            "missing_share": missing / rows if rows else 0.0,
            "constant": constant,
            "distinct": distinct,
            "type_violations": violations,
        }
        if rows and missing == rows:
            issues.append(f"column {name!r} is entirely missing")
        elif missing and missing / rows > missing_threshold:
            issues.append(f"column {name!r}: {format_share(missing / rows)} missing")
        if constant:
            issues.append(f"column {name!r} is constant ({format_value(present[0].as_py())})")
        if violations:
            verb = "value is not a number" if violations == 1 else "values are not numbers"
            issues.append(f"column {name!r}: {violations} {verb} in a mostly numeric column")
    repeated = duplicate_rows(read)
    duplicates = repeated.duplicates
    if duplicates:
        sentence = f"{duplicates} duplicate row{'' if duplicates == 1 else 's'}"
        if repeated.not_compared:
            shown = ", ".join(map(repr, repeated.not_compared))
            sentence += f" (not comparing {shown}: Arrow cannot compare their values)"
        issues.append(sentence)
    return QualityReport(rows=rows, duplicate_rows=duplicates, columns=columns, issues=tuple(issues))


def _read_csv(path: Path) -> pa.Table:
    tsv = path.name.lower().endswith((".tsv", ".tsv.gz"))
    parse = pcsv.ParseOptions(delimiter="\t" if tsv else ",")
    try:
        return pcsv.read_csv(path, parse_options=parse)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    except pa.ArrowException as exc:
        message = str(exc)
    if "Row #" not in message:
        # Multithreaded reading does not know row numbers; reading again on one thread does.
        try:
            pcsv.read_csv(path, parse_options=parse, read_options=pcsv.ReadOptions(use_threads=False))
        except pa.ArrowException as again:
            message = str(again)
    if message == "Empty CSV file":
        raise InvalidInput(f"{path} is empty: it has no header line")
    found = _ROW.search(message)
    if found:  # keep what pyarrow says around the row number ("In CSV column #1: ...") but not its prefix
        detail = (message[: found.start()] + found.group(2)).removeprefix("CSV parse error: ")
        raise InvalidInput(f"{path} row {found.group(1)}: {detail[:1].lower()}{detail[1:]}")
    raise InvalidInput(f"{path}: not a readable CSV file ({message})")


def _read_parquet(path: Path) -> pa.Table:
    files = _parquet_files(path) if path.is_dir() else [path]
    if not files:
        raise InvalidInput(f"{path} is a folder without .parquet or .pq files ({_KNOWN})")
    tables: list[pa.Table] = []
    for file in files:
        try:
            table = pq.read_table(file)
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc}") from None
        except pa.ArrowException as exc:
            raise InvalidInput(f"{file}: not a readable Parquet file ({exc})") from None
        if tables and not table.schema.equals(tables[0].schema):
            raise InvalidInput(
                f"{file}: its columns ({_describe(table.schema)}) differ from those of {files[0]} "
                f"({_describe(tables[0].schema)}); every file in a folder must have the same columns"
            )
        tables.append(table)
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


#: A folder dataset is read from at most this many files and folders: more is a path given by mistake
#: (``/``, a home folder), which would otherwise be walked whole before anything is said.
MAX_FOLDER_ENTRIES = 100_000


def _parquet_files(folder: Path) -> list[Path]:
    """The .parquet/.pq files under ``folder``, skipping files and folders whose names start with '.' or '_'.

    A folder that cannot be read, or one holding more than :data:`MAX_FOLDER_ENTRIES` entries, is
    refused with its name.
    """

    def unreadable(exc: OSError) -> None:
        raise InvalidInput(f"cannot read {exc.filename}: {exc.strerror} (under the dataset folder {folder})")

    found: list[Path] = []
    seen = 0
    for root, folders, files in os.walk(folder, onerror=unreadable):
        folders[:] = [name for name in folders if not name.startswith((".", "_"))]
        seen += len(folders) + len(files)
        if seen > MAX_FOLDER_ENTRIES:
            raise InvalidInput(
                f"{folder} holds more than {MAX_FOLDER_ENTRIES:,} files and folders; "
                "give the folder that holds the dataset's Parquet files"
            )
        found += [
            Path(root, name)
            for name in files
            if name.lower().endswith(_PARQUET_SUFFIXES)
            and not name.startswith((".", "_"))
            and Path(root, name).is_file()
        ]
    return sorted(found)


def _describe(schema: pa.Schema) -> str:
    return ", ".join(f"{field.name}: {field.type}" for field in schema)


def _check_names(table: pa.Table, where: str) -> None:
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise InvalidInput(f"{where}: column {name!r} appears more than once; column names must be unique")
        seen.add(name)


def _simple_type(dtype: pa.DataType) -> str:
    types = pa.types
    if types.is_dictionary(dtype):
        return _simple_type(dtype.value_type)
    checks = (
        ("boolean", types.is_boolean),
        ("integer", types.is_integer),
        ("number", lambda t: types.is_floating(t) or types.is_decimal(t)),
        ("string", _is_text),
        ("date", types.is_date),
        ("timestamp", types.is_timestamp),
    )
    return next((simple for simple, check in checks if check(dtype)), "other")


def _is_text(dtype: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)  # string_view: pyarrow 16+
    return bool(pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or is_view(dtype))


def _plain(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Decode dictionaries and turn string views into strings, which every kernel here accepts."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if _is_text(values.type) and not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.large_string())
    return values


def _type_violations(present: pa.ChunkedArray) -> int:
    """Values that are not numbers, in a text column where at least 90% (but not all) are."""
    total = len(present)
    if not total or not _is_text(present.type):
        return 0
    numbers = int(is_number_text(present).sum())
    return total - numbers if numbers < total and numbers * 10 >= total * 9 else 0
