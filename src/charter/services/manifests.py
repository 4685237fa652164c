"""Governance manifests: YAML documents (``apiVersion: charter.dev/v1``) read with their line numbers.

Every value keeps the line it was written on, so an error names the file, line and field::

    governance/models.yaml line 14: Model credit-risk: unknown field 'riskTeir' (known: ...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from charter.errors import InvalidInput

API_VERSION = "charter.dev/v1"
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Document:
    kind: str
    name: str
    spec: dict[str, Any]
    file: str
    line: int
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)

    def where(self, *path: str) -> str:
        """``file line N: Kind name:`` for the given field path (or the document)."""
        line = self.lines.get(tuple(path), self.lines.get(("spec",), self.line))
        return f"{self.file} line {line}: {self.kind} {self.name}:"

    def error(self, message: str, *path: str) -> InvalidInput:
        return InvalidInput(f"{self.where(*path)} {message}")


def manifest_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInput(f"{path} does not exist")
    if not files:
        raise InvalidInput(f"no YAML files (*.yaml, *.yml) in {', '.join(map(str, paths))}")
    return files


def load_documents(paths: Sequence[Path], kinds: Sequence[str]) -> list[Document]:
    """Every document in the files and folders given, checked for apiVersion, kind and name."""
    documents: list[Document] = []
    seen: dict[tuple[str, str], str] = {}
    for file in manifest_files(paths):
        try:
            text = file.read_text(encoding="utf-8")
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{file} is not UTF-8 text") from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 0
            raise InvalidInput(f"{file} line {line}: not valid YAML ({exc.problem or exc.context})") from None
        for node in nodes:
            document = _document(node, str(file), kinds)
            key = (document.kind, document.name)
            if key in seen:
                raise InvalidInput(f"{document.where()} declared twice (also at {seen[key]})")
            seen[key] = f"{document.file} line {document.line}"
            documents.append(document)
    return documents


def _document(node: yaml.Node, file: str, kinds: Sequence[str]) -> Document:
    lines: dict[tuple[str, ...], int] = {}
    value = _python(node, (), lines, file)
    start = node.start_mark.line + 1
    if not isinstance(value, dict):
        raise InvalidInput(f"{file} line {start}: a document must be a mapping with apiVersion, kind, metadata, spec")
    unknown = sorted(set(value) - {"apiVersion", "kind", "metadata", "spec"})
    if unknown:
        known = "apiVersion, kind, metadata, spec"
        raise InvalidInput(f"{file} line {lines[(unknown[0],)]}: unknown field {unknown[0]!r} (known: {known})")
    if value.get("apiVersion") != API_VERSION:
        line = lines.get(("apiVersion",), start)
        raise InvalidInput(f"{file} line {line}: apiVersion must be {API_VERSION!r}, not {value.get('apiVersion')!r}")
    kind = value.get("kind")
    if kind not in kinds:
        line = lines.get(("kind",), start)
        raise InvalidInput(f"{file} line {line}: unknown kind {kind!r} (known: {', '.join(kinds)})")
    metadata = value.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        line = lines.get(("metadata",), start)
        raise InvalidInput(f"{file} line {line}: {kind} needs metadata.name (a string)")
    spec = value.get("spec", {})
    if not isinstance(spec, dict):
        raise InvalidInput(f"{file} line {lines.get(('spec',), start)}: {kind} {name}: spec must be a mapping")
    return Document(str(kind), name, spec, file, start, lines)


def _scalar(node: yaml.Node) -> Any:
    """A scalar as YAML's safe rules read it (strings, numbers, booleans, null, dates)."""
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _python(node: yaml.Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise InvalidInput(f"{file} line {key_node.start_mark.line + 1}: keys must be plain strings")
            if key in result:
                raise InvalidInput(f"{file} line {key_node.start_mark.line + 1}: field {key!r} appears twice")
            result[key] = _python(value_node, (*path, key), lines, file)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_python(item, (*path, str(i)), lines, file) for i, item in enumerate(node.value)]
    return _scalar(node)
