"""``charter serve`` as a user runs it: a real process on 127.0.0.1, one or several workers, Ctrl-C stops it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from charter.config import Settings, load_settings
from charter.services.context import open_context
from charter.services.home import init_home
from charter.services.tokens import create_token

CHARTER = [sys.executable, "-m", "charter"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_with_its_workers_and_stops_on_ctrl_c(settings: Settings, workers: int) -> None:
    init_home(settings)
    with open_context(settings) as context:
        _, secret = create_token(context, "svc:reader", roles=("viewer",), name="reader")
    port = _free_port()
    command = [*CHARTER, "--home", str(settings.home), "--database-url", settings.database_url, "serve",
               "--port", str(port), "--workers", str(workers)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"http://127.0.0.1:{port}/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"charter serve did not answer: {process.communicate(timeout=10)}")
            time.sleep(0.1)
        # Every worker reads the same store: each answers as the token's principal.
        for _ in range(6):
            assert _get(f"http://127.0.0.1:{port}/api/v1/whoami", secret) == (
                200, {"principal": "svc:reader", "roles": ["viewer"]},
            )  # fmt: skip
        assert _get(f"http://127.0.0.1:{port}/api/v1/whoami", "ctk_wrong")[0] == 401
        if workers > 1:
            # uvicorn's supervisor runs the workers as child processes (plus its own helper, if any).
            assert len(_children(process.pid)) >= workers
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"charter serve did not stop on Ctrl-C: {err}")
    assert f"Charter on http://127.0.0.1:{port}" in out
    assert (f"{workers} processes" in out) == (workers > 1)
    assert "Traceback" not in err


def test_serve_refuses_zero_workers(tmp_path: Path) -> None:
    done = subprocess.run([*CHARTER, "--home", str(tmp_path), "serve", "--workers", "0"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--workers" in done.stderr


def test_the_served_app_keeps_its_startup_heap_out_of_the_cyclic_gc(tmp_path: Path) -> None:
    """``charter serve`` freezes what building the app made (full collections stalled requests 100+ ms)."""
    settings = load_settings(env={}, home=tmp_path / "home", actor="user:tester")
    init_home(settings)
    script = (
        "import gc, sys\n"
        "from charter.config import load_settings\n"
        "from charter.server.app import create_app, served_app\n"
        "settings = load_settings(env={}, home=sys.argv[1])\n"
        "create_app(settings)\n"
        "print(gc.get_freeze_count())\n"
        "served_app(settings)\n"
        "print(gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(settings.home)], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    before, after = (int(line) for line in done.stdout.split())
    assert before == 0  # the app tests build freezes nothing
    assert after > 50_000  # the libraries and the app: tens of thousands of objects at least
