"""The control-plane server: REST API (``/api/v1``), web dashboard and ``/metrics``. See :func:`create_app`."""

from __future__ import annotations

from charter.server.app import create_app

__all__ = ["create_app"]
