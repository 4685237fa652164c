"""The command line: help everywhere, one-line errors, JSON output, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from charter.cli.main import app
from tests.helpers import tamper

runner = CliRunner()


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and subcommand, as word tuples: ("audit", "verify"), ..."""

    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in sorted(subcommands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield path

    yield from walk(get_command(app), ())


ALL_COMMANDS = list(command_paths())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    result = runner.invoke(app, ["--home", str(home), "init"])
    assert result.exit_code == 0, result.stderr
    return home


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_command_list_is_what_the_docs_describe() -> None:
    assert ("audit", "verify") in ALL_COMMANDS
    assert ("init",) in ALL_COMMANDS
    assert len(ALL_COMMANDS) >= 11


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help_text(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    description = lines[1] if len(lines) > 1 else ""
    assert description and not description.startswith("Options"), f"charter {' '.join(path)} has no help text"


def test_init_then_verify_then_log_as_json(home: Path) -> None:
    code, out, _ = run(home, "audit", "checkpoint", "--json")
    assert code == 0
    checkpoint = json.loads(out)
    assert checkpoint["seq"] == 2  # charter.initialised, role.granted (the first admin)
    code, out, _ = run(home, "audit", "verify", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True and report["entries"] == 3 and report["checkpoints"] == 1
    code, out, _ = run(home, "audit", "log", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [entry["action"] for entry in lines] == ["audit.checkpoint", "role.granted", "charter.initialised"]
    assert lines[0]["payload"]["signature"] == checkpoint["signature"]


def test_log_filters(home: Path) -> None:
    for _ in range(3):
        run(home, "audit", "checkpoint")

    def actions(*args: str) -> list[str]:
        code, out, err = run(home, "audit", "log", "--json", *args)
        assert code == 0, err
        return [json.loads(line)["action"] for line in out.splitlines()]

    assert actions("--action", "audit.*") == ["audit.checkpoint"] * 3
    assert actions("--action", "charter.initialised") == ["charter.initialised"]
    assert actions("--subject", "ledger:2") == ["audit.checkpoint"]
    assert actions("--limit", "2", "--oldest-first") == ["charter.initialised", "role.granted"]
    assert actions("--since", "2100-01-01T00:00:00Z") == []
    assert len(actions("--until", "2100-01-01", "--all")) == 5
    assert actions("--actor", "user:nobody") == []


def test_log_table_shows_entries(home: Path) -> None:
    code, out, _ = run(home, "audit", "log")
    assert code == 0
    assert "charter.initialised" in out and "role.granted" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "Error: --since 'yesterday' is not an ISO-8601 time such as 2026-11-22T09:30:00Z"),
        (["--limit", "0"], "Error: --limit must be at least 1, got 0"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "Error: --since must be earlier than --until"),
    ],
)
def test_bad_log_options_give_one_clear_line(home: Path, args: list[str], message: str) -> None:
    code, out, err = run(home, "audit", "log", *args)
    assert code == 1
    assert err == message + "\n"
    assert out == ""


def test_verify_reports_tampering_and_exits_1(home: Path) -> None:
    from charter.config import load_settings
    from charter.store.engine import make_engine

    run(home, "audit", "checkpoint")
    engine = make_engine(load_settings(env={}, home=home).database_url)
    tamper(engine, "UPDATE ledger_entries SET actor = 'user:mallory' WHERE seq = 1")
    engine.dispose()
    code, out, _ = run(home, "audit", "verify")
    assert code == 1
    assert out.startswith("Ledger NOT intact: edited at seq 1: entry 1 was altered")
    code, out, _ = run(home, "audit", "verify", "--json")
    assert json.loads(out)["problems"][0] == {
        "kind": "edited",
        "seq": 1,
        "message": "entry 1 was altered: its content no longer matches its hash",
    }


def test_export_verifies_offline_with_only_the_public_key(home: Path, tmp_path: Path) -> None:
    run(home, "audit", "checkpoint")
    exported = tmp_path / "ledger.jsonl"
    public = tmp_path / "witness.pem"
    code, _, err = run(home, "audit", "export", "-o", str(exported))
    assert code == 0, err
    code, pem, _ = run(home, "audit", "public-key")
    public.write_text(pem)
    # The witness has no Charter home: only the export and the public key.
    result = runner.invoke(
        app,
        [
            "--home",
            str(tmp_path / "nowhere"),
            "audit",
            "verify",
            "--file",
            str(exported),
            "--public-key",
            str(public),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["entries"] == 3 and report["checkpoints"] == 1
    # Any edit to the exported entries is caught.
    lines = exported.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["actor"] = "user:mallory"
    lines[1] = json.dumps(entry)
    exported.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["audit", "verify", "--file", str(exported), "--public-key", str(public), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"][0]["kind"] == "edited"


def test_a_malformed_export_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "charter.ledger.export.v1", "head": {"seq": 1, "hash": "x"}}\n{not json\n')
    result = runner.invoke(app, ["audit", "verify", "--file", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad} line 2: not JSON (")


def test_checkpoints_export_and_verify_with_the_public_key_alone(home: Path, tmp_path: Path) -> None:
    run(home, "audit", "checkpoint")
    run(home, "audit", "checkpoint")
    documents = tmp_path / "checkpoints.jsonl"
    public = tmp_path / "key.pem"
    code, _, _ = run(home, "audit", "checkpoints", "--export", str(documents))
    assert code == 0
    public.write_text(run(home, "audit", "public-key")[1])
    result = runner.invoke(app, ["audit", "verify-checkpoints", str(documents), "--public-key", str(public), "--json"])
    assert result.exit_code == 0, result.stderr
    assert [r["valid"] for r in json.loads(result.stdout)] == [True, True]
    # A forged checkpoint is refused.
    lines = documents.read_text().splitlines()
    forged = json.loads(lines[0])
    forged["seq"] = 99
    documents.write_text(json.dumps(forged) + "\n" + lines[1] + "\n")
    result = runner.invoke(app, ["audit", "verify-checkpoints", str(documents), "--public-key", str(public)])
    assert result.exit_code == 1
    assert "INVALID seq 99" in result.stdout
    # So is a key that is not the home's.
    other = tmp_path / "other"
    runner.invoke(app, ["--home", str(other), "init"])
    other_public = tmp_path / "other.pem"
    other_public.write_text(run(other, "audit", "public-key")[1])
    result = runner.invoke(app, ["audit", "verify-checkpoints", str(documents), "--public-key", str(other_public)])
    assert result.exit_code == 1
    assert "signed by ed25519:" in result.stdout


def test_checkpoints_list(home: Path) -> None:
    run(home, "audit", "checkpoint")
    code, out, _ = run(home, "audit", "checkpoints", "--json")
    assert code == 0
    assert [cp["seq"] for cp in json.loads(out)] == [2]


def test_db_commands(home: Path) -> None:
    code, out, _ = run(home, "db", "status", "--json")
    assert code == 0 and json.loads(out)["state"] == "up to date"
    code, out, _ = run(home, "db", "upgrade", "--json")
    assert code == 0 and json.loads(out)["changed"] is False


def test_version_json() -> None:
    result = runner.invoke(app, ["version", "--json"])
    assert set(json.loads(result.stdout)) == {"charter", "python", "schema"}


def test_usage_errors_exit_2() -> None:
    result = runner.invoke(app, ["audit", "log", "--limit", "many"])
    assert result.exit_code == 2


def _console(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    charter = Path(sys.executable).with_name("charter")
    return subprocess.run(
        [str(charter), *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )


def test_the_installed_command_prints_one_line_errors_and_no_traceback(tmp_path: Path) -> None:
    done = _console(["audit", "verify"], tmp_path, CHARTER_HOME=str(tmp_path / "missing"))
    assert done.returncode == 1
    hint = "run `charter init` (or point --home or CHARTER_HOME at one)"
    assert done.stderr == f"Error: no Charter home at {tmp_path / 'missing'}; {hint}\n"
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = _console(["--debug", "audit", "verify"], tmp_path, CHARTER_HOME=str(tmp_path / "missing"))
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().endswith("run `charter init` (or point --home or CHARTER_HOME at one)")


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    done = _console(
        ["init"], tmp_path, CHARTER_HOME=str(tmp_path / "h"), CHARTER_DATABASE_URL="postgresql://x:pw@127.0.0.1:1/db"
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot connect to postgresql+psycopg://x:***@127.0.0.1:1/db: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h").exists()


def test_an_unsupported_database_url_is_named(tmp_path: Path) -> None:
    done = _console(["init"], tmp_path, CHARTER_DATABASE_URL="mysql://root@localhost/x")
    assert done.returncode == 1
    assert done.stderr == (
        "Error: the database URL (--database-url or CHARTER_DATABASE_URL) names an unsupported database "
        "'mysql'; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB\n"
    )


def test_a_closed_pipe_ends_quietly(home: Path, tmp_path: Path) -> None:
    for _ in range(30):
        run(home, "audit", "checkpoint")
    charter = Path(sys.executable).with_name("charter")
    done = subprocess.run(
        ["bash", "-c", f"'{charter}' --home '{home}' audit export | head -c 10 > /dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr == ""


def test_an_unwritable_output_path_is_one_clean_line(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "ledger.jsonl"
    code, _, err = run(home, "audit", "export", "-o", str(target))
    assert code == 1
    assert err == f"Error: {target}: No such file or directory\n"


def test_exporting_no_checkpoints_says_so(home: Path, tmp_path: Path) -> None:
    code, _, err = run(home, "audit", "checkpoints", "--export", str(tmp_path / "cps.jsonl"))
    assert code == 1
    assert err == "Error: there are no checkpoints to export yet; sign one with `charter audit checkpoint`\n"
    assert not (tmp_path / "cps.jsonl").exists()


def test_db_status_exits_1_unless_up_to_date(home: Path) -> None:
    from sqlalchemy import text

    from charter.config import load_settings
    from charter.store.engine import make_engine

    engine = make_engine(load_settings(env={}, home=home).database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()
    code, out, _ = run(home, "db", "status", "--json")
    assert code == 1
    assert json.loads(out)["state"] == "newer than this Charter: upgrade Charter"


def test_verify_with_held_checkpoints(home: Path, tmp_path: Path) -> None:
    run(home, "audit", "checkpoint")
    held = tmp_path / "held.jsonl"
    run(home, "audit", "checkpoints", "--export", str(held))
    code, out, err = run(home, "audit", "verify", "--checkpoints", str(held), "--json")
    assert code == 0, err
    assert json.loads(out)["checkpoints"] == 1
    exported = tmp_path / "ledger.jsonl"
    run(home, "audit", "export", "-o", str(exported))
    code, out, _ = run(home, "audit", "verify", "--file", str(exported), "--checkpoints", str(held), "--json")
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["gate", "m@1", "--stage", "prod"], "gate"),
        (["--home", "/x", "--database-url", "sqlite://", "--debug", "model", "list"], "model"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_name_is_found_after_the_root_options(argv: list[str], name: str | None) -> None:
    from charter.cli.main import command_name

    assert command_name(argv) == name


def test_a_run_builds_only_the_command_it_runs(home: Path) -> None:
    """The console script cuts the app down to one command; it must behave as the whole app does."""
    import subprocess
    import sys

    from charter.cli.main import app, app_for

    assert app_for(["--home", "x", "audit", "verify"]).registered_groups[0].name == "audit"
    assert app_for(["version"]).registered_commands[0].callback.__name__ == "version"  # type: ignore[union-attr]
    assert app_for(["nonsense"]) is app and app_for(["--help"]) is app
    charter = str(Path(sys.executable).with_name("charter"))
    done = subprocess.run([charter, "--home", str(home), "audit", "verify", "--json"], capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["ok"] is True
    done = subprocess.run([charter, "--home", str(home), "nonsense"], capture_output=True, text=True)
    assert done.returncode == 2 and "No such command 'nonsense'" in done.stderr
