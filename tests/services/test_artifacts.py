"""Artifact digests: files by content, folders by a sorted manifest (checked independently)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from charter.errors import InvalidInput
from charter.services.artifacts import digest_path


def manifest_digest(files: dict[str, bytes]) -> str:
    lines = ["charter.artifact.dir.v1\n"] + [
        f"{hashlib.sha256(data).hexdigest()} {len(data)} {name}\n" for name, data in sorted(files.items())
    ]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def write(root: Path, files: dict[str, bytes], order: list[str]) -> None:
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])


FILES = {"model.pkl": b"weights", "conf/params.json": b'{"depth": 3}', "README": b"", "a/b/c.txt": b"x" * 5000}


def test_a_file_is_hashed_by_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(b"abc" * 1_000_000)
    progress: list[int] = []
    digest = digest_path(path, progress=progress.append)
    assert digest.sha256 == hashlib.sha256(b"abc" * 1_000_000).hexdigest()
    assert (digest.size, digest.files) == (3_000_000, 1)
    assert digest.uri == path.resolve().as_uri()
    assert progress[-1] == 3_000_000


@pytest.mark.parametrize("order", [sorted(FILES), sorted(FILES, reverse=True)])
def test_a_folder_digest_depends_only_on_names_and_contents(tmp_path: Path, order: list[str]) -> None:
    write(tmp_path / "art", FILES, order)
    os.utime(tmp_path / "art" / "README", (0, 0))
    digest = digest_path(tmp_path / "art")
    assert digest.sha256 == manifest_digest(FILES)
    assert (digest.size, digest.files) == (sum(map(len, FILES.values())), 4)


def test_any_change_to_a_folder_changes_its_digest(tmp_path: Path) -> None:
    write(tmp_path / "art", FILES, list(FILES))
    before = digest_path(tmp_path / "art").sha256
    (tmp_path / "art" / "conf" / "params.json").write_bytes(b'{"depth": 4}')
    after_edit = digest_path(tmp_path / "art").sha256
    (tmp_path / "art" / "conf" / "params.json").rename(tmp_path / "art" / "conf" / "renamed.json")
    after_rename = digest_path(tmp_path / "art").sha256
    assert len({before, after_edit, after_rename}) == 3


def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "art", FILES, list(FILES))
    (tmp_path / "art" / "link").symlink_to(tmp_path / "art" / "README")
    with pytest.raises(InvalidInput, match=r"contains a symbolic link: .*/art/link"):
        digest_path(tmp_path / "art")
    with pytest.raises(InvalidInput, match=r"is a symbolic link"):
        digest_path(tmp_path / "art" / "link")


def test_a_missing_artifact_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=rf"^artifact {tmp_path / 'nope.pkl'} does not exist$"):
        digest_path(tmp_path / "nope.pkl")
