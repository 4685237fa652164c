"""The spool: batches the sink could not take (or the queue had no room for), kept on disk.

One Arrow IPC file per batch, in a folder per model: ``<spool>/<model>/<uuid7>-<kind>.arrow``
(``kind`` is ``decisions`` or ``outcomes``; the UUIDv7 makes name order time order). A file
is written atomically: to ``.<name>.<pid>.tmp`` first, fsynced, renamed, and the folder
fsynced, so a file under its final name is complete and survives a crash. Replaying a file
delivers it to the sink and then deletes it; a crash in between delivers it again, which
the sink's idempotence absorbs.

A ``.tmp`` file left by a process that no longer runs was never acknowledged to anyone and
is deleted when a logger opens the folder. A file that cannot be read is renamed
``*.corrupt`` and left for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import pyarrow as pa

from charter.sdk.uuids import new_decision_id

Kind = Literal["decisions", "outcomes"]
KINDS: tuple[Kind, ...] = ("decisions", "outcomes")
SUFFIX = ".arrow"


class Spool:
    def __init__(self, root: Path, model: str) -> None:
        self.directory = root / quote(model, safe="")

    def open(self) -> list[Path]:
        """Create the folder, delete dead processes' partial files; the files waiting to be replayed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for partial in self.directory.glob(".*.tmp"):
            pid = partial.name.rsplit(".", 2)[-2]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                partial.unlink(missing_ok=True)
        return self.pending()

    def pending(self) -> list[Path]:
        """Complete spool files, oldest first."""
        try:
            return sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX) and _kind(p) is not None)
        except FileNotFoundError:
            return []

    def write(self, kind: Kind, batch: pa.RecordBatch) -> Path:
        """Write ``batch`` to a new spool file; when this returns, the file is on disk."""
        stream = pa.BufferOutputStream()
        with pa.ipc.new_file(stream, batch.schema) as writer:
            writer.write_batch(batch)
        data = memoryview(stream.getvalue())
        name = f"{new_decision_id()}-{kind}{SUFFIX}"
        final = self.directory / name
        partial = self.directory / f".{name}.{os.getpid()}.tmp"
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)
        return final

    def read(self, path: Path) -> tuple[Kind, pa.RecordBatch]:
        kind = _kind(path)
        if kind is None:
            raise ValueError(f"{path.name} is not a spool file (<uuid>-decisions.arrow or <uuid>-outcomes.arrow)")
        table = pa.ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
        batches = table.combine_chunks().to_batches()
        return kind, (batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema))

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def set_aside(self, path: Path) -> Path:
        """Rename an unreadable file to ``*.corrupt`` so replay stops trying it."""
        target = path.with_name(path.name + ".corrupt")
        os.replace(path, target)
        return target


def _kind(path: Path) -> Kind | None:
    stem = path.name.removesuffix(SUFFIX)
    for kind in KINDS:
        if stem.endswith("-" + kind):
            return kind
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms where folders cannot be opened (Windows): the rename is what we have
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
