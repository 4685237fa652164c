"""CEL expressions and message templates: compiled once, evaluated on a context.

Expressions run on the ``common-expression-language`` package (the Rust CEL interpreter) with
its extended library (``math.abs``, ``max``, ``join``, ...). A rule's expression must give a
boolean; anything else, or an error, is an ``error`` outcome whose reason says what was missing
or wrong, so a gate can fail closed and say why (DESIGN invariant 4).
"""

from __future__ import annotations

import importlib
import itertools
import re
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from charter.policy.paths import missing_evidence
from charter.policy.schema import jsonable, kind


def _import_cel() -> Any:
    """``import cel`` without its command-line tool.

    The package's ``__init__`` imports ``cel.cli``, which pulls in prompt_toolkit: about 80 ms of
    every cold start of ``charter``. A placeholder stands in for ``cel.cli`` during the import
    and is removed afterwards, so a later ``import cel.cli`` still loads the real one.
    """
    if "cel" in sys.modules or "cel.cli" in sys.modules:
        return importlib.import_module("cel")
    placeholder = types.ModuleType("cel.cli", "(not loaded by Charter: the cel command-line tool)")
    sys.modules["cel.cli"] = placeholder
    try:
        return importlib.import_module("cel")
    finally:
        if sys.modules.get("cel.cli") is placeholder:
            del sys.modules["cel.cli"]


cel = _import_cel()
STDLIB_FUNCTIONS: dict[str, Any] = importlib.import_module("cel.stdlib").STDLIB_FUNCTIONS

Status = Literal["pass", "fail", "error"]
ErrorKind = Literal["evidence_missing", "type_error", "not_boolean", "undefined", "runtime_error"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("evidence_missing", "type_error", "not_boolean", "undefined", "runtime_error")

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
#: What a template shows for a value it cannot compute.
UNAVAILABLE = "n/a"
_serials = itertools.count()


@dataclass(frozen=True)
class Outcome:
    """What a rule's check gave: pass, fail, or error with the kind and a sentence saying why."""

    status: Status
    reason: str = ""
    error_kind: ErrorKind | None = None


class Environment:
    """One context, ready for CEL: built once, shared by every rule of a gate evaluation."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = dict(context)
        self.cel = cel.Context(variables=self.context, functions=STDLIB_FUNCTIONS)
        self.serial = next(_serials)
        self._plain: Any = None

    def plain(self) -> Any:
        """The context as JSON values (Rego's ``input``), computed once."""
        if self._plain is None:
            self._plain = jsonable(self.context)
        return self._plain


@dataclass(frozen=True)
class Expression:
    source: str
    program: Any = field(repr=False, compare=False)

    def value(self, env: Environment) -> Any:
        """The expression's value; raises what CEL raises."""
        return self.program.execute(env.cel)

    def check(self, env: Environment) -> Outcome:
        """pass/fail for a boolean result; error (with the reason) for anything else."""
        try:
            result = self.value(env)
        except Exception as exc:  # the CEL binding raises KeyError, TypeError, RuntimeError, ...
            return explain(exc, self.source, env.context)
        if isinstance(result, bool):
            return Outcome("pass" if result else "fail")
        return Outcome(
            "error",
            f"the expression gives {kind(result)} {shorten(format_value(result))}, not a boolean",
            "not_boolean",
        )


def compile_expression(source: str) -> Expression:
    """Compile CEL source; a syntax error raises ValueError with CEL's message (first line)."""
    if not source.strip():
        raise ValueError("the expression is empty")
    try:
        program = cel.compile(source)
    except Exception as exc:
        raise ValueError(syntax_message(exc)) from None
    return Expression(source, program)


def syntax_message(exc: BaseException) -> str:
    """CEL's parse error in one line: ``Syntax error: mismatched input '<EOF>' ... (column 27)``."""
    text = str(exc)
    match = re.search(r"<input>:(\d+):(\d+): (.*)", text)
    if match is None:
        return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    line, column, message = match.groups()
    message = re.sub(r" expecting \{.*\}$", "", message.strip())
    where = f"line {line} column {column}" if line != "1" else f"column {column}"
    return f"{message.strip()} (at {where} of the expression)"


def explain(exc: BaseException, source: str, context: Mapping[str, Any]) -> Outcome:
    """An evaluation error as an ``error`` outcome naming the missing evidence or the problem."""
    missing = missing_evidence(source, context)
    if missing is not None:
        return Outcome("error", f"missing evidence: {missing}", "evidence_missing")
    if isinstance(exc, KeyError | IndexError):
        what = "key" if isinstance(exc, KeyError) else "list index"
        return Outcome("error", f"missing evidence: no {what} {exc.args[0]!r} in the context", "evidence_missing")
    first = str(exc).strip().split(". ")[0].rstrip(".")
    if isinstance(exc, TypeError):
        if first.startswith("No such overload"):
            first = "an operator or function got operand types it does not take (is one of them null?)"
        return Outcome("error", f"type error: {first}", "type_error")
    if isinstance(exc, ZeroDivisionError):
        return Outcome("error", "division by zero", "runtime_error")
    return Outcome("error", first or type(exc).__name__, "runtime_error")


@dataclass(frozen=True)
class Template:
    """A message with ``{{ cel }}`` placeholders, each replaced by its value in the context."""

    text: str
    parts: tuple[str | Expression, ...]

    def render(self, env: Environment) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                out.append(format_value(part.value(env)))
            except Exception:
                out.append(UNAVAILABLE)
        return "".join(out)


def compile_template(text: str) -> Template:
    """Split a message into text and compiled placeholders; a bad placeholder raises ValueError."""
    parts: list[str | Expression] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        try:
            parts.append(compile_expression(match.group(1).strip()))
        except ValueError as exc:
            raise ValueError(f"placeholder {{{{{match.group(1)}}}}}: {exc}") from None
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return Template(text, tuple(parts))


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_value(value: Any) -> str:
    """A value as a message shows it: 0.7912, true, null, 'a, b' for lists, 'k=v' for maps."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
            return f"{value:.4g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") or "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
    return str(value)
