"""Reading the fields of a YAML document with their lines, collecting every problem on the way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from charter.policy.schema import kind
from charter.yamlfile import Lines, known

PARSE = "policy.parse_error"


class Reader:
    """Typed access to a document's values; each mismatch becomes a (file, line, message, code) problem."""

    def __init__(self, file: str, lines: Lines, start: int) -> None:
        self.file = file
        self.lines = lines
        self.start = start
        self.problems: list[tuple[str, int, str, str]] = []

    def line(self, path: tuple[str, ...]) -> int:
        """The line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.start

    def problem(self, path: tuple[str, ...], message: str, code: str = PARSE) -> None:
        self.problem_at(self.line(path), message, code)

    def problem_at(self, line: int, message: str, code: str = PARSE) -> None:
        entry = (self.file, line, message, code)
        if entry not in self.problems:
            self.problems.append(entry)

    def fields(self, value: dict[str, Any], path: tuple[str, ...], names: Sequence[str], where: str) -> None:
        """One problem per key of ``value`` not in ``names``: ``unknown field 'acton' in rule 'x' (known: ...)``."""
        for key in value:
            if key not in names:
                self.problem((*path, key), f"unknown field {key!r}{where} {known(names)}")

    def mapping(self, value: Any, path: tuple[str, ...], what: str, *, required: bool = False) -> dict[str, Any]:
        if value is None:
            if required:
                self.problem(path[:-1], f"{what} is required (a mapping)")
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"{what} must be a mapping, not {kind(value)}")
            return {}
        return value

    def string(self, value: Any, path: tuple[str, ...], what: str) -> str:
        if isinstance(value, str):
            return value
        self.problem(path, f"{what} must be a string, not {kind(value)}")
        return ""

    def strings(self, value: Any, path: tuple[str, ...], what: str) -> tuple[str, ...]:
        """A list of strings (a single string counts as a list of one)."""
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(path, f"{what} must be a list of strings, not {value!r}")
            return ()
        return tuple(value)

    def choice(self, value: Any, path: tuple[str, ...], what: str, choices: Sequence[str]) -> str:
        if value in choices:
            return str(value)
        self.problem(path, f"{what} must be one of {', '.join(choices)}, not {value!r}")
        return choices[0]
