"""Every error the API answers with is a JSON problem document: ``{"code", "status", "message"}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from charter.errors import CharterError


class Problem(BaseModel):
    """An error: its stable code (docs/cli.md lists them), the HTTP status and a message naming the fix."""

    code: str
    status: int
    message: str


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CharterError)
    async def charter_error(request: Request, exc: CharterError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """What the framework refuses itself (a body that is not JSON, an unknown path or method), as a problem."""
        code = HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        problem = {"code": code, "status": exc.status_code, "message": message}
        return JSONResponse(problem, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        return JSONResponse({"code": "input.invalid", "status": 422, "message": message}, status_code=422)


#: Codes for the refusals the framework makes before a route runs.
HTTP_CODES = {400: "input.invalid", 404: "not_found", 405: "http.method_not_allowed", 413: "input.too_large"}

#: The error responses every route documents (the error hierarchy's codes per status).
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": Problem, "description": "Bad input (input.invalid and its kinds)."},
    401: {"model": Problem, "description": "No token, or an unknown, revoked or expired one (auth.unauthenticated)."},
    403: {"model": Problem, "description": "The token's principal lacks the role (auth.forbidden)."},
    404: {"model": Problem, "description": "No such object (not_found)."},
    409: {"model": Problem, "description": "The change conflicts with the current state (conflict)."},
    422: {"model": Problem, "description": "The request does not match the route's schema (input.invalid)."},
    429: {"model": Problem, "description": "Too many failed authentications from this client (auth.rate_limited)."},
    503: {"model": Problem, "description": "The store cannot be used now (store.unreachable and the store.* codes)."},
}
