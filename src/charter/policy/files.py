"""Finding and reading policy files: the one rule for which files a path names.

A path is a policy file, or a folder whose ``*.yaml`` / ``*.yml`` files (at any depth) are
policies, except ``cases.yaml``, which holds a policy's test cases. This module reads files
and nothing else, so that a command which only sends policies elsewhere (``charter gate
--server``) does not load the YAML and CEL machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from charter.errors import InvalidInput

SUFFIXES = (".yaml", ".yml")
CASES = ("cases.yaml", "cases.yml")
NO_FILES = "no policy files (*.yaml, *.yml) in this folder"
NO_PATH = "no such file or folder"


def find_policy_files(paths: Sequence[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The policy files named or found under folders, and each path that names none with the reason."""
    files: list[Path] = []
    missing: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file() and p.name not in CASES)
            if not found:
                missing.append((path, NO_FILES))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append((path, NO_PATH))
    return files, missing


def read_policy_texts(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """``(text, file)`` of every policy file the paths name; the first path that names none is an error."""
    files, missing = find_policy_files(paths)
    if missing:
        path, reason = missing[0]
        raise InvalidInput(f"{path}: {reason}")
    found = []
    for path in files:
        try:
            found.append((path.read_text(encoding="utf-8"), str(path)))
        except (OSError, UnicodeDecodeError) as exc:
            reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise InvalidInput(f"cannot read policy {path}: {reason}") from None
    return found
