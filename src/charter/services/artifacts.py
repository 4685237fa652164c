"""Content digests of model artifacts: a file, or a directory hashed deterministically.

A file's digest is the SHA-256 of its bytes. A directory's is the SHA-256 of a manifest
with one line per file, sorted by path::

    charter.artifact.dir.v1\\n
    <sha256 of the file> <size in bytes> <path relative to the directory, POSIX form>\\n

so the digest depends only on the files' names and contents, not on the order a file
system lists them, their times or permissions. Symbolic links are refused: a link could
point anywhere, and following it would hash something that is not part of the artifact.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from charter.errors import InvalidInput

DIRECTORY_FORMAT = "charter.artifact.dir.v1"
CHUNK = 1 << 20


@dataclass(frozen=True)
class ArtifactDigest:
    uri: str
    sha256: str
    size: int
    files: int


def digest_path(path: Path, *, progress: Callable[[int], None] | None = None) -> ArtifactDigest:
    """Hash the file or directory at ``path``; ``progress`` gets the bytes read so far."""
    if path.is_symlink():
        raise InvalidInput(f"artifact {path} is a symbolic link; give the file or folder it points to")
    if not path.exists():
        raise InvalidInput(f"artifact {path} does not exist")
    read = [0]

    def file_digest(file: Path) -> str:
        digest = hashlib.sha256()
        try:
            with file.open("rb") as handle:
                while block := handle.read(CHUNK):
                    digest.update(block)
                    read[0] += len(block)
                    if progress is not None:
                        progress(read[0])
        except OSError as exc:
            raise InvalidInput(f"cannot read artifact file {file}: {exc.strerror}") from None
        return digest.hexdigest()

    uri = path.resolve().as_uri()
    if path.is_file():
        return ArtifactDigest(uri=uri, sha256=file_digest(path), size=path.stat().st_size, files=1)
    if not path.is_dir():
        raise InvalidInput(f"artifact {path} is neither a file nor a folder")
    lines = [DIRECTORY_FORMAT + "\n"]
    total = count = 0
    for file in _files(path):
        relative = file.relative_to(path).as_posix()
        size = file.stat().st_size
        lines.append(f"{file_digest(file)} {size} {relative}\n")
        total += size
        count += 1
    manifest = "".join(lines).encode("utf-8", "surrogateescape")
    return ArtifactDigest(uri=uri, sha256=hashlib.sha256(manifest).hexdigest(), size=total, files=count)


def file_md5(path: Path) -> str:
    """The plain MD5 of a file, as DVC 3 records it (for checking a workspace file, not for security)."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in dirs:
            if (base / name).is_symlink():
                raise InvalidInput(f"artifact folder {root} contains a symbolic link: {base / name}")
        for name in names:
            file = base / name
            if file.is_symlink():
                raise InvalidInput(f"artifact folder {root} contains a symbolic link: {file}")
            if file.is_file():
                found.append(file)
    return sorted(found, key=lambda f: f.relative_to(root).as_posix())


def given_digest(uri: str, sha256: str | None, size: int | None) -> ArtifactDigest:
    """The digest of an artifact Charter cannot read (s3://, gs://, ...), as the caller states it."""
    if sha256 is None or size is None:
        raise InvalidInput(
            f"artifact {uri} is not a local file or folder: give its --sha256 and --size "
            "(Charter records them and checks them before the artifact is used)"
        )
    digest = sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"--sha256 {sha256!r} is not a SHA-256 digest (64 hexadecimal digits)")
    if size < 0:
        raise InvalidInput(f"--size must not be negative, got {size}")
    return ArtifactDigest(uri=uri, sha256=digest, size=size, files=0)


def digest_artifact(artifact: str, *, sha256: str | None = None, size: int | None = None) -> ArtifactDigest:
    """The digest of ``artifact``: a local path or ``file://`` URI is hashed here; another URI is taken as stated."""
    if artifact.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return digest_path(Path(unquote(urlparse(artifact).path)))
    if "://" in artifact:
        return given_digest(artifact, sha256, size)
    return digest_path(Path(artifact))
