from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from charter.sdk.spool import Spool


@pytest.fixture
def batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"decision_id": ["a", "b"], "x": [1.5, 2.5]})


def test_a_spooled_batch_reads_back_the_same(tmp_path: Path, batch: pa.RecordBatch) -> None:
    spool = Spool(tmp_path, "credit/risk v2")
    path = spool.write("decisions", batch)
    assert path.parent == tmp_path / "credit%2Frisk%20v2"
    assert path.name.endswith("-decisions.arrow")
    assert spool.pending() == [path]
    kind, back = spool.read(path)
    assert kind == "decisions" and back.equals(batch)
    assert not list(path.parent.glob(".*.tmp"))


def test_files_come_back_oldest_first(tmp_path: Path, batch: pa.RecordBatch) -> None:
    spool = Spool(tmp_path, "m")
    written = [spool.write("outcomes" if i % 2 else "decisions", batch) for i in range(5)]
    assert spool.pending() == written


def test_opening_deletes_partial_files_of_dead_processes_only(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "m")
    spool.directory.mkdir(parents=True)
    dead = spool.directory / ".x-decisions.arrow.999999999.tmp"  # no such process
    living = spool.directory / f".y-decisions.arrow.{os.getppid()}.tmp"
    dead.write_bytes(b"partial")
    living.write_bytes(b"partial")
    assert spool.open() == []
    assert not dead.exists() and living.exists()


def test_a_failed_write_leaves_no_partial_file(
    tmp_path: Path, batch: pa.RecordBatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, "m")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        spool.write("decisions", batch)
    assert list(spool.directory.iterdir()) == []
