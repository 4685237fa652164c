"""Merkle roots and proofs: equal to RFC 6962's recursive definition, C equal to Python."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.errors import InvalidInput
from charter.ledger import merkle
from charter.ledger.native import switched
from tests.conftest import IN_CI


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962's Merkle Tree Hash, written from its recursive definition (split at the largest power of 2 < n)."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return sha(b"\x00" + leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:]))


def leaves_of(count: int, seed: int = 0) -> list[bytes]:
    return [sha(f"{seed}:{i}".encode()) for i in range(count)]


@contextmanager
def path(native: bool) -> Iterator[None]:
    """Run on the C path or, with CHARTER_NATIVE=0 (the documented switch), on the Python path."""
    if native and merkle._native is None:
        if IN_CI:
            pytest.fail("charter._rowhash did not build: install libssl-dev, then reinstall")
        pytest.skip("charter._rowhash is not built here")
    with switched(native):
        yield


PATHS = pytest.mark.parametrize("native", [True, False], ids=["c", "python"])


def test_the_extension_is_built_in_ci() -> None:
    if not merkle.available():
        if IN_CI:
            pytest.fail("charter._rowhash did not build: install libssl-dev, then reinstall")
        pytest.skip("charter._rowhash is not built here")


@PATHS
def test_pinned_roots(native: bool) -> None:
    three = [sha(b"0"), sha(b"1"), sha(b"2")]
    with path(native):
        assert merkle.merkle_root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        assert merkle.merkle_root(three[:1]) == sha(b"\x00" + three[0])
        assert merkle.merkle_root(three[:1]).hex() == "13a77175e35eb1d9da91ee14df0d7772cea71289800206e2b45c882ecb06efbf"
        # The odd third leaf is promoted, not paired with itself.
        leaf = [sha(b"\x00" + x) for x in three]
        assert merkle.merkle_root(three) == sha(b"\x01" + sha(b"\x01" + leaf[0] + leaf[1]) + leaf[2])
        assert merkle.merkle_root(three).hex() == "8be871f13785b4c81a1700459c76ac2b3ae2caebb7876c376e223c6adff98c47"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=50))
def test_the_root_is_rfc_6962s_on_both_paths(leaves: list[bytes]) -> None:
    expected = reference_root(leaves)
    for native in (True, False):
        with path(native):
            assert merkle.merkle_root(leaves) == expected
            assert merkle.merkle_root(merkle.data_array(b"".join(leaves))) == expected


@pytest.mark.parametrize("count", [*range(40), 63, 64, 65, 257])
@pytest.mark.parametrize("workers", [2, 3])
def test_threads_give_the_same_root(monkeypatch: pytest.MonkeyPatch, count: int, workers: int) -> None:
    monkeypatch.setattr(merkle, "PARALLEL", 2)
    leaves = leaves_of(count)
    with path(True):
        assert merkle.merkle_root(leaves, workers=workers) == reference_root(leaves)


def test_arrow_arrays_sliced_or_chunked_give_the_same_root() -> None:
    leaves = leaves_of(11)
    array = merkle.data_array(b"".join(leaves))
    assert merkle.merkle_root(array.slice(3, 5)) == reference_root(leaves[3:8])
    assert merkle.merkle_root(pa.chunked_array([array.slice(0, 4), array.slice(4)])) == reference_root(leaves)
    assert merkle.merkle_root(pa.chunked_array([], pa.binary(32))) == reference_root([])


@PATHS
@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_every_leaf_has_a_proof_that_verifies_and_breaks_under_any_change(native: bool, count: int) -> None:
    leaves = leaves_of(count, seed=count)
    root = reference_root(leaves)
    with path(native):
        for index, leaf in enumerate(leaves):
            proof = merkle.merkle_proof(leaves, index)
            assert len(proof) <= max(0, (count - 1).bit_length())
            assert merkle.verify_proof(leaf, proof, root)
            assert not merkle.verify_proof(sha(leaf), proof, root)
            assert not merkle.verify_proof(leaf, proof, sha(root))
            for step, (side, sibling) in enumerate(proof):
                altered = bytes([sibling[0] ^ 1]) + sibling[1:]
                assert not merkle.verify_proof(leaf, [*proof[:step], (side, altered), *proof[step + 1 :]], root)
                flipped = "left" if side == "right" else "right"
                assert not merkle.verify_proof(leaf, [*proof[:step], (flipped, sibling), *proof[step + 1 :]], root)
            if proof:
                assert not merkle.verify_proof(leaf, proof[:-1], root)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 50), st.data())
def test_proofs_agree_between_the_paths(count: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, count - 1))
    leaves = leaves_of(count, seed=index)
    with path(True):
        native = merkle.merkle_proof(leaves, index)
    with path(False):
        python = merkle.merkle_proof(leaves, index)
    assert native == python
    assert merkle.verify_proof(leaves[index], native, reference_root(leaves))


def test_a_proof_names_the_side_of_each_sibling() -> None:
    a, b, c = leaves_of(3)
    la, lb, lc = (sha(b"\x00" + x) for x in (a, b, c))
    assert merkle.merkle_proof([a, b, c], 0) == [("right", lb), ("right", lc)]
    assert merkle.merkle_proof([a, b, c], 1) == [("left", la), ("right", lc)]
    assert merkle.merkle_proof([a, b, c], 2) == [("left", sha(b"\x01" + la + lb))]  # promoted: one step only


# Ordering by decision id.


def test_the_ordered_root_does_not_depend_on_row_order() -> None:
    ids = [f"0190a5c4-7c1e-7000-8000-{i:012d}" for i in range(40)]
    hashes = leaves_of(40)
    expected = reference_root(hashes)  # the ids are already in order
    rows = list(zip(ids, hashes, strict=True))
    random.Random(3).shuffle(rows)
    shuffled_ids, shuffled_hashes = [i for i, _ in rows], [h for _, h in rows]
    assert merkle.merkle_root(shuffled_hashes) != expected
    assert merkle.ordered_root(shuffled_ids, shuffled_hashes) == expected
    assert merkle.ordered_root(pa.array(shuffled_ids), merkle.data_array(b"".join(shuffled_hashes))) == expected
    assert merkle.ordered_root(pa.chunked_array([shuffled_ids[:7], shuffled_ids[7:]]), shuffled_hashes) == expected
    assert merkle.ordered_root(pa.array(shuffled_ids).dictionary_encode(), shuffled_hashes, workers=2) == expected
    assert merkle.ordered_root([], []) == reference_root([])


def test_decision_ids_order_by_their_utf8_bytes() -> None:
    ids = ["b", "a", "é", "Z", "ab"]  # bytes order: Z, a, ab, b, é
    hashes = leaves_of(5)
    by_id = dict(zip(ids, hashes, strict=True))
    assert merkle.ordered_root(ids, hashes) == reference_root([by_id[i] for i in ["Z", "a", "ab", "b", "é"]])


# Bad input.


@pytest.mark.parametrize(
    ("leaves", "message"),
    [
        ([bytes(32), bytes(31)], "leaf 1 is 31 bytes long; it must be 32 bytes (a SHA-256 digest)"),
        ([bytes(32).hex()], "leaf 0 is of type str; it must be 32 bytes (a SHA-256 digest)"),
        (bytes(64), "leaves are one bytes value; pass a sequence of 32-byte digests or a binary(32) array"),
        (
            pa.array([b"x"], pa.binary(1)),
            "leaves are an Arrow fixed_size_binary[1] array; a leaf is a 32-byte digest (binary(32))",
        ),
        (pa.array([bytes(32)]), "leaves are an Arrow binary array; a leaf is a 32-byte digest (binary(32))"),
        (pa.array([bytes(32), None], pa.binary(32)), "leaf 1 is null; a leaf is a 32-byte digest"),
        (
            pa.chunked_array([[bytes(32)], [bytes(32), None]], pa.binary(32)),
            "leaf 2 is null; a leaf is a 32-byte digest",
        ),
    ],
    ids=["short", "hex text", "one bytes", "narrow", "variable width", "null", "null in a chunk"],
)
def test_bad_leaves_are_named(leaves: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        merkle.merkle_root(leaves)
    assert str(caught.value) == message


LEAVES = leaves_of(3)
ROOT = reference_root(LEAVES)
NOT_BYTES: Any = ROOT.hex()
NOT_A_STEP: Any = LEAVES[1]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: merkle.merkle_proof(LEAVES, 3), "leaf index 3 is out of range for 3 leaves (0 to 2)"),
        (lambda: merkle.merkle_proof(LEAVES, -1), "leaf index -1 is out of range for 3 leaves (0 to 2)"),
        (
            lambda: merkle.verify_proof(LEAVES[0][:5], [], ROOT),
            "leaf is 5 bytes long; it must be 32 bytes (a SHA-256 digest)",
        ),
        (
            lambda: merkle.verify_proof(LEAVES[0], [], NOT_BYTES),
            "root is of type str; it must be 32 bytes (a SHA-256 digest)",
        ),
        (
            lambda: merkle.verify_proof(LEAVES[0], [("up", LEAVES[1])], ROOT),
            "proof step 0 has side 'up'; use 'left' or 'right'",
        ),
        (
            lambda: merkle.verify_proof(LEAVES[0], [("right", LEAVES[1]), ("right", b"x")], ROOT),
            "proof step 1 sibling is 1 bytes long; it must be 32 bytes (a SHA-256 digest)",
        ),
        (
            lambda: merkle.verify_proof(LEAVES[0], [NOT_A_STEP], ROOT),
            f"proof step 0 is {LEAVES[1]!r}, not a (side, sibling) pair",
        ),
        (lambda: merkle.merkle_root(LEAVES, workers=0), "workers is 0; use 1 or more threads"),
    ],
    ids=[
        "index past the end",
        "negative index",
        "short leaf",
        "text root",
        "bad side",
        "short sibling",
        "bare step",
        "workers",
    ],
)
def test_bad_proofs_and_indexes_are_named(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("ids", "hashes", "message"),
    [
        (["a", "b"], leaves_of(3), "2 decision ids and 3 row hashes; they must pair one to one"),
        (["a", "b", "a"], leaves_of(3), "decision id 'a' appears more than once; each row needs its own"),
        (["a", None, "b"], leaves_of(3), "decision id 1 (counting from 0) is null; every row needs one"),
        ([1, 2], leaves_of(2), "decision id 0 is of type int; decision ids are text (UUIDv7)"),
        (pa.array([1, 2]), leaves_of(2), "decision ids are int64 values; decision ids are text (UUIDv7)"),
        ("ab", leaves_of(2), "decision ids are one string; pass a sequence of ids, one per row hash"),
        (["a", "b"], [bytes(32), bytes(33)], "leaf 1 is 33 bytes long; it must be 32 bytes (a SHA-256 digest)"),
    ],
    ids=["lengths", "duplicate", "null", "int ids", "int array", "one string", "bad hash"],
)
def test_bad_ordered_roots_are_named(ids: Any, hashes: list[bytes], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        merkle.ordered_root(ids, hashes)
    assert str(caught.value) == message
