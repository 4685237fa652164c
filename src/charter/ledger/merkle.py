"""Merkle roots over row hashes: how a write to the decision lake is anchored on the ledger.

The tree is the Merkle Tree Hash of RFC 6962 (Certificate Transparency, section 2.1) over
leaves that are 32-byte SHA-256 digests (the lake's ``_row_hash``)::

    leaf node   = SHA-256(0x00 || leaf)
    inner node  = SHA-256(0x01 || left || right)
    root of []  = SHA-256(b"")            (e3b0c442...b855)

built level by level: the nodes of a level are paired left to right, and an odd node at
the end of a level is promoted to the next level unchanged (never paired with itself, so
no two leaf lists share a root). The prefixes keep a leaf from passing for an inner node.
The root of one leaf is its leaf node, SHA-256(0x00 || leaf), not the leaf itself.

A proof is the list of ``(side, sibling)`` steps from the leaf up, ``side`` being where the
sibling sits: ``"left"`` means ``SHA-256(0x01 || sibling || node)``, ``"right"`` means
``SHA-256(0x01 || node || sibling)``. Levels where the node was promoted add no step.

:func:`ordered_root` is what the lake records: the root over the row hashes of a batch
in the order of their ``decision_id`` (compared as UTF-8 bytes), so the root does not
depend on the order rows were written or read in.

``charter._rowhash`` (C, optional at install) computes the same bytes with the GIL
released; set ``CHARTER_NATIVE=0`` to use the Python path.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from charter.errors import InvalidInput

DIGEST_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Trees of fewer leaves are built on one thread whatever ``workers`` says.
PARALLEL = 1 << 14

Side: TypeAlias = Literal["left", "right"]
Proof: TypeAlias = list[tuple[Side, bytes]]
Leaves: TypeAlias = Sequence[bytes] | pa.FixedSizeBinaryArray | pa.ChunkedArray


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("charter._rowhash")
    except ImportError:  # built without a compiler or headers: the Python path serves
        return None


_native = _load()


def native() -> ModuleType | None:
    """``charter._rowhash`` when it is built and not switched off by ``CHARTER_NATIVE=0``."""
    return _native if os.environ.get("CHARTER_NATIVE", "1") != "0" else None


def available() -> bool:
    return native() is not None


def merkle_root(leaves: Leaves, *, workers: int = 1) -> bytes:
    """The root over ``leaves`` (32-byte digests, in the order given).

    With the C extension, ``workers`` threads hash the wide levels of a large tree side
    by side; the root does not depend on it.
    """
    if workers < 1:
        raise InvalidInput(f"workers is {workers}; use 1 or more threads")
    data = leaf_bytes(leaves)
    fast = native()
    if fast is not None and (workers == 1 or len(data) < PARALLEL * DIGEST_SIZE):
        root: bytes = fast.merkle_root(data)
        return root
    if fast is not None:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            nodes = _level_in_parts(pool, fast, data, leaf=True, parts=workers)
            while len(nodes) > PARALLEL * DIGEST_SIZE:
                nodes = _level_in_parts(pool, fast, nodes, leaf=False, parts=workers)
        while len(nodes) > DIGEST_SIZE:
            nodes = fast.merkle_level(nodes, False)
        return nodes
    level = _leaf_level(data)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_proof(leaves: Leaves, index: int) -> Proof:
    """The steps that lead from leaf ``index`` to the root (see the module docstring)."""
    data = leaf_bytes(leaves)
    count = len(data) // DIGEST_SIZE
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise InvalidInput(f"leaf index {index!r} is out of range for {count} leaves (0 to {count - 1})")
    fast = native()
    proof: Proof = []
    if fast is not None:
        nodes: bytes = fast.merkle_level(data, True)
        while len(nodes) > DIGEST_SIZE:
            sibling = index ^ 1
            if sibling * DIGEST_SIZE < len(nodes):
                proof.append(
                    ("left" if index & 1 else "right", nodes[sibling * DIGEST_SIZE : (sibling + 1) * DIGEST_SIZE])
                )
            nodes = fast.merkle_level(nodes, False)
            index //= 2
        return proof
    level = _leaf_level(data)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(("left" if index & 1 else "right", level[sibling]))
        level = _next_level(level)
        index //= 2
    return proof


def verify_proof(leaf: bytes, proof: Sequence[tuple[str, bytes]], root: bytes) -> bool:
    """Whether ``proof`` leads from ``leaf`` to ``root``. Malformed arguments raise InvalidInput."""
    _check_digest(leaf, "leaf")
    _check_digest(root, "root")
    node = hashlib.sha256(LEAF_PREFIX + leaf).digest()
    for step, item in enumerate(proof):
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidInput(f"proof step {step} is {item!r}, not a (side, sibling) pair")
        side, sibling = item
        _check_digest(sibling, f"proof step {step} sibling")
        if side == "left":
            node = hashlib.sha256(NODE_PREFIX + sibling + node).digest()
        elif side == "right":
            node = hashlib.sha256(NODE_PREFIX + node + sibling).digest()
        else:
            raise InvalidInput(f"proof step {step} has side {side!r}; use 'left' or 'right'")
    return hmac.compare_digest(node, root)


def ordered_root(
    decision_ids: Sequence[str] | pa.Array | pa.ChunkedArray,
    row_hashes: Leaves,
    *,
    workers: int = 1,
) -> bytes:
    """The root over ``row_hashes`` ordered by their ``decision_ids`` (UTF-8 bytes, ascending).

    The ids pair one to one with the hashes and must be distinct and not null: the lake
    never holds two rows with one decision id, and a tie would make the order arbitrary.
    """
    ids = _id_array(decision_ids)
    data = leaf_bytes(row_hashes)
    count = len(data) // DIGEST_SIZE
    if len(ids) != count:
        raise InvalidInput(f"{len(ids)} decision ids and {count} row hashes; they must pair one to one")
    if ids.null_count:
        first = pc.index(ids.is_null(), True).as_py()
        raise InvalidInput(f"decision id {first} (counting from 0) is null; every row needs one")
    if count < 2:
        return merkle_root(data_array(data), workers=workers)
    order = pc.sort_indices(ids)
    ordered = ids.take(order)
    repeats = pc.equal(ordered.slice(1), ordered.slice(0, count - 1))
    if pc.any(repeats).as_py():
        repeated = ordered[pc.index(repeats, True).as_py()].as_py()
        raise InvalidInput(f"decision id {repeated!r} appears more than once; each row needs its own")
    return merkle_root(data_array(data).take(order), workers=workers)


def data_array(data: bytes) -> pa.FixedSizeBinaryArray:
    """32-byte digests laid end to end as an Arrow ``binary(32)`` array (no copy)."""
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(DIGEST_SIZE), len(data) // DIGEST_SIZE, [None, pa.py_buffer(data)]
    )


def leaf_bytes(leaves: Leaves) -> bytes:
    """The leaves laid end to end, 32 bytes each, after checking each one."""
    if isinstance(leaves, pa.ChunkedArray):
        leaves = leaves.combine_chunks()  # so a bad leaf is named by its place in the whole
    if isinstance(leaves, pa.Array):
        if not pa.types.is_fixed_size_binary(leaves.type) or leaves.type.byte_width != DIGEST_SIZE:
            raise InvalidInput(f"leaves are an Arrow {leaves.type} array; a leaf is a 32-byte digest (binary(32))")
        if leaves.null_count:
            raise InvalidInput(f"leaf {pc.index(leaves.is_null(), True).as_py()} is null; a leaf is a 32-byte digest")
        if not len(leaves):
            return b""
        data: bytes = leaves.buffers()[1].slice(leaves.offset * DIGEST_SIZE, len(leaves) * DIGEST_SIZE).to_pybytes()
        return data
    if isinstance(leaves, bytes | bytearray | memoryview | str):
        raise InvalidInput(
            f"leaves are one {type(leaves).__name__} value; pass a sequence of 32-byte digests or a binary(32) array"
        )
    for index, leaf in enumerate(leaves):
        _check_digest(leaf, f"leaf {index}")
    return b"".join(leaves)


def _check_digest(value: object, what: str) -> None:
    if not isinstance(value, bytes):
        raise InvalidInput(f"{what} is of type {type(value).__name__}; it must be 32 bytes (a SHA-256 digest)")
    if len(value) != DIGEST_SIZE:
        raise InvalidInput(f"{what} is {len(value)} bytes long; it must be 32 bytes (a SHA-256 digest)")


def _id_array(decision_ids: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(decision_ids, pa.ChunkedArray):
        decision_ids = decision_ids.combine_chunks()
    if not isinstance(decision_ids, pa.Array):
        if isinstance(decision_ids, str | bytes):
            raise InvalidInput("decision ids are one string; pass a sequence of ids, one per row hash")
        for index, value in enumerate(decision_ids):
            if value is not None and not isinstance(value, str):
                raise InvalidInput(
                    f"decision id {index} is of type {type(value).__name__}; decision ids are text (UUIDv7)"
                )
        decision_ids = pa.array(list(decision_ids), pa.string())
    if pa.types.is_dictionary(decision_ids.type):
        decision_ids = decision_ids.dictionary_decode()
    if pa.types.is_string_view(decision_ids.type):
        decision_ids = decision_ids.cast(pa.string())
    if not (pa.types.is_string(decision_ids.type) or pa.types.is_large_string(decision_ids.type)):
        raise InvalidInput(f"decision ids are {decision_ids.type} values; decision ids are text (UUIDv7)")
    return decision_ids


def _level_in_parts(pool: ThreadPoolExecutor, fast: ModuleType, nodes: bytes, *, leaf: bool, parts: int) -> bytes:
    """One level computed in ``parts`` slices on the pool; slices hold an even count of nodes so pairs stay whole."""
    count = len(nodes) // DIGEST_SIZE
    step = -(-count // parts)
    step += step % 2
    view = memoryview(nodes)
    slices = [view[i * DIGEST_SIZE : (i + step) * DIGEST_SIZE] for i in range(0, count, step)]
    return b"".join(pool.map(lambda part: fast.merkle_level(part, leaf), slices))


def _leaf_level(data: bytes) -> list[bytes]:
    return [hashlib.sha256(LEAF_PREFIX + data[i : i + DIGEST_SIZE]).digest() for i in range(0, len(data), DIGEST_SIZE)]


def _next_level(level: list[bytes]) -> list[bytes]:
    pairs = [hashlib.sha256(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
    return pairs + level[-1:] if len(level) % 2 else pairs
