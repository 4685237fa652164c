"""The canonical bytes of a decision row, their SHA-256 (the lake's ``_row_hash``) and a batch's root.

Format ``charter.row.v2``. A row's canonical bytes are::

    "charter.row.v2" ( US len(name) ":" name tag value )*

with one group per column whose cell is not null, the columns in ascending order of their
names' UTF-8 bytes, the lake's own columns (``_batch``, ``_row_hash``) left out. A null cell
contributes nothing: a row reads the same whether a column is null in it or absent from its
table, so when a later batch adds a column (the table's schema evolves and older rows read
null there), the older rows' hashes do not change. ``US`` is the byte 0x1F,
``len(x)`` is the decimal count of the UTF-8 bytes of ``x``, and ``name`` is the column
name in UTF-8. ``tag`` says what kind of column it is, from its Arrow type:

    b   boolean                     true | false
    i   any integer (int8..uint64)  decimal: -12, 0, 18446744073709551615
    f   any float (float16..64)     the float64 value as Arrow casts it to text (below)
    s   text (string, large_string, string_view, dictionary of these)
                                    len(value) ":" the UTF-8 bytes
    x   bytes (binary, large_binary, binary_view, fixed_size_binary)
                                    len(value) ":" the bytes
    t   timestamp (any unit, any time zone or none)
                                    decimal microseconds since 1970-01-01T00:00:00 UTC
                                    (the stored instant; a zoneless timestamp counts as UTC)
    d   date32, date64              decimal days since 1970-01-01
    l   list, large_list, fixed_size_list: "l" then the element's tag (so ``lf`` is a list
        of floats, ``lls`` a list of lists of text);
                                    "[" element values joined by "," "]", each element
                                    written as its value below, a null element as N

and ``N`` stands for a null inside a list (a null cell is left out, see above). No value
other than such a null starts with ``N``; text and bytes carry their length, so no content
can pass for a separator; the other values never contain US, "," or "]". So ``s0:`` is the
empty string and ``s4:null`` the text "null"; ``lf[]`` an empty list and ``lf[N]`` a list
holding one null. Dictionary-encoded columns are decoded first, so they encode as their
values; integers of every width encode alike, as do text, bytes and list types of every
offset width.

A float is written as Arrow's cast of the float64 value to text: the shortest digits
that read back as the same float64, in decimal notation (``2``, ``-1.5``, ``0.000001``,
``1234567890.5``) when its decimal exponent x (value = d.ddd times 10^x) is in -6..9, else
as ``d[.ddd]e+x`` / ``d[.ddd]e-x`` (``1e+10``, ``1.2345678901e+10``, ``1e-7``, ``5e-324``);
``-0`` for negative zero, ``nan`` for every NaN, ``inf`` and ``-inf``. float16 and
float32 values are widened to float64 first (float32 0.1 is ``0.10000000149011612``).
Integer-valued floats have no ``.0`` (``f2``), and the tag keeps them apart from integers.

A column of the null type (every cell null) contributes nothing. Types not listed
(structs, maps, decimals, durations, times) are refused: cast the batch to the lake's
schema first.

For example the row ``{"score": 0.5, "decision_id": "a", "n": 3, "tags": ["x", None]}``
encodes as ``charter.row.v2 US 11:decision_id s1:a US 1:n i3 US 5:score f0.5 US 4:tags
ls[1:x,N]`` (without the spaces).

``_row_hash`` is SHA-256 of these bytes. The per-row loop runs in C (``charter._rowhash``)
when it is built; ``CHARTER_NATIVE=0`` forces the Python loop, which gives the same bytes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import InvalidInput
from charter.lake.schema import BATCH, DECISION_ID, ROW_HASH
from charter.ledger import merkle

FORMAT = b"charter.row.v2"
SEPARATOR = b"\x1f"
NULL = b"N"
LAKE_COLUMNS = (BATCH, ROW_HASH)

#: Rows encoded at a time: small enough that a chunk's text stays in cache, large enough
#: that Arrow's per-call cost does not show.
CHUNK = 16_384

Batch: TypeAlias = pa.RecordBatch | pa.Table


def canonical_rows(batch: Batch, *, exclude: Collection[str] = LAKE_COLUMNS) -> pa.BinaryArray | pa.LargeBinaryArray:
    """Each row's canonical bytes (see the module docstring), as one Arrow binary array.

    ``large_binary`` only when the rows together pass 2 GiB.
    """
    order, parts = _chunks(batch, exclude)
    chunks = [_encode(part, order) for part in parts]
    if not chunks:
        return pa.array([], pa.binary())
    if sum(chunk.nbytes for chunk in chunks) >= 2**31 - 1:
        chunks = [chunk.cast(pa.large_binary()) for chunk in chunks]
    return pa.concat_arrays(chunks)


def row_hashes(batch: Batch, *, exclude: Collection[str] = LAKE_COLUMNS, workers: int = 1) -> pa.FixedSizeBinaryArray:
    """SHA-256 of each row's canonical bytes, as a ``binary(32)`` array in row order.

    ``workers`` threads encode and hash chunks of rows side by side (Arrow and the C loop
    release the GIL); the result does not depend on it.
    """
    if workers < 1:
        raise InvalidInput(f"workers is {workers}; use 1 or more threads")
    order, parts = _chunks(batch, exclude)

    def digest(part: pa.RecordBatch) -> bytes:
        return hash_each(_encode(part, order))

    if workers == 1 or len(parts) < 2:
        digests = [digest(part) for part in parts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            digests = list(pool.map(digest, parts))
    return merkle.data_array(b"".join(digests))


def batch_root(batch: Batch, *, exclude: Collection[str] = LAKE_COLUMNS, workers: int = 1) -> bytes:
    """The Merkle root the ledger records for a batch: over its row hashes, ordered by ``decision_id``."""
    if not isinstance(batch, pa.RecordBatch | pa.Table):
        raise InvalidInput(f"expected an Arrow RecordBatch or Table of decisions, not {type(batch).__name__}")
    if DECISION_ID not in batch.schema.names:
        raise InvalidInput(
            f"the batch has no {DECISION_ID} column (it has: {', '.join(batch.schema.names) or 'none'}); "
            "rows are ordered by decision id before their root is taken"
        )
    hashes = row_hashes(batch, exclude=exclude, workers=workers)
    return merkle.ordered_root(batch.column(DECISION_ID), hashes, workers=workers)


def hash_each(rows: pa.BinaryArray | pa.LargeBinaryArray, *, native: bool = True) -> bytes:
    """SHA-256 of each element of a binary array without nulls, 32 bytes each, laid end to end.

    In C when ``charter._rowhash`` is built and neither ``native=False`` nor
    ``CHARTER_NATIVE=0`` asks for the Python loop; both give the same bytes.
    """
    wide = pa.types.is_large_binary(rows.type)
    if not (wide or pa.types.is_binary(rows.type)) or rows.null_count:
        raise InvalidInput(
            f"hash_each takes binary values without nulls, not {rows.type} values with {rows.null_count} nulls"
        )
    if not len(rows):
        return b""
    _, offsets, data = rows.buffers()
    data = data if data is not None else pa.py_buffer(b"")
    fast = merkle.native() if native else None
    if fast is not None:
        digests: bytes = fast.hash_slices(offsets, data, wide, rows.offset, len(rows))
        return digests
    bounds = np.frombuffer(offsets, np.int64 if wide else np.int32)[rows.offset : rows.offset + len(rows) + 1].tolist()
    view = memoryview(data)
    return b"".join(hashlib.sha256(view[lo:hi]).digest() for lo, hi in itertools.pairwise(bounds))


def _chunks(batch: Batch, exclude: Collection[str]) -> tuple[list[str], list[pa.RecordBatch]]:
    """The columns to encode in their order, and the rows in slices of at most CHUNK."""
    if not isinstance(batch, pa.RecordBatch | pa.Table):
        raise InvalidInput(f"expected an Arrow RecordBatch or Table of decisions, not {type(batch).__name__}")
    names = [name for name in batch.schema.names if name not in exclude]
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise InvalidInput(f"column {twice!r} appears more than once in the batch; each column needs its own name")
    order = sorted(names, key=lambda name: name.encode())
    selected = batch.select(order)
    whole = selected.to_batches() if isinstance(selected, pa.Table) else [selected]
    return order, [part.slice(start, CHUNK) for part in whole for start in range(0, part.num_rows, CHUNK)]


def _encode(rows: pa.RecordBatch, order: list[str]) -> pa.BinaryArray:
    args: list[pa.Array | pa.Scalar] = [_scalar(FORMAT)]
    for index, name in enumerate(order):
        column = rows.column(index)
        if pa.types.is_null(column.type) or column.null_count == len(column):
            continue  # every cell null: the column contributes nothing
        tag, text = _value_text(column, name)
        encoded_name = name.encode()
        header = _scalar(SEPARATOR + str(len(encoded_name)).encode() + b":" + encoded_name + tag)
        if text.null_count:  # a null cell leaves its whole group out
            args.append(pc.if_else(pc.is_null(text), _scalar(b""), header))
            args.append(pc.fill_null(text, _scalar(b"")))
        else:
            args.append(header)
            args.append(text)
    if len(args) == 1:
        return pa.repeat(_scalar(FORMAT), rows.num_rows)
    return pc.binary_join_element_wise(*args, _scalar(b""))


def _value_text(array: pa.Array, where: str) -> tuple[bytes, pa.Array]:
    """The column's tag and each cell's value text as ``binary`` (null where the cell is null)."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        return (b"b" if pa.types.is_boolean(kind) else b"i"), _text(array)
    if pa.types.is_floating(kind):
        return b"f", _text(array if kind == pa.float64() else array.cast(pa.float64()))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return b"s", _length_prefixed(array, where)
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_binary_view(kind)
        or pa.types.is_fixed_size_binary(kind)
    ):
        return b"x", _length_prefixed(array, where)
    if pa.types.is_timestamp(kind):
        try:
            micros = array.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.int64())
        except pa.ArrowInvalid as exc:
            raise InvalidInput(
                f"column {where!r}: a timestamp is not a whole number of microseconds or is out of range ({exc})"
            ) from exc
        return b"t", _text(micros)
    if pa.types.is_date(kind):
        return b"d", _text(array.cast(pa.date32()).cast(pa.int32()))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _list_text(array, where)
    raise InvalidInput(
        f"column {where!r} is of type {kind}, which rows cannot be hashed in "
        "(booleans, integers, floats, text, bytes, timestamps, dates and lists of these can); "
        "cast it to the lake's schema first"
    )


