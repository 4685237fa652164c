"""Docs are tested: every CLI command is documented; the README shows the two commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import ALL_COMMANDS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_a_section_in_the_cli_reference(path: tuple[str, ...]) -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()
    assert f"### `charter {' '.join(path)}`" in reference
    anchor = "-".join(("charter", *path))
    assert f"| [`charter {' '.join(path)}`](#{anchor}) | " in reference  # listed in the index at the top


def test_the_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.find("\n## ", readme.find("make test"))]
    assert "make demo" in head and "make test" in head


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
