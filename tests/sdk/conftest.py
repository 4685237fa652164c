"""Fixtures for the decision logger: a logger factory that closes what it made."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from charter.sdk import DecisionLogger, MemorySink

MODEL = "credit-risk"


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def make_logger(spool_dir: Path) -> Iterator[Callable[..., DecisionLogger]]:
    """``make_logger(sink=None, **options)``: a logger on a fresh spool folder, closed after the test."""
    made: list[DecisionLogger] = []

    def make(sink: Any = None, **options: Any) -> DecisionLogger:
        options.setdefault("model", MODEL)
        options.setdefault("spool_dir", spool_dir)
        logger = DecisionLogger(MemorySink() if sink is None else sink, **options)
        made.append(logger)
        return logger

    yield make
    for logger in made:
        logger.close(timeout=1)
