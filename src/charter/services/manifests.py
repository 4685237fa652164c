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
from charter.yamlfile import compose_file, start_line, to_python

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
    #: The document's own YAML text, as written (kinds that keep their source, such as Policy).
    source: str = ""

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
        for node in compose_file(file):
            document = _document(node, str(file), kinds)
            key = (document.kind, document.name)
            if key in seen:
                raise InvalidInput(f"{document.where()} declared twice (also at {seen[key]})")
            seen[key] = f"{document.file} line {document.line}"
            documents.append(document)
    return documents


def _document(node: yaml.Node, file: str, kinds: Sequence[str]) -> Document:
    value, lines = to_python(node, label=file)
    start = start_line(node)
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
    mark, end = node.start_mark, node.end_mark
    source = mark.buffer[mark.index : end.index].rstrip("\x00") if isinstance(mark.buffer, str) else ""
    return Document(str(kind), name, spec, file, start, lines, source)
