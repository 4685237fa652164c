"""The demo's home: created fresh, refused when taken, deleted again only with --fresh and only if the demo made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.demo.home import MARKER, prepare_home
from charter.errors import Conflict, InvalidInput


def test_a_new_or_empty_folder_becomes_a_demo_home(tmp_path: Path) -> None:
    for folder in (tmp_path / "new" / "home", tmp_path / "empty"):
        if folder.name == "empty":
            folder.mkdir()
        assert prepare_home(folder, fresh=False) == folder
        assert (folder / MARKER).is_file() and sorted(p.name for p in folder.iterdir()) == [MARKER]


def test_an_earlier_demo_is_refused_without_fresh_and_deleted_with_it(tmp_path: Path) -> None:
    home = prepare_home(tmp_path / "demo", fresh=False)
    (home / "charter.db").write_text("an earlier story")
    with pytest.raises(Conflict, match=r"already holds a demo; .* `charter demo --fresh`"):
        prepare_home(home, fresh=False)
    assert (home / "charter.db").exists()
    prepare_home(home, fresh=True)
    assert sorted(p.name for p in home.iterdir()) == [MARKER]


def test_a_folder_the_demo_did_not_make_is_never_touched(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "charter.db").write_text("precious")
    for fresh in (False, True):
        with pytest.raises(Conflict, match=r"was not made by `charter demo`"):
            prepare_home(mine, fresh=fresh)
    assert [p.name for p in mine.iterdir()] == ["charter.db"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match=r"is a file"):
        prepare_home(tmp_path / "file", fresh=True)
