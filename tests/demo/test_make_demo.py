"""``make demo``, the README's first command, run on a clean copy of the repository so that it cannot rot.

The copy holds what a commit of the working tree would hold (``git ls-files --cached --others
--exclude-standard``: tracked files and new ones not ignored, uncommitted work included; no
``.venv``, no ``.charter-demo``). To keep the suite's time bounded, the test does not create a
virtualenv and install Charter into it again: ``VENV=`` names the virtualenv running the tests
(its test extra holds scikit-learn and pandas, the demo extra), and ``make -o
$(VENV)/.installed-demo`` tells make to take that installation as done. So the installed
``charter`` is this checkout's (an editable install), while everything else is the copy's:
the Makefile's recipe, ``CHARTER_DEMO_ARGS`` read from the environment (``--no-serve`` here,
as the issue asks), and the demo's home in the copy's ``./.charter-demo``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from charter.demo.home import MARKER
from charter.demo.world import MODEL, demo_settings
from charter.services import audit
from charter.services.context import open_context
from charter.services.gates import gate_history
from charter.services.lake import verify_lake
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]


def _missing(problem: str) -> None:
    if IN_CI:
        pytest.fail(f"make demo must be tested under CI=true: {problem}")
    pytest.skip(problem)


def _clean_copy(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    for name in listed.stdout.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file():  # a file deleted in the working tree is still listed as cached
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_make_demo_on_a_clean_copy(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("git") is None or not (ROOT / ".git").exists():
        _missing("make demo needs make, git and a git checkout")
    venv = Path(sys.prefix)
    if not (venv / "bin" / "charter").exists():
        _missing(f"the tests do not run from a virtualenv with charter installed ({venv})")
    copy = _clean_copy(tmp_path / "repo")
    assert not (copy / ".venv").exists() and not (copy / ".charter-demo").exists()

    done = subprocess.run(
        ["make", "-o", f"{venv}/.installed-demo", "demo", f"VENV={venv}"],
        cwd=copy, env={**os.environ, "CHARTER_DEMO_ARGS": "--no-serve"}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{venv}/bin/charter demo --fresh --no-serve" in done.stdout
    home = copy / ".charter-demo"
    assert (home / MARKER).is_file()
    with open_context(demo_settings(home)) as store:
        assert [g["decision"] for g in gate_history(store, f"{MODEL}@2")] == ["blocked"]
        assert audit.verify_ledger(store).ok and verify_lake(store, MODEL).ok
