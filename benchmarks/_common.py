"""Shared pieces of the benchmark scripts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rich.console import Console

from charter.store.engine import redacted

T = TypeVar("T")


def optional_postgres(console: Console, admin_url: str, make: Callable[[str], T]) -> T | None:
    """``make(admin_url)``, or None with one line saying why PostgreSQL is skipped."""
    try:
        return make(admin_url)
    except Exception as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip() or type(cause).__name__).splitlines()[0]
        console.print(f"[yellow]PostgreSQL at {redacted(admin_url)} is unreachable ({reason}); running SQLite only.")
        return None
