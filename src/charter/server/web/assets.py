"""Static files: the dashboard's own stylesheet and script, and plotly.js from the installed ``plotly`` package.

Nothing is fetched from a CDN, so the dashboard works offline. plotly.js is served from the
package's ``package_data/plotly.min.js`` and cached for a year (pages link it with the plotly
version in the query, so an upgrade changes the URL); the dashboard's own files for an hour.
"""

from __future__ import annotations

import functools
from importlib import metadata, resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from charter.errors import NotFound
from charter.server.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

OWN = {"style.css": "text/css", "charts.js": "text/javascript"}
YEAR = 365 * 24 * 3600


@functools.cache
def plotly_js() -> Path:
    found = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    if not found.is_file():
        raise NotFound(f"plotly.js is missing from the installed plotly package (looked at {found})")
    return found


@functools.cache
def plotly_version() -> str:
    return metadata.version("plotly")


@router.get("/static/plotly.min.js")
def plotly() -> Response:
    return FileResponse(plotly_js(), media_type="text/javascript", headers={
        "Cache-Control": f"public, max-age={YEAR}, immutable", "X-Content-Type-Options": "nosniff",
    })  # fmt: skip


@router.get("/static/{name}")
def own(name: str) -> Response:
    if name not in OWN:
        raise NotFound(f"no static file {name!r}")
    path = Path(str(resources.files("charter.server.web") / "static" / name))
    return FileResponse(path, media_type=OWN[name], headers={
        "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff",
    })  # fmt: skip
