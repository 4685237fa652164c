"""Charter: an open-source AI governance control plane for machine learning in production.

The SDK surface grows with each part of the governance loop; what is exported
here is deliberate and tested. ``connect()`` opens a home for logging decisions
(see :mod:`charter.sdk.client`); it is imported on first use, so that ``import
charter`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from charter.config import Settings, load_settings
from charter.errors import CharterError

if TYPE_CHECKING:
    from charter.sdk.client import Charter

__all__ = ["Charter", "CharterError", "Settings", "__version__", "connect", "load_settings"]


def connect(home: str | Path | None = None, **options: Any) -> Charter:
    """Connect to a Charter home (default ``$CHARTER_HOME`` or ``./.charter``) to log decisions.

    Options: ``database_url``, ``overflow`` (``block``, ``drop`` or ``spool``), ``queue_size``,
    ``privacy``, ``clock``.
    """
    from charter.sdk.client import connect as _connect

    return _connect(home, **options)


def __getattr__(name: str) -> Any:
    if name == "Charter":
        from charter.sdk.client import Charter

        return Charter
    if name == "__version__":  # read from the package metadata on first use (importlib.metadata is slow to load)
        from charter.version import version

        return version()
    raise AttributeError(f"module 'charter' has no attribute {name!r}")
