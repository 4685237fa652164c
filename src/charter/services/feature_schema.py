"""Input and output schemas of a model version: named features with a type and allowed values.

A schema is a JSON document::

    {"features": [
        {"name": "income", "type": "number", "min": 0},
        {"name": "employment", "type": "category", "categories": ["salaried", "self-employed"]},
        {"name": "age", "type": "integer", "min": 18, "max": 120}
    ]}

Types: ``number``, ``integer``, ``string``, ``boolean``, ``category``. ``min``/``max`` apply
to numbers and integers, ``categories`` to categories. Logging (#5) and monitoring (#7)
read it to type the decision lake and check ranges.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charter.errors import InvalidInput

TYPES = ("number", "integer", "string", "boolean", "category")
_KEYS = {"name", "type", "min", "max", "categories", "description"}


def load_schema_file(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} schema {path}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} line {exc.lineno}: the {what} schema is not JSON ({exc.msg})") from None
    return validate_schema(document, str(path))


def validate_schema(document: Any, where: str) -> dict[str, Any]:
    """Return the schema if it is well formed; otherwise say which feature and field is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise InvalidInput(f"{where}: a schema is an object with a 'features' list")
    unknown = set(document) - {"features", "description"}
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {sorted(unknown)} (known: description, features)")
    seen: set[str] = set()
    for index, feature in enumerate(document["features"]):
        place = f"{where}: features[{index}]"
        if not isinstance(feature, dict):
            raise InvalidInput(f"{place} must be an object")
        extra = set(feature) - _KEYS
        if extra:
            raise InvalidInput(f"{place}: unknown field(s) {sorted(extra)} (known: {', '.join(sorted(_KEYS))})")
        name = feature.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{place}: 'name' must be a non-empty string")
        if name in seen:
            raise InvalidInput(f"{place}: feature {name!r} appears twice")
        seen.add(name)
        kind = feature.get("type")
        if kind not in TYPES:
            raise InvalidInput(f"{place} ({name}): 'type' must be one of {', '.join(TYPES)}, not {kind!r}")
        _check_bounds(feature, kind, f"{place} ({name})")
    return document


def _check_bounds(feature: dict[str, Any], kind: str, place: str) -> None:
    bounds = {key: feature[key] for key in ("min", "max") if key in feature}
    if bounds and kind not in ("number", "integer"):
        raise InvalidInput(f"{place}: 'min'/'max' apply to number and integer features, not {kind}")
    for key, value in bounds.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{place}: '{key}' must be a number, not {value!r}")
    if len(bounds) == 2 and bounds["min"] > bounds["max"]:
        raise InvalidInput(f"{place}: 'min' ({bounds['min']}) is greater than 'max' ({bounds['max']})")
    if "categories" in feature:
        categories = feature["categories"]
        if kind != "category":
            raise InvalidInput(f"{place}: 'categories' applies to category features, not {kind}")
        if not isinstance(categories, list) or not categories:
            raise InvalidInput(f"{place}: 'categories' must be a non-empty list")
        if len(set(map(json.dumps, categories))) != len(categories):
            raise InvalidInput(f"{place}: 'categories' lists a value twice")
