"""Reading a DVC repository: tracked outputs (``*.dvc`` files) and pipeline stages (``dvc.lock``).

Only the files DVC writes are read (their formats are documented and stable), so DVC
itself is not needed at run time. Paths in a ``.dvc`` file are relative to that file;
paths in ``dvc.lock`` are relative to the folder holding it (the stages' default wdir).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from charter.errors import InvalidInput


@dataclass(frozen=True)
class DvcOutput:
    path: Path  # relative to the repository root
    md5: str  # as DVC recorded it; a folder's ends in ".dir"
    size: int | None
    plain_md5: bool = False  # ``hash: md5`` (DVC 3): the file's plain MD5; older files normalised line ends
    recorded_in: str = ""  # the .dvc or dvc.lock file, relative to the root

    def origin(self) -> dict[str, Any]:
        """What a dataset version imported from this output keeps about it."""
        return {"kind": "dvc", "path": self.path.as_posix(), "md5": self.md5, "recorded_in": self.recorded_in}


def _output(path: Path, out: dict[str, Any], recorded_in: str) -> DvcOutput:
    size = out.get("size")
    return DvcOutput(
        path,
        str(out.get("md5", "")),
        size if isinstance(size, int) else None,
        plain_md5=out.get("hash") == "md5",
        recorded_in=recorded_in,
    )


@dataclass(frozen=True)
class DvcStage:
    name: str
    cmd: str
    deps: tuple[Path, ...]
    outs: tuple[Path, ...]
    params: dict[str, Any] = field(default_factory=dict)
    lock_file: str = ""


@dataclass(frozen=True)
class DvcRepo:
    root: Path
    outputs: tuple[DvcOutput, ...]
    stages: tuple[DvcStage, ...]


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        raise InvalidInput(f"{path} line {line}: not valid YAML") from None


def _files(root: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern``, outside DVC's own ``.dvc/`` folder and ``.git/``."""

    def inside_tool_folder(path: Path) -> bool:
        return any(part in (".dvc", ".git") for part in path.relative_to(root).parts[:-1])

    return sorted(p for p in root.rglob(pattern) if p.is_file() and not inside_tool_folder(p))


def read_repo(root: Path) -> DvcRepo:
    if not (root / ".dvc").is_dir():
        raise InvalidInput(f"{root} is not a DVC repository (no .dvc folder); run `dvc init` there first")
    outputs: list[DvcOutput] = []
    for file in _files(root, "*.dvc"):
        document = _yaml(file) or {}
        for index, out in enumerate(document.get("outs") or []):
            if not isinstance(out, dict) or "path" not in out:
                raise InvalidInput(f"{file}: outs[{index}] has no path")
            path = (file.parent / out["path"]).relative_to(root)
            outputs.append(_output(path, out, file.relative_to(root).as_posix()))
    stages: list[DvcStage] = []
    for lock in _files(root, "dvc.lock"):
        document = _yaml(lock) or {}
        base = lock.parent.relative_to(root)
        for name, stage in sorted((document.get("stages") or {}).items()):
            if not isinstance(stage, dict):
                raise InvalidInput(f"{lock}: stage {name!r} is not a mapping")
            outs = tuple(base / o["path"] for o in stage.get("outs") or [])
            for out in stage.get("outs") or []:
                outputs.append(_output(base / out["path"], out, lock.relative_to(root).as_posix()))
            params = {
                f"{file}:{key}": value
                for file, values in sorted((stage.get("params") or {}).items())
                for key, value in sorted((values or {}).items())
            }
            stages.append(
                DvcStage(
                    name=str(name),
                    cmd=" && ".join(stage["cmd"]) if isinstance(stage.get("cmd"), list) else str(stage.get("cmd", "")),
                    deps=tuple(base / d["path"] for d in stage.get("deps") or []),
                    outs=outs,
                    params=params,
                    lock_file=str(lock.relative_to(root)),
                )
            )
    return DvcRepo(root, tuple(outputs), tuple(stages))
