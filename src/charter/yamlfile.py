"""YAML read with line numbers: every value keeps the line it was written on.

The kind-independent part of reading Charter's YAML files (governance manifests, policies,
policy test cases). A file is composed into YAML nodes, and each node becomes a plain Python
value together with a map from its field path to its line, so an error can name the file,
line and field::

    policies/high-risk.yaml line 14: unknown field 'acton' in rule 'auc-baseline' (known: ...)

Paths are tuples of strings: mapping keys, and list positions as decimal strings
(``("spec", "rules", "0", "expr")``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from charter.errors import CharterError, InvalidInput

#: Field path -> the 1-based line it starts on.
Lines = dict[tuple[str, ...], int]

#: Builds the error to raise from (label, line, message); line is None for a file-level problem,
#: whose message then names the file itself.
ErrorFactory = Callable[[str, int | None, str], CharterError]


def located(label: str, line: int | None, message: str) -> CharterError:
    """The default error: ``InvalidInput('<label> line <n>: <message>')``."""
    return InvalidInput(message if line is None else f"{label} line {line}: {message}")


def compose_file(file: Path, *, label: str | None = None, error: ErrorFactory = located) -> list[yaml.Node]:
    """The YAML documents of a file as nodes; unreadable, non-UTF-8 or broken YAML is an error naming the line.

    ``label`` is how messages name the file (default: its path).
    """
    name = str(file) if label is None else label
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(name, None, f"cannot read {name}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(name, None, f"{name} is not UTF-8 text") from None
    return compose_text(text, label=name, error=error)


def compose_text(text: str, *, label: str, error: ErrorFactory = located) -> list[yaml.Node]:
    """The YAML documents of ``text`` as nodes; broken YAML is an error naming ``label`` and the line."""
    try:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise error(label, line, f"not valid YAML ({exc.problem or exc.context})") from None
    except yaml.reader.ReaderError as exc:  # a control character YAML does not allow; it has no mark
        line = text.count("\n", 0, exc.position) + 1
        shown = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise error(label, line, f"not valid YAML (the character {shown} is not allowed in YAML)") from None


def to_python(
    node: yaml.Node, *, label: str, error: ErrorFactory = located, path: tuple[str, ...] = ()
) -> tuple[Any, Lines]:
    """A node as plain Python values (dict, list, str, int, float, bool, None, date) and its lines.

    Keys must be plain strings and appear once per mapping. A mapping key's line is the line
    of the key itself, so ``lines[("spec", "rules")]`` is where ``rules:`` is written.
    """
    lines: Lines = {}
    value = _python(node, path, lines, label, error)
    return value, lines


def start_line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def known(names: Iterable[str]) -> str:
    """``(known: a, b, c)``: the sorted names that exist, for an unknown-field message."""
    return f"(known: {', '.join(sorted(names))})"


def scalar(node: yaml.Node) -> Any:
    """A scalar as YAML's safe rules read it (strings, numbers, booleans, null, dates)."""
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _python(node: yaml.Node, path: tuple[str, ...], lines: Lines, label: str, error: ErrorFactory) -> Any:
    lines[path] = start_line(node)
    if isinstance(node, yaml.MappingNode):
        merge_tag = "tag:yaml.org,2002:merge"
        own = sum(1 for key_node, _ in node.value if key_node.tag != merge_tag)
        try:  # YAML merge keys (`<<: *defaults`): the merged pairs come first, the mapping's own after
            yaml.constructor.SafeConstructor().flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            raise error(label, start_line(node), f"bad merge key ({exc.problem})") from None
        merged = len(node.value) - own
        result: dict[str, Any] = {}
        seen: set[str] = set()
        for i, (key_node, value_node) in enumerate(node.value):
            key = scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise error(label, start_line(key_node), "keys must be plain strings")
            if i >= merged:  # a key of the mapping itself overrides a merged one, but appears once
                if key in seen:
                    raise error(label, start_line(key_node), f"field {key!r} appears twice")
                seen.add(key)
            result[key] = _python(value_node, (*path, key), lines, label, error)
            lines[(*path, key)] = start_line(key_node)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_python(item, (*path, str(i)), lines, label, error) for i, item in enumerate(node.value)]
    try:
        return scalar(node)
    except (ValueError, yaml.YAMLError):
        raise error(label, start_line(node), f"{node.value!r} is not a valid YAML value") from None