def _list_text(array: pa.Array, where: str) -> tuple[bytes, pa.Array]:
    if not pa.types.is_list(array.type):
        try:
            array = array.cast(pa.list_(array.type.value_field))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(f"column {where!r}: its lists cannot be read as lists ({exc})") from exc
    offsets = array.offsets
    first = offsets[0].as_py()
    values = array.values.slice(first, offsets[-1].as_py() - first)
    tag, text = _value_text(values, where + "[]")
    lists = pa.ListArray.from_arrays(
        pc.subtract(offsets, pa.scalar(first, offsets.type)),
        pc.fill_null(text, _scalar(NULL)),
        mask=array.is_null() if array.null_count else None,
    )
    joined = pc.binary_join(lists, _scalar(b","))
    return b"l" + tag, pc.binary_join_element_wise(_scalar(b"["), joined, _scalar(b"]"), _scalar(b""))


def _length_prefixed(array: pa.Array, where: str) -> pa.Array:
    """``len ":" bytes`` for each value, null for a null."""
    try:
        data = array.cast(pa.binary())
    except pa.ArrowInvalid as exc:
        raise InvalidInput(f"column {where!r}: values too large to hash in one chunk ({exc})") from exc
    lengths = _text(pc.binary_length(data))
    return pc.binary_join_element_wise(lengths, _scalar(b":"), data, _scalar(b""))


def _text(array: pa.Array) -> pa.Array:
    return array.cast(pa.string()).cast(pa.binary())


def _scalar(value: bytes) -> pa.Scalar:
    return pa.scalar(value, pa.binary())
