"""Run one side of a benchmark in its own process (a peer may need its own venv). Standard library only:
peers' workers import this module too, under interpreters that do not have Charter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def spawn_worker(python: str, script: str, side: str, *args: str) -> dict[str, Any]:
    """Run ``script --worker SIDE ARGS`` under ``python``; the last line it prints is its JSON result."""
    command = [python, script, "--worker", side, *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(script).resolve().parents[1], check=False)
    if done.returncode != 0:
        sys.exit(f"the {side} run failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
