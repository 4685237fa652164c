"""Model references as users write them: ``credit-risk``, ``credit-risk@3``, ``credit-risk:prod``."""

from __future__ import annotations

import re
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


def check_model_name(name: str) -> str:
    if not MODEL_NAME.match(name):
        raise InvalidInput(
            f"model name {name!r} is not valid: use lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 100 characters (e.g. credit-risk)"
        )
    return name


def check_alias_name(alias: str) -> str:
    if not ALIAS_NAME.match(alias):
        raise InvalidInput(
            f"alias {alias!r} is not valid: use lowercase letters, digits, '_' and '-', starting with a "
            "letter, at most 50 characters (e.g. prod, staging, shadow)"
        )
    return alias


def parse_reference(text: str) -> Reference:
    """Parse ``NAME``, ``NAME@VERSION`` or ``NAME:ALIAS``; the error says which part is wrong."""
    match = _REFERENCE.match(text.strip())
    if match is None:
        raise InvalidInput(
            f"model reference {text!r} is not valid: use NAME, NAME@VERSION or NAME:ALIAS "
            "(e.g. credit-risk, credit-risk@3, credit-risk:prod)"
        )
    model = check_model_name(match["model"])
    if match["version"] is not None:
        if not match["version"].isdigit() or int(match["version"]) < 1:
            raise InvalidInput(f"model reference {text!r}: the version must be a number from 1 up")
        return Reference(model, version=int(match["version"]))
    if match["alias"] is not None:
        return Reference(model, alias=check_alias_name(match["alias"]))
    return Reference(model)
