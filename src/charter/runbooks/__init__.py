"""The runbooks shipped with Charter, one Markdown file per monitor kind, and a team's own instead.

``runbook_for(kind)`` gives the built-in runbook (``runbooks/<kind>.md``). A monitor's
``runbook:`` field overrides it for its model, and ``runbook_for(kind, override)`` reads it as:

==========================================  ==========  ==============================================
override                                    source      what is kept
==========================================  ==========  ==============================================
empty                                       builtin     the shipped Markdown
``https://wiki.example/credit-risk``        link        the URL (never fetched) and a one-line pointer
a file that exists (``runbooks/cr.md``,     file        the file's text, read now
``~/cr.md``, ``file:///srv/cr.md``)
several lines, or a line starting with #    inline      the text as given
==========================================  ==========  ==============================================

A single line that is neither a link nor an existing file is a path if it looks like one (it has
no spaces and a ``/``, or ends in ``.md``, ``.markdown`` or ``.txt``) and then must exist;
otherwise it is inline text ("Page the fraud team first."). Relative paths resolve against
``base`` (the folder of the manifest that declared the monitor), else the working directory.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from charter.errors import ConfigError, InvalidInput

RUNBOOKS_DIR = Path(__file__).resolve().parent

#: The monitor kinds, in the order of :data:`charter.services.monitors.KINDS` (a test keeps them equal).
KINDS: tuple[str, ...] = (
    "data_drift",
    "data_quality",
    "performance",
    "estimated_performance",
    "fairness",
    "latency",
    "volume",
    "input_anomaly",
    "shadow",
    "attribution_drift",
)

Source = Literal["builtin", "file", "link", "inline"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_PATH_SUFFIXES = (".md", ".markdown", ".txt")


@dataclass(frozen=True)
class Runbook:
    """A runbook for one monitor kind.

    ``text`` is Markdown (for a link, a short pointer to the URL); ``title`` is its first
    ``# heading`` (else "<Kind> runbook"); ``location`` is the file read (builtin, file) or the
    URL (link), and empty for inline text.
    """

    kind: str
    title: str
    text: str
    source: Source
    location: str = ""

    @property
    def url(self) -> str:
        """The team's runbook URL when the runbook is a link, else empty."""
        return self.location if self.source == "link" else ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def runbook_for(kind: str, override: str = "", *, base: Path | None = None, root: Path = RUNBOOKS_DIR) -> Runbook:
    """The runbook for a monitor kind: the built-in one, or ``override`` (Markdown, a file, or a URL).

    Raises :class:`~charter.errors.InvalidInput` for an unknown kind (naming the kinds), an override
    path that does not exist or cannot be read, and a URL scheme other than http(s) and file.
    """
    if kind not in KINDS:
        raise InvalidInput(f"no runbook for monitor kind {kind!r} (kinds: {', '.join(KINDS)})")
    text = override.strip()
    if not text:
        return _builtin(kind, root)
    if "\n" in text or text.startswith("#"):
        return Runbook(kind, _title(text, kind), text + "\n", "inline")
    scheme = _SCHEME.match(text)
    if scheme is not None:
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            return _link(kind, text)
        if name != "file":
            raise InvalidInput(
                f"runbook {text!r}: a runbook is Markdown text, a local file or an http(s) link, not a {name}:// URI"
            )
        return _read(kind, Path(unquote(urlsplit(text).path)), text)
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if _is_file(path) or _looks_like_path(text):
        return _read(kind, path, text)
    return Runbook(kind, _title(text, kind), text + "\n", "inline")


def _builtin(kind: str, root: Path) -> Runbook:
    path = root / f"{kind}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"the built-in runbook {path} is missing; reinstall Charter") from None
    return Runbook(kind, _title(text, kind), text, "builtin", str(path))


def _link(kind: str, url: str) -> Runbook:
    title = _default_title(kind)
    text = f"# {title}\n\nThis model's team keeps its own runbook for `{kind}` alerts: <{url}>\n"
    return Runbook(kind, title, text, "link", url)


def _read(kind: str, path: Path, given: str) -> Runbook:
    if not path.exists():
        raise InvalidInput(f"runbook file {given!r} does not exist ({path}); give a file, an http(s) link or Markdown")
    if path.is_dir():
        raise InvalidInput(f"runbook file {given!r} is a folder ({path}); give the Markdown file in it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"runbook file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"runbook file {path} cannot be read: {exc.strerror or exc}") from None
    if not text.strip():
        raise InvalidInput(f"runbook file {path} is empty")
    return Runbook(kind, _title(text, kind), text, "file", str(path))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system is inline text, not a file
        return False


def _looks_like_path(text: str) -> bool:
    if text.lower().endswith(_PATH_SUFFIXES):
        return True
    return not any(c.isspace() for c in text) and ("/" in text or "\\" in text or text.startswith("~"))


def _title(text: str, kind: str) -> str:
    found = _HEADING.search(text)
    return found.group(1) if found else _default_title(kind)


def _default_title(kind: str) -> str:
    return f"{kind.replace('_', ' ').capitalize()} runbook"


__all__ = ["KINDS", "RUNBOOKS_DIR", "Runbook", "runbook_for"]
