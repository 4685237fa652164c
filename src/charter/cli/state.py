"""Per-invocation state of the CLI (global options) and the factories commands use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from charter.config import Settings
    from charter.services.context import Context


@dataclass(frozen=True)
class CliState:
    home: Path | None = None
    database_url: str | None = None
    debug: bool = False


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, CliState) else CliState()


def settings(ctx: typer.Context) -> Settings:
    from charter.config import load_settings

    current = state(ctx)
    return load_settings(home=current.home, database_url=current.database_url)


def open_context(ctx: typer.Context) -> Context:
    from charter.services.context import open_context as open_

    return open_(settings(ctx))
