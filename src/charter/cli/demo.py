"""``charter demo``: tell the governance story in a fresh home, print the evidence, then serve the dashboard."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charter.cli.output import print_json, stderr, stdout

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from charter.demo.story import Step
    from charter.demo.world import Demo

DEFAULT_HOME = Path(".charter-demo")
HOST = "127.0.0.1"


def demo_command(
    ctx: typer.Context,
    home: Annotated[
        Path | None, typer.Option("--home", help="Where to make the demo's home (default ./.charter-demo).")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete an earlier demo's home first (only a home the demo made).")
    ] = False,
    port: Annotated[int, typer.Option(help="The dashboard's port on 127.0.0.1.", min=1, max=65535)] = 8465,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data: the same seed tells the same story.")] = 7,
    hourly: Annotated[
        int, typer.Option(help="Decisions an hour before the shift (the new channel doubles it).", min=100, max=20_000)
    ] = 1000,
    json_output: Annotated[bool, typer.Option("--json", help="Print the evidence as JSON.")] = False,
) -> None:
    """Tell the whole governance story in a fresh home, then serve the dashboard, signed in by a one-time link.

    Register data and models, gate them, serve decisions through the SDK while the population
    shifts, detect it, escalate, retrain with an approval, write the postmortems and verify the
    audit trail; every figure shown is computed. See docs/demo.md.
    """
    from charter.cli.state import state
    from charter.demo.evidence import collect
    from charter.demo.home import prepare_home
    from charter.demo.story import tell
    from charter.demo.world import Options, open_demo
    from charter.errors import InvalidInput

    _require_demo_extra()
    if state(ctx).database_url is not None:
        raise InvalidInput("the demo keeps its own SQLite store in its home; leave out --database-url")
    if serve:
        _check_port(port)
    folder = prepare_home(home or state(ctx).home or DEFAULT_HOME, fresh=fresh)
    demo = open_demo(Options(folder, seed=seed, hourly=hourly))
    try:
        began = time.perf_counter()
        tell(demo, _Narrator(stderr()))
        evidence = collect(demo)
        seconds = time.perf_counter() - began
        if serve:
            _load_server()
        login = _login_link(demo, port) if serve else None
        if json_output:
            print_json({**evidence, "seconds": round(seconds, 1), "dashboard": login})
        else:
            _show(stdout(), evidence, seconds, login)
        if serve:
            from charter.cli.server import serve_home

            serve_home(demo.settings, HOST, port)
            stderr().print("Dashboard stopped.", markup=False)
    finally:
        demo.close()


def _require_demo_extra() -> None:
    import importlib.util

    from charter.errors import ConfigError

    missing = [name for name in ("sklearn", "pandas") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"the demo trains scikit-learn models on pandas frames, and {', '.join(missing)} is not installed: "
            "pip install 'charter[demo]' (make demo installs it)"
        )


def _check_port(port: int) -> None:
    """Refuse a busy port before the story, not after it."""
    import socket

    from charter.errors import InvalidInput

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise InvalidInput(
                f"port {port} on {HOST} is not free ({exc.strerror}); pass --port with another, or --no-serve"
            ) from None


def _load_server() -> None:
    """Import the server before the link is shown, so that the link works as soon as it is printed."""
    import charter.server.api
    import charter.server.app
    import charter.server.metrics
    import charter.server.web  # noqa: F401


def _login_link(demo: Demo, port: int) -> dict[str, str]:
    """A one-time code for the risk officer, minted by the admin on the wall clock (the server's)."""
    from charter.demo.world import ADMIN, RISK_OFFICER
    from charter.services.context import open_context
    from charter.services.login_codes import mint_login_code

    with open_context(demo.settings_for(ADMIN)) as context:
        code = mint_login_code(context, RISK_OFFICER)
    url = f"http://{HOST}:{port}"
    return {"url": url, "principal": code.principal, "login": f"{url}/login/once?code={code.code}",
            "login_expires_at": code.expires_at}  # fmt: skip


class _Narrator:
    """The story on stderr: a live line with a bar per step on a terminal, plain lines otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar: Progress | None = None

    def start(self, number: int, step: Step) -> Callable[[int, int], None]:
        from charter.demo.story import STEPS

        label = f"[{number}/{len(STEPS)}] {step.title}"
        if not self.console.is_terminal:
            self.console.print(label, markup=False, soft_wrap=True)
            return lambda done, total: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=True)  # fmt: skip
        task = self.bar.add_task(label, total=None)
        self.bar.start()
        bar = self.bar
        return lambda done, total: bar.update(task, completed=done, total=total)

    def finish(self, number: int, step: Step, lines: list[str], seconds: float) -> None:
        from charter.demo.story import STEPS

        if self.bar is not None:
            self.bar.stop()
            self.bar = None
            self.console.print(f"✓ [{number}/{len(STEPS)}] {step.title} ({seconds:.1f} s)", markup=False)
        for line in lines:
            self.console.print(f"    {line}", markup=False, soft_wrap=True)
        if not self.console.is_terminal:
            self.console.print(f"    ({seconds:.1f} s)", markup=False)


def _show(out: Console, evidence: dict[str, Any], seconds: float, login: dict[str, str] | None) -> None:
    from rich.table import Table

    table = Table("evidence", "what the store holds now", show_header=True, box=None, padding=(0, 2))
    for name, value in _evidence_rows(evidence):
        table.add_row(name, value)
    out.print(f"\nThe story took {seconds:.1f} s. Evidence, read back from the home:", markup=False)
    out.print(table)
    out.print(f"\nCheck it yourself: charter --home {evidence['home']} audit verify --lake credit-risk", markup=False)
    if login is not None:
        out.print(f"\nDashboard on {login['url']}. Sign in as {login['principal']} with this one-time link "
                  f"(valid until {login['login_expires_at'][11:19]} UTC, once):", markup=False)  # fmt: skip
        out.print(login["login"], markup=False, soft_wrap=True)
        out.print("Ctrl-C stops the dashboard.", markup=False)


def _evidence_rows(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    gates = []
    for ref, results in evidence["gates"].items():
        shown = ", ".join(r["decision"] + (f" ({', '.join(r['failed'])})" if r["failed"] else "") for r in results)
        gates.append(f"{ref}: {shown}")
    requests = [
        f"{r['kind']} {r['id'][:8]} by {r['requester']}: {r['state']}, approved by {', '.join(r['approved_by']) or '-'}"
        for r in evidence["change_requests"]
    ]
    incidents = [
        f"{i['ref']} {i['status']}: {i['title']} ({i['alerts']} alerts, escalated to level {i['escalation_level']}, "
        f"{i['timeline'].get('incident.notified', 0)} notifications)"
        for i in evidence["incidents"]
    ]
    hooks = evidence["webhooks"]
    verified = sum(1 for d in hooks if d["verified"])
    moves = [f"{m['from'] or '-'} -> {m['to']} by {m['actor']} at {m['at'][:16]}" for m in evidence["alias_history"]]
    lake = evidence["lake"]
    by_version = ", ".join(f"{ref}: {count:,}" for ref, count in lake["by_version"].items())
    ledger, lake_check = evidence["verified"]["ledger"], evidence["verified"]["lake"]
    postmortems = [
        f"{ref}: {files['markdown']}, {files['html']}" for ref, files in evidence["files"]["postmortems"].items()
    ]
    return [
        ("home", evidence["home"]),
        ("gates", "\n".join(gates)),
        ("gate reports", "\n".join(evidence["files"]["gate_reports"])),
        ("change requests", "\n".join(requests)),
        ("incidents", "\n".join(incidents)),
        ("webhooks", f"{len(hooks)} delivered to the local receiver, {verified} with a valid signature"),
        ("prod alias", "\n".join(moves)),
        ("decision lake", f"{lake['decisions']:,} decisions ({by_version}), {lake['outcomes']:,} outcomes"),
        ("postmortems", "\n".join(postmortems)),
        ("audit", f"ledger {'intact' if ledger['ok'] else 'BROKEN'}: {ledger['entries']:,} entries, "
                  f"{ledger['checkpoints']} checkpoint(s); lake {'intact' if lake_check['ok'] else 'BROKEN'}: "
                  f"{lake_check['rows']:,} rows in {lake_check['batches']:,} anchored batches"),
    ]  # fmt: skip
