"""Charter's version, from the installed package metadata."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed_version


@functools.cache
def version() -> str:
    try:
        return _installed_version("charter")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"
