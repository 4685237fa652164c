"""Where the demo lives: a fresh home it may create, and may delete again only if it made it.

``charter demo`` tells its story in a new home (``./.charter-demo`` by default). A folder that
already holds something is refused, so a demo never writes into a real home by a mistyped
``--home``. ``--fresh`` deletes the folder first, but only when it carries the marker file
the demo writes into every home it creates (:data:`MARKER`); any other folder is refused
even then.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from charter.errors import Conflict, InvalidInput

MARKER = ".charter-demo"
_MARKER_TEXT = "This Charter home was made by `charter demo`; `charter demo --fresh` deletes and remakes it.\n"


def prepare_home(home: Path, *, fresh: bool) -> Path:
    """The demo's home, ready to be created: absent or empty (after deleting an earlier demo with ``fresh``)."""
    home = home.expanduser().absolute()
    if home.exists() and not home.is_dir():
        raise InvalidInput(f"{home} is a file; give --home a folder for the demo")
    if home.is_dir() and any(home.iterdir()):
        if not (home / MARKER).is_file():
            raise Conflict(
                f"{home} is not empty and was not made by `charter demo`; the demo will not write into it or "
                "delete it: give --home a new folder (or delete that one yourself if you no longer need it)"
            )
        if not fresh:
            raise Conflict(
                f"{home} already holds a demo; explore it with `charter --home {home} serve`, or run "
                "`charter demo --fresh` to delete it and tell the story again"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    return home
