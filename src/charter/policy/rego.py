"""Rego rules, for teams standardised on OPA, evaluated with ``regopy`` (rego-cpp) on the same context.

A Policy with ``spec.language: rego`` carries a Rego module in ``spec.module``; each rule has a
``query`` naming a rule of that module (``data.charter.baseline.auc_ok``). The query is
evaluated with the evaluation context as ``input`` and must give a boolean: true passes, false
fails, and anything else is an error that fails closed, as with CEL:

- *undefined* (no rule body held and the rule has no ``default``; or a field it reads is
  missing): error ``undefined``. Declare ``default auc_ok := false`` to make a rule fail instead;
- a built-in function error (division by zero, a type mismatch): error ``runtime_error``;
- a value that is not a boolean: error ``not_boolean``.

Timestamps reach Rego as RFC 3339 strings with a numeric offset (``2026-01-01T00:00:00+00:00``),
which ``time.parse_rfc3339_ns`` reads.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from charter.policy.cel import Environment, Outcome, format_value, shorten
from charter.policy.schema import kind

QUERY = re.compile(r"data(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)
_RULE_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:if\b|:=|=|\{|contains\b|\[)", re.MULTILINE)
_ERROR_AT = re.compile(r"\(error \d+:[^|]*\|(\d+)\|\d+")
_ERROR_MESSAGE = re.compile(r"\(errormsg (\d+):")
#: The query variable results are bound to (not a name a module would use).
_RESULT = "charter_result"


class RegoCompileError(ValueError):
    """A Rego module or query that does not compile: the message, and the line in the module if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def package_of(source: str) -> str | None:
    match = _PACKAGE.search(source)
    return match.group(1) if match else None


def rule_names(source: str) -> set[str]:
    """The rule names a module defines (by their heads at the start of a line)."""
    return {m.group(1) for m in _RULE_HEAD.finditer(source) if m.group(1) not in ("package", "import")}


class RegoModule:
    """One compiled module in its own interpreter; the context is set as ``input`` once per environment."""

    def __init__(self, source: str, *, name: str = "policy.rego") -> None:
        import regopy  # type: ignore[import-untyped]

        self.source = source
        self.package = package_of(source)
        if self.package is None:
            raise RegoCompileError("the module has no package declaration (package charter.example)", 1)
        self._interpreter = regopy.Interpreter()
        self._interpreter.log_level = regopy.LogLevel.NONE
        self._serial: int | None = None
        self._lock = threading.Lock()  # one interpreter, one input at a time
        try:
            self._interpreter.add_module(name, source)
        except regopy.RegoError as exc:
            raise _compile_error(str(exc), source) from None
        # Some errors (an unknown function) only show when the module is compiled for a query.
        self._interpreter.set_input({})
        ok, text = self._raw(f"{_RESULT} := data.{self.package}")
        if not ok or text.startswith("(error"):
            raise _compile_error(text, source)
        self._interpreter.strict_built_in_errors = True

    def _raw(self, query: str) -> tuple[bool, str]:
        # Output() of regopy cannot parse every answer (an error text is not JSON), so read it raw.
        from regopy.rego_shared import (  # type: ignore[import-untyped]
            rego_free_output,
            rego_output_ok,
            rego_output_string,
            rego_query,
        )

        output = rego_query(self._interpreter._impl, query)
        try:
            return bool(rego_output_ok(output)), str(rego_output_string(output))
        finally:
            rego_free_output(output)

    def value(self, query: str, env: Environment) -> tuple[str, Any]:
        """("value", v), ("undefined", None) or ("error", message) for ``query`` on the environment's context."""
        with self._lock:
            if self._serial != env.serial:
                self._interpreter.set_input(env.plain())
                self._serial = env.serial
            ok, text = self._raw(f"{_RESULT} := {query}")
        if not ok or text.startswith("(error") or text == "<error>":
            return "error", _message(text) or "a built-in function failed (for example a division by zero)"
        if text == "undefined":
            return "undefined", None
        try:
            answer = json.loads(text)
        except ValueError:
            return "error", f"unreadable answer from the Rego engine: {text[:200]}"
        results = answer if isinstance(answer, list) else [answer]
        bindings = results[0].get("bindings", {}) if results and isinstance(results[0], dict) else {}
        if _RESULT not in bindings:
            return "undefined", None
        return "value", bindings[_RESULT]


@dataclass(frozen=True)
class RegoQuery:
    """A rule's check: a query naming a rule of the policy's module."""

    source: str
    module: RegoModule = field(repr=False, compare=False)

    def check(self, env: Environment) -> Outcome:
        state, value = self.module.value(self.source, env)
        if state == "error":
            return Outcome("error", f"the Rego query failed: {value}", "runtime_error")
        if state == "undefined":
            return Outcome(
                "error",
                f"{self.source} is undefined: no rule body held and the rule has no default, or a field it "
                f"reads is missing (declare `default {self.source.rsplit('.', 1)[-1]} := false` to fail instead)",
                "undefined",
            )
        if isinstance(value, bool):
            return Outcome("pass" if value else "fail")
        shown = shorten(format_value(value))
        return Outcome("error", f"the query gives {kind(value)} {shown}, not a boolean", "not_boolean")


def compile_query(query: str, module: RegoModule) -> RegoQuery:
    """Check that ``query`` names a rule of ``module``'s package; raises RegoCompileError otherwise."""
    query = query.strip()
    if not QUERY.fullmatch(query):
        raise RegoCompileError(f"query {query!r} must be a rule reference such as data.{module.package}.allow")
    prefix = f"data.{module.package}."
    if not query.startswith(prefix):
        raise RegoCompileError(f"query {query} is not in the module's package {module.package} ({prefix}...)")
    ok, text = module._raw(f"{_RESULT} := {query}")
    if not ok or text.startswith("(error"):
        raise RegoCompileError(f"query {query}: {_message(text) or text.strip()}")
    return RegoQuery(query, module)


def _message(text: str) -> str:
    match = _ERROR_MESSAGE.search(text)
    if match is None:
        return ""
    length = int(match.group(1))
    return text[match.end() : match.end() + length]


def _compile_error(text: str, source: str) -> RegoCompileError:
    lines = text.strip().splitlines()
    message = _message(text) or (lines[0] if lines else "the module does not compile")
    at = _ERROR_AT.search(text)
    line = source.count("\n", 0, int(at.group(1))) + 1 if at else None
    return RegoCompileError(message, line)
