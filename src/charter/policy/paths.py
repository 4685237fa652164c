"""The context fields a CEL expression reads, found from its tokens.

``evaluation.metrics.roc_auc >= champion.metrics.roc_auc - 0.01`` reads two field paths. Knowing
them lets lint check each against the context schema (``unknown field 'evaluation.metrics.auc'
(known: accuracy, ...)``) and lets an evaluation error say exactly which evidence was missing
(``champion is empty, so champion.metrics.roc_auc is missing``).

Variables bound by the comprehension macros (``approvals.exists(a, a.role == 'risk-officer')``)
take the element type of what they range over, so ``a.role`` is checked as ``approvals[].role``.
Only literal names are followed: an index by an expression (``fairness[a]``) is taken as any key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from charter.policy.schema import ListOf, MapOf, Record, Scalar, Type

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>[rRbB]{0,2}(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)
KEYWORDS = frozenset({"true", "false", "null", "in"})
#: Function namespaces of CEL's extended library (math.abs, sets.contains, ...): not context fields.
NAMESPACES = frozenset({"math", "sets", "base64", "strings", "lists"})
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Step:
    kind: Literal["field", "key", "index"]
    name: str = ""

    def show(self) -> str:
        if self.kind == "field":
            return f".{self.name}"
        return f"['{self.name}']" if self.kind == "key" else "[]"


@dataclass(frozen=True)
class Chain:
    """``root.step.step``: a name of the context (or a macro variable) and the fields selected from it."""

    root: str
    steps: tuple[Step, ...]
    position: int
    #: The argument of ``has()``: its last field may be missing without an error.
    in_has: bool = False

    def show(self, upto: int | None = None) -> str:
        return self.root + "".join(step.show() for step in self.steps[:upto])


@dataclass(frozen=True)
class Binding:
    """A macro variable: ``a`` in ``approvals.exists(a, ...)`` ranges over ``approvals[]``."""

    name: str
    position: int
    over: Chain | None


def tokens(source: str) -> list[Token]:
    return [Token(m.lastgroup or "punct", m.group()) for m in _TOKEN.finditer(source) if m.lastgroup != "space"]


def chains(source: str) -> tuple[list[Chain], list[Binding]]:
    """Every field path read by ``source`` (in order), and the macro variables it binds."""
    toks = tokens(source)
    closing = _matching(toks)
    found: list[Chain] = []
    bindings: list[Binding] = []
    results: dict[int, Chain | None] = {}  # closing paren of a filter() -> what its result ranges over
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or tok.text in KEYWORDS or _text(toks, i - 1) == ".":
            if tok.kind == "ident" and _text(toks, i - 1) == "." and tok.text in MACROS:
                _bind_after_call(toks, i, closing, results, bindings)
            continue
        if _text(toks, i + 1) == "(" or (tok.text in NAMESPACES and _text(toks, i + 1) == "."):
            continue
        steps: list[Step] = []
        j = i + 1
        while j < len(toks):
            if toks[j].text == "." and j + 1 < len(toks) and toks[j + 1].kind == "ident":
                if _text(toks, j + 2) == "(":
                    method = toks[j + 1].text
                    chain = Chain(tok.text, tuple(steps), i)
                    if method in MACROS and toks[j + 3 : j + 4] and toks[j + 3].kind == "ident":
                        if _text(toks, j + 4) == ",":
                            bindings.append(Binding(toks[j + 3].text, j + 3, chain))
                        if method == "filter":
                            results[closing.get(j + 2, -1)] = chain
                    break
                steps.append(Step("field", toks[j + 1].text))
                j += 2
            elif toks[j].text == "[" and j in closing:
                inner = toks[j + 1 : closing[j]]
                if len(inner) == 1 and inner[0].kind == "string":
                    steps.append(Step("key", _unquote(inner[0].text)))
                else:
                    steps.append(Step("index"))
                j = closing[j] + 1
            else:
                break
        in_has = _text(toks, i - 1) == "(" and _text(toks, i - 2) == "has"
        found.append(Chain(tok.text, tuple(steps), i, in_has))
    return found, bindings


def _bind_after_call(
    toks: list[Token], i: int, closing: dict[int, int], results: dict[int, Chain | None], bindings: list[Binding]
) -> None:
    """``xs.filter(x, ...).all(y, ...)``: ``y`` ranges over what the filter ranged over."""
    if _text(toks, i - 2) != ")" or _text(toks, i + 1) != "(" or _text(toks, i + 3) != ",":
        return
    if toks[i + 2].kind != "ident":
        return
    over = results.get(i - 2)
    bindings.append(Binding(toks[i + 2].text, i + 2, over))
    if toks[i].text == "filter":
        results[closing.get(i + 1, -1)] = over


def _matching(toks: list[Token]) -> dict[int, int]:
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for i, tok in enumerate(toks):
        if tok.text in "([" and tok.kind == "punct":
            stack.append(i)
        elif tok.text in ")]" and tok.kind == "punct" and stack:
            pairs[stack.pop()] = i
    return pairs


def _text(toks: list[Token], i: int) -> str:
    return toks[i].text if 0 <= i < len(toks) else ""


def _unquote(literal: str) -> str:
    body = literal.lstrip("rRbB")
    quote = body[:3] if body[:3] in ("'''", '"""') else body[:1]
    return body[len(quote) : -len(quote)]


# ---- against the schema (lint) ------------------------------------------------------------------


