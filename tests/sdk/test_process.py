"""Across processes: a killed logger loses no acknowledged decision; a normal exit flushes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from charter.sdk import DecisionLogger
from charter.sdk.spool import Spool
from tests.sdk.sinks import CountingSink

ROOT = Path(__file__).resolve().parents[2]

DURABLE_CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    import numpy as np
    from charter.sdk import DecisionLogger

    class LakeDown:
        def write_decisions(self, model, batch):
            raise ConnectionError("lake down")
        def write_outcomes(self, model, batch):
            raise ConnectionError("lake down")

    logger = DecisionLogger(LakeDown(), model="crash", spool_dir=Path(sys.argv[1]), retry_initial=60)
    out = threading.Lock()

    def work(k):
        while True:
            ids = logger.log(np.full((k, 3), k, dtype=float), np.arange(k), durable=True)
            with out:
                sys.stdout.write("".join(f"ack {i}\\n" for i in ids))
                sys.stdout.flush()

    for k in (1, 2, 3, 5):
        threading.Thread(target=work, args=(k,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_every_acknowledged_decision_survives_sigkill_and_is_delivered_once(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-c", DURABLE_CHILD, str(spool_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    try:
        for line in child.stdout:
            acknowledged.append(line.split()[1])
            if len(acknowledged) >= 200:
                break
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: writers are mid-batch, mid-fsync
        rest = child.stdout.read()
    finally:
        child.kill()
        child.wait(5)
    acknowledged += [line.split()[1] for line in rest.splitlines(keepends=True) if line.endswith("\n")]
    assert child.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 200

    sink = CountingSink()
    restarted = DecisionLogger(sink, model="crash", spool_dir=spool_dir)
    try:
        assert restarted.flush(timeout=10)
    finally:
        restarted.close(timeout=5)
    assert all(sink.delivered[i] == 1 for i in acknowledged)
    assert max(sink.delivered.values()) == 1  # nothing twice, acknowledged or not
    assert list(Spool(spool_dir, "crash").directory.iterdir()) == []  # partial files of the dead child gone too


EXIT_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from charter.sdk import DecisionLogger

    class FileSink:
        def write_decisions(self, model, batch):
            with open(sys.argv[2], "a") as f:
                f.writelines(i + "\\n" for i in batch.column("decision_id").to_pylist())
        def write_outcomes(self, model, batch):
            pass

    logger = DecisionLogger(FileSink(), model="exit", spool_dir=Path(sys.argv[1]), flush_interval=60)
    for n in (1, 10, 100):
        print("\\n".join(logger.log(np.ones((n, 2)), np.zeros(n))))
    # no close(): the atexit hook delivers
    """
)


def test_a_normal_exit_delivers_what_was_queued(tmp_path: Path) -> None:
    delivered = tmp_path / "delivered.txt"
    result = subprocess.run(
        [sys.executable, "-c", EXIT_CHILD, str(tmp_path / "spool"), str(delivered)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    logged = result.stdout.split()
    assert len(logged) == 111
    assert delivered.read_text().split() == logged


def test_a_closed_logger_is_let_go(tmp_path: Path) -> None:
    """close() unregisters the exit hook, so nothing keeps a closed logger alive."""
    import gc
    import weakref

    logger = DecisionLogger(CountingSink(), model="m", spool_dir=tmp_path)
    logger.close()
    ref = weakref.ref(logger)
    del logger
    gc.collect()
    assert ref() is None
