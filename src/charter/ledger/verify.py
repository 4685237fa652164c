"""Verification of the chain, its head and its signed checkpoints.

The fast pass runs in C on every core for a SQLite file (:mod:`charter.ledger.native`),
elsewhere in Python with C-level ``map`` pipelines and tuple comparisons (no Python
code runs per entry); ``benchmarks/ledger.py`` measures both. Only when it fails does
the slow path walk the chain entry by entry to say where and what: ``edited``, ``missing``,
``inserted``, ``reordered``, ``head_mismatch``, and for
checkpoints ``signature_invalid``, ``unknown_key``, ``checkpoint_mismatch``,
``truncated``, ``checkpoint_missing``, ``unverifiable``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Literal, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from charter.ledger.chain import Checkpoint, RawEntry
from charter.ledger.checkpoints import CHECKPOINT_ACTION, checkpoint_signature_valid
from charter.ledger.encoding import ENTRY_VERSION, SEPARATOR, entry_hash
from charter.ledger.keys import key_id
from charter.ledger.native import FastScan
from charter.store.schema import GENESIS_HASH

ProblemKind = Literal[
    "edited",
    "missing",
    "inserted",
    "reordered",
    "head_mismatch",
    "signature_invalid",
    "unknown_key",
    "checkpoint_mismatch",
    "truncated",
    "checkpoint_missing",
    "unverifiable",
]

MAX_PROBLEMS = 20
#: Up to this many entries, the first altered entry is matched against every
#: position to tell a reordering from an edit.
FULL_SEARCH_LIMIT = 2_000_000


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    seq: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "seq": self.seq, "message": self.message}


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints": self.checkpoints,
            "problems": [p.to_dict() for p in self.problems],
        }


class ChainSource(Protocol):
    """What verification reads: a database snapshot or an exported file."""

    @property
    def head(self) -> tuple[int, str] | None: ...

    @property
    def checkpoints(self) -> list[Checkpoint]: ...

    def chunks(self, size: int = ...) -> Iterator[list[RawEntry]]: ...


_HEXDIGEST = operator.methodcaller("hexdigest")


def _column_hashes(columns: Sequence[tuple[Any, ...]]) -> tuple[str, ...]:
    seqs, ts, actors, actions, subjects, payloads, prevs = columns[:7]
    texts = map(
        SEPARATOR.join,
        zip(
            repeat(ENTRY_VERSION, len(seqs)),
            map(str, seqs),
            *(ts, actors, actions, subjects, payloads, prevs),
            strict=True,
        ),
    )
    return tuple(map(_HEXDIGEST, map(hashlib.sha256, map(str.encode, texts))))


def verify(
    source: ChainSource,
    *,
    public_key: Ed25519PublicKey | None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = 50_000,
    held: Sequence[Checkpoint] = (),
) -> VerifyReport:
    """Check every entry, the head and every checkpoint. ``progress`` gets entries done so far.

    ``held`` are checkpoints kept outside the ledger (by a witness); they are checked against
    the chain like the stored ones, so a tail cut together with its checkpoints is still caught.
    """
    # Millions of short-lived, acyclic tuples would trigger the cyclic collector again and again
    # for nothing (a quarter of the run time); reference counting frees them all the same.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _verify(source, public_key, progress, chunk_size, held)
    finally:
        if enabled:
            gc.enable()


def _verify(
    source: ChainSource,
    public_key: Ed25519PublicKey | None,
    progress: Callable[[int], None] | None,
    chunk_size: int,
    held: Sequence[Checkpoint],
) -> VerifyReport:
    stored_checkpoints = list(source.checkpoints)
    checkpoints = list(dict.fromkeys([*stored_checkpoints, *held]))  # a copy held twice is checked once
    wanted = {cp.seq for cp in checkpoints}
    native_scan = getattr(source, "native_scan", None)
    scan = native_scan(wanted, CHECKPOINT_ACTION, progress) if native_scan is not None else None
    if scan is None:
        scan = _python_scan(source, wanted, progress, chunk_size)
    if not scan.clean:
        return _diagnosed(source, checkpoints, stored_checkpoints, public_key, chunk_size)
    hash_at = {0: GENESIS_HASH, **scan.hash_at}
    recorded = [_recorded_checkpoint(payload) for payload in scan.recorded]
    problems = _head_problems(scan.last, source.head)
    problems += _checkpoint_problems(checkpoints, stored_checkpoints, recorded, hash_at, scan.last[0], public_key)
    head = source.head or scan.last
    return VerifyReport(
        entries=scan.done,
        head_seq=head[0],
        head_hash=head[1],
        checkpoints=len(checkpoints),
        problems=tuple(problems[:MAX_PROBLEMS]),
    )


def _python_scan(
    source: ChainSource, wanted: set[int], progress: Callable[[int], None] | None, chunk_size: int
) -> FastScan:
    """The fast pass in Python: per chunk, C-level map pipelines and tuple comparisons only."""
    scan = FastScan(clean=True)
    expected_seq = 1
    for chunk in source.chunks(chunk_size):
        n = len(chunk)
        columns = tuple(zip(*chunk, strict=True))  # transposed once: the checks below are all C loops
        seqs, actions, payloads, prevs, hashes = columns[0], columns[3], columns[5], columns[6], columns[7]
        scan.done += n
        scan.clean = (
            seqs == tuple(range(expected_seq, expected_seq + n))
            and prevs[0] == scan.last[1]
            and prevs[1:] == hashes[:-1]
            and _column_hashes(columns) == hashes
        )
        if progress is not None:
            progress(scan.done)
        if not scan.clean:
            break
        for seq in wanted.intersection(range(expected_seq, expected_seq + n)):
            scan.hash_at[seq] = hashes[seq - expected_seq]
        if CHECKPOINT_ACTION in actions:
            scan.recorded.extend(payloads[i] for i, a in enumerate(actions) if a == CHECKPOINT_ACTION)
        expected_seq = seqs[-1] + 1
        scan.last = (seqs[-1], hashes[-1])
    return scan


def _diagnosed(
    source: ChainSource,
    checkpoints: list[Checkpoint],
    stored_checkpoints: list[Checkpoint],
    public_key: Ed25519PublicKey | None,
    chunk_size: int,
) -> VerifyReport:
    """The slow path: walk the whole chain entry by entry and say what is wrong where."""
    rows = [row for chunk in source.chunks(chunk_size) for row in chunk]
    problems = diagnose(rows, source.head)
    stored_hashes = {row[0]: row[7] for row in rows}
    stored_hashes[0] = GENESIS_HASH
    recorded = [_recorded_checkpoint(row[5]) for row in rows if row[3] == CHECKPOINT_ACTION]
    problems += _checkpoint_problems(
        checkpoints, stored_checkpoints, recorded, stored_hashes, max(stored_hashes), public_key
    )
    return VerifyReport(
        entries=len(rows),
        head_seq=source.head[0] if source.head else (rows[-1][0] if rows else 0),
        head_hash=source.head[1] if source.head else (rows[-1][7] if rows else GENESIS_HASH),
        checkpoints=len(checkpoints),
        problems=tuple(problems[:MAX_PROBLEMS]),
    )


def _recorded_checkpoint(payload: str) -> Checkpoint:
    data = json.loads(payload)
    return Checkpoint(
        seq=int(data["seq"]),
        head_hash=str(data["head_hash"]),
        ts=str(data["ts"]),
        key_id=str(data["key_id"]),
        signature=str(data["signature"]),
    )


def _head_problems(last: tuple[int, str], head: tuple[int, str] | None) -> list[Problem]:
    if head is None or head == last:
        return []
    (last_seq, last_hash), (head_seq, head_hash) = last, head
    if head_seq > last_seq:
        return [
            Problem(
                "missing",
                last_seq + 1,
                f"{_entries(last_seq + 1, head_seq)} missing at the end: the ledger records its head "
                f"at seq {head_seq} but the chain stops at seq {last_seq}",
            )
        ]
    if head_seq < last_seq:
        return [
            Problem(
                "inserted",
                head_seq + 1,
                f"{_entries(head_seq + 1, last_seq)} added outside Charter: the chain goes past "
                f"the recorded head (seq {head_seq})",
            )
        ]
    return [
        Problem(
            "head_mismatch",
            head_seq,
            f"the recorded head hash {head_hash[:16]}… differs from entry {head_seq}'s hash {last_hash[:16]}…",
        )
    ]


def _checkpoint_problems(
    checkpoints: list[Checkpoint],
    stored_checkpoints: list[Checkpoint],
    recorded: list[Checkpoint],
    hash_at: dict[int, str],
    last_seq: int,
    public_key: Ed25519PublicKey | None,
) -> list[Problem]:
    problems: list[Problem] = []
    stored = {cp.seq for cp in stored_checkpoints}
    for cp in recorded:
        if cp.seq not in stored:
            problems.append(
                Problem(
                    "checkpoint_missing",
                    cp.seq,
                    f"the checkpoint at seq {cp.seq} (signed {cp.ts}) is recorded on the chain but missing from "
                    "the checkpoints: it was removed after it was signed",
                )
            )
    if checkpoints and public_key is None:
        return [
            *problems,
            Problem(
                "unverifiable",
                None,
                f"{len(checkpoints)} checkpoint(s) could not be checked: no public key "
                "(give --public-key, or keep the key in the Charter home)",
            ),
        ]
    if public_key is None:
        return problems
    trusted = key_id(public_key)
    for cp in checkpoints:
        if cp.key_id != trusted:
            problems.append(
                Problem(
                    "unknown_key",
                    cp.seq,
                    f"the checkpoint at seq {cp.seq} is signed by {cp.key_id}, not by the trusted key {trusted}",
                )
            )
        elif not checkpoint_signature_valid(cp, public_key):
            problems.append(
                Problem(
                    "signature_invalid",
                    cp.seq,
                    f"the checkpoint at seq {cp.seq} (signed {cp.ts}) has an invalid signature: "
                    "the checkpoint was altered or forged",
                )
            )
        elif cp.seq > last_seq:
            problems.append(
                Problem(
                    "truncated",
                    cp.seq,
                    f"the checkpoint signed {cp.ts} covers seq {cp.seq} but the chain ends at seq "
                    f"{last_seq}: {_entries(last_seq + 1, cp.seq)} removed",
                )
            )
        elif hash_at.get(cp.seq) != cp.head_hash:
            problems.append(
                Problem(
                    "checkpoint_mismatch",
                    cp.seq,
                    f"entry {cp.seq} no longer has the hash signed at {cp.ts}: the chain up to seq "
                    f"{cp.seq} was rewritten after that checkpoint",
                )
            )
    return problems


def _entries(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first}-{last} are"


def diagnose(rows: Sequence[RawEntry], head: tuple[int, str] | None) -> list[Problem]:
    """Walk the chain entry by entry and describe what is wrong, first problem first."""
    problems: list[Problem] = []
    stored_at = {row[7]: row[0] for row in rows}
    max_seq = max((row[0] for row in rows), default=0)
    head_seq = head[0] if head else None
    expected_seq, expected_prev = 1, GENESIS_HASH
    predecessor_intact = True
    shift: int | None = None
    swapped_partner: int | None = None  # seq of the second half of an adjacent swap, already reported

    def beyond_head(seq: int) -> Problem:
        return Problem(
            "inserted",
            seq,
            f"{_entries(seq, max_seq)} added outside Charter: the chain goes past the recorded head (seq {head_seq})",
        )

    for index, row in enumerate(rows):
        seq, prev, stored = row[0], row[6], row[7]
        if seq < expected_seq:
            problems.append(Problem("inserted", seq, f"entry {seq} has a sequence number before the chain's start"))
            continue
        if seq > expected_seq and (head_seq is None or expected_seq <= head_seq):
            problems.append(
                Problem(
                    "missing",
                    expected_seq,
                    f"{_entries(expected_seq, seq - 1)} missing: the sequence jumps from {expected_seq - 1} to {seq}",
                )
            )
            predecessor_intact = False
        if entry_hash(*row[:7]) != stored:
            origin = _origin(row, stored_at, max_seq, search_all=not problems)
            row_shift = None if origin is None else seq - origin
            if origin is None and head_seq is not None and seq > head_seq:
                problems.append(beyond_head(seq))
                break
            if origin is None:
                problems.append(
                    Problem("edited", seq, f"entry {seq} was altered: its content no longer matches its hash")
                )
            elif seq == swapped_partner:
                pass  # the other half of the adjacent swap reported at seq - 1
            elif row_shift == shift:
                pass  # the same shift as the entry before: already reported
            elif row_shift == 1:
                problems.append(
                    Problem(
                        "inserted",
                        seq - 1,
                        f"an entry was inserted at seq {seq - 1}: entry {seq} holds what was recorded "
                        f"as entry {origin}, and later entries moved up",
                    )
                )
            elif row_shift == -1 and _holds(rows, index + 1, seq):
                swapped_partner = seq + 1
                problems.append(
                    Problem(
                        "reordered",
                        seq,
                        f"entries were reordered: entry {seq} holds what was recorded as entry {origin}",
                    )
                )
            elif row_shift == -1:
                problems.append(
                    Problem(
                        "missing",
                        seq,
                        f"entry {seq} was removed and the entries after it renumbered: entry {seq} holds "
                        f"what was recorded as entry {origin}",
                    )
                )
            else:
                problems.append(
                    Problem(
                        "reordered",
                        seq,
                        f"entries were reordered: entry {seq} holds what was recorded as entry {origin}",
                    )
                )
            shift = row_shift
            predecessor_intact = False
        else:
            shift = None
            if head_seq is not None and seq > head_seq:
                if not problems:
                    problems.append(beyond_head(seq))
                break
            if prev != expected_prev and predecessor_intact:
                problems.append(
                    Problem(
                        "inserted",
                        seq - 1,
                        f"entry {seq - 1} was inserted or replaced: entry {seq} does not link to it "
                        f"(entry {seq} was recorded after {_described(prev, stored_at)})",
                    )
                )
            predecessor_intact = True
        expected_seq, expected_prev = seq + 1, stored
    if not problems:
        last = (rows[-1][0], rows[-1][7]) if rows else (0, GENESIS_HASH)
        problems += _head_problems(last, head)
    return problems


def _holds(rows: Sequence[RawEntry], index: int, seq: int) -> bool:
    """Whether ``rows[index]`` holds the content recorded as entry ``seq`` (an adjacent swap)."""
    return index < len(rows) and entry_hash(seq, *rows[index][1:7]) == rows[index][7]


def _described(prev: str, stored_at: dict[str, int]) -> str:
    if prev == GENESIS_HASH:
        return "the start of the chain"
    if prev in stored_at:
        return f"the entry now at seq {stored_at[prev]}"
    return f"an entry with hash {prev[:16]}… that is no longer in the ledger"


def _origin(row: RawEntry, stored_at: dict[str, int], max_seq: int, *, search_all: bool) -> int | None:
    """The sequence number this entry's content was recorded at, if it is intact but moved."""
    seq, rest, stored = row[0], row[1:7], row[7]
    candidates = [seq - 1, seq + 1]
    prev = row[6]
    if prev == GENESIS_HASH:
        candidates.append(1)
    elif prev in stored_at:
        candidates.append(stored_at[prev] + 1)
    for candidate in candidates:
        if candidate >= 1 and candidate != seq and entry_hash(candidate, *rest) == stored:
            return candidate
    if search_all and max_seq <= FULL_SEARCH_LIMIT:
        for candidate in range(1, max_seq + 2):
            if candidate != seq and entry_hash(candidate, *rest) == stored:
                return candidate
    return None