def schema_problems(source: str, schema: Record) -> list[str]:
    """``unknown field 'evaluation.metrics.auc' (known: ...)`` for each path the schema does not declare."""
    found, bindings = chains(source)
    problems: list[str] = []
    for chain in found:
        start = _start(chain, bindings, schema)
        if start is None:
            continue
        type_, shown = start
        if type_ is None:
            problems.append(f"unknown field {chain.root!r} (known: {', '.join(schema.names)})")
            continue
        problem = _walk_schema(type_, shown, chain.steps)
        if problem and problem not in problems:
            problems.append(problem)
    return problems


def _start(chain: Chain, bindings: list[Binding], schema: Record) -> tuple[Type | None, str] | None:
    """The type and display path a chain starts from; None when it cannot be known (skip it)."""
    bound = [b for b in bindings if b.name == chain.root and b.position <= chain.position]
    if bound:
        over = bound[-1].over
        if over is None:
            return None
        start = _start(over, bindings, schema)
        if start is None or start[0] is None:
            return None
        type_, shown = _resolve(start[0], start[1], over.steps)
        if isinstance(type_, ListOf):
            return type_.item, f"{shown}[]"
        if isinstance(type_, MapOf):
            return Scalar("string"), f"{shown}.<{type_.key}>"
        return None
    f = schema.field(chain.root)
    return (f.type if f is not None else None), chain.root


def _resolve(type_: Type | None, shown: str, steps: tuple[Step, ...]) -> tuple[Type | None, str]:
    for step in steps:
        if type_ is None or _walk_schema(type_, shown, (step,)):
            return None, shown
        type_, shown = _child(type_, shown, step)
    return type_, shown


def _walk_schema(type_: Type, shown: str, steps: tuple[Step, ...]) -> str | None:
    for step in steps:
        if isinstance(type_, Record):
            if step.kind == "index":
                return None
            if type_.field(step.name) is None:
                return f"unknown field '{shown}.{step.name}' (known: {', '.join(type_.names)})"
        elif isinstance(type_, MapOf):
            if step.kind == "field" and type_.known and step.name not in type_.known:
                return f"unknown field '{shown}.{step.name}' (known: {', '.join(sorted(type_.known))})"
        elif isinstance(type_, ListOf):
            if step.kind == "field":
                return (
                    f"'{shown}' is a list and has no field {step.name!r}; "
                    f"use a macro such as {shown.rsplit('.', 1)[-1]}.exists(x, x.{step.name} ...)"
                )
        else:
            return f"'{shown}' is a {type_.describe()} and has no field {step.name!r}"
        type_, shown = _child(type_, shown, step)
    return None


def _child(type_: Type, shown: str, step: Step) -> tuple[Type, str]:
    if isinstance(type_, Record):
        f = type_.field(step.name)
        assert f is not None
        return f.type, f"{shown}.{step.name}"
    if isinstance(type_, MapOf):
        name = step.name if step.kind != "index" else f"<{type_.key}>"
        return type_.value, f"{shown}.{name}"
    if isinstance(type_, ListOf):
        return type_.item, f"{shown}[]"
    return type_, shown


def extend_sample(value: dict[str, Any], source: str, schema: Record) -> None:
    """Add to a sample context the map keys ``source`` names (``fairness.race``), so evaluating it finds them."""
    from charter.policy.schema import sample

    found, _ = chains(source)
    for chain in found:
        f = schema.field(chain.root)
        if f is None:
            continue
        type_: Type = f.type
        data: Any = value.get(chain.root)
        for step in chain.steps:
            if isinstance(type_, MapOf) and isinstance(data, dict) and step.kind != "index":
                if step.name not in data:
                    data[step.name] = sample(type_.value)
                type_, data = type_.value, data[step.name]
            elif isinstance(type_, Record) and isinstance(data, dict) and type_.field(step.name) is not None:
                field = type_.field(step.name)
                assert field is not None
                type_, data = field.type, data.get(step.name)
            else:
                break


# ---- against a context (what was missing) -------------------------------------------------------


def missing_evidence(source: str, context: Mapping[str, Any]) -> str | None:
    """The first path ``source`` reads that is not in ``context``, as a sentence; None if all are there.

    Paths from a macro variable over a list are checked on every item: ``datasets[0].licence``.
    """
    found, bindings = chains(source)
    for chain in found:
        if chain.root in KEYWORDS:
            continue
        bound = [b for b in bindings if b.name == chain.root and b.position <= chain.position]
        if bound:
            over = bound[-1].over
            items = _value(over, context) if over is not None and over.root not in {b.name for b in bindings} else None
            if not isinstance(items, list) or over is None:
                continue
            for n, item in enumerate(items):
                missing = _walk(item, chain, f"{over.show()}[{n}]")
                if missing is not None:
                    return missing
            continue
        if chain.root not in context:
            return f"the context has no field {chain.root!r}"
        missing = _walk(context[chain.root], chain, chain.root)
        if missing is not None:
            return missing
    return None


def _value(chain: Chain, context: Mapping[str, Any]) -> Any:
    data: Any = context.get(chain.root)
    for step in chain.steps:
        if step.kind == "index" or not isinstance(data, dict) or step.name not in data:
            return None
        data = data[step.name]
    return data


def _walk(data: Any, chain: Chain, root: str) -> str | None:
    steps = chain.steps[:-1] if chain.in_has else chain.steps
    here = root
    for step in steps:
        if step.kind == "index":
            return None
        target = f"{here}{step.show()}"
        if data is None:
            return f"{here} is null, so {target} cannot be read"
        if not isinstance(data, dict):
            return None
        if step.name not in data:
            if not data:
                return f"{here} is empty, so {target} is missing"
            return f"{target} is missing ({here} has: {', '.join(sorted(map(str, data)))})"
        data = data[step.name]
        here = target
    return None
