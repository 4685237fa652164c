"""YAML with line numbers: values, the line of every field, located errors, merge keys."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from charter.errors import CharterError, InvalidInput, PolicyParseError
from charter.yamlfile import compose_file, compose_text, to_python


def read(text: str) -> tuple[object, dict[tuple[str, ...], int]]:
    (node,) = compose_text(text, label="f.yaml")
    return to_python(node, label="f.yaml")


def test_values_and_the_line_of_every_field() -> None:
    value, lines = read("a: 1\nb:\n  - x\n  - {c: 2026-01-02}\n")
    assert value == {"a": 1, "b": ["x", {"c": date(2026, 1, 2)}]}
    assert lines[("a",)] == 1 and lines[("b",)] == 2
    assert lines[("b", "0")] == 3 and lines[("b", "1", "c")] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "f.yaml line 2: field 'a' appears twice"),
        ("? [1]\n: 2\n", "f.yaml line 1: keys must be plain strings"),
        ("a: [1\n", "f.yaml line 2: not valid YAML (expected ',' or ']', but got '<stream end>')"),
        ("a: 2026-13-45\n", "f.yaml line 1: '2026-13-45' is not a valid YAML value"),
    ],
)
def test_errors_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read(text)
    assert str(caught.value) == message


def test_merge_keys_merge_and_the_mapping_wins() -> None:
    value, _ = read("base: &b {x: 1, y: 2}\nmore: {<<: *b, y: 3}\n")
    assert value == {"base": {"x": 1, "y": 2}, "more": {"x": 1, "y": 3}}
    with pytest.raises(InvalidInput, match="line 2: field 'y' appears twice"):
        read("base: &b {x: 1}\nmore: {<<: *b, y: 3, y: 4}\n")


def test_a_custom_error_factory(tmp_path: Path) -> None:
    def error(label: str, line: int | None, message: str) -> CharterError:
        return PolicyParseError(f"policy {label} line {line}: {message}" if line else f"policy {message}")

    with pytest.raises(PolicyParseError, match="line 1: not valid YAML"):
        compose_text("[", label="p.yaml", error=error)
    with pytest.raises(PolicyParseError, match=r"^policy cannot read .*missing.yaml: No such file or directory$"):
        compose_file(tmp_path / "missing.yaml", error=error)
