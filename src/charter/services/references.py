"""Model references as users write them: ``credit-risk``, ``credit-risk@3``, ``credit-risk:prod``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from charter.errors import InvalidInput

MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
_REFERENCE = re.compile(r"^(?P<model>[^@:]+)(?:@(?P<version>[^@:]*)|:(?P<alias>[^@:]*))?$")


@dataclass(frozen=True)
class Reference:
    model: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.model}@{self.version}"
        if self.alias is not None:
            return f"{self.model}:{self.alias}"
        return self.model


def listed(names: list[str], shown: int = 10) -> str:
    """``a, b, c`` — at most ``shown`` names, then an ellipsis (query ``shown + 1`` to know)."""
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")


def check_name(name: str, kind: str = "model", example: str = "credit-risk") -> str:
    """Names of models and datasets: a slug, so that references like ``NAME@3`` stay unambiguous."""
    if not MODEL_NAME.match(name):
        raise InvalidInput(
            f"{kind} name {name!r} is not valid: use lowercase letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit, at most 100 characters (e.g. {example})"
        )
    return name


def check_model_name(name: str) -> str:
    return check_name(name)


def check_alias_name(alias: str) -> str:
    if not ALIAS_NAME.match(alias):
        raise InvalidInput(
            f"alias {alias!r} is not valid: use lowercase letters, digits, '_' and '-', starting with a "
            "letter, at most 50 characters (e.g. prod, staging, shadow)"
        )
    return alias


def parse_reference(text: str, *, kind: str = "model") -> Reference:
    """Parse ``NAME``, ``NAME@VERSION`` or (models only) ``NAME:ALIAS``; the error says which part is wrong."""
    example = "credit-risk, credit-risk@3, credit-risk:prod" if kind == "model" else "transactions, transactions@2"
    forms = "NAME, NAME@VERSION or NAME:ALIAS" if kind == "model" else "NAME or NAME@VERSION"
    match = _REFERENCE.match(text.strip())
    if match is None or (kind != "model" and match["alias"] is not None):
        raise InvalidInput(f"{kind} reference {text!r} is not valid: use {forms} (e.g. {example})")
    name = check_name(match["model"], kind, example.split(",")[0])
    if match["version"] is not None:
        if not match["version"].isdigit() or int(match["version"]) < 1:
            raise InvalidInput(f"{kind} reference {text!r}: the version must be a number from 1 up")
        return Reference(name, version=int(match["version"]))
    if match["alias"] is not None:
        return Reference(name, alias=check_alias_name(match["alias"]))
    return Reference(name)


def number_ranges(numbers: Sequence[int]) -> str:
    """1, 2, 3, 5 -> '1-3, 5'."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)
