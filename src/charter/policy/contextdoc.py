"""Render the reference of the evaluation context (``docs/policy-context.md``) from its declarations.

Run ``python -m charter.policy.contextdoc [PATH]`` to write it (default ``docs/policy-context.md``);
a test fails when the committed file differs from what this renders.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from charter.policy.context import CONTEXT_VERSION, SCHEMA, neutral_context
from charter.policy.schema import MapOf, Record, walk

DEFAULT_PATH = Path("docs/policy-context.md")


def render_reference() -> str:
    lines = [
        f"# The policy evaluation context (`{CONTEXT_VERSION}`)",
        "",
        "<!-- Generated from src/charter/policy/context.py by `python -m charter.policy.contextdoc`; "
        "do not edit by hand. -->",
        "",
        "This is everything a policy rule can read when a gate evaluates a model version: the CEL",
        "variables of a rule's `expr` and of `{{ ... }}` in its message, and `input` of a Rego query.",
        "See [policy.md](policy.md) for the policy format.",
        "",
        "- A path `a.<name>.b` is a map whose keys come from the data (metric names, protected",
        "  attributes); `a[].b` is a field of each item of a list.",
        "- Numbers are doubles (`0.8`, never compared as integers); integers are counts and version",
        "  numbers. Timestamps are UTC; compare them with `now` and `duration('720h')`.",
        "- Evidence that may not exist yet (`evaluation`, `champion`) is `{}` until it does: test for",
        "  it with `has(champion.metrics)`. Reading a field that is not there is an evaluation error,",
        "  which fails the gate closed unless the rule is advisory.",
        "- Metrics hold only what was measured. `charter policy lint` checks dotted names against the",
        "  known metric names below; read a metric of your own by index, `evaluation.metrics['my_metric']`.",
        "",
        "## Fields",
        "",
        "| field | type | description | example |",
        "|---|---|---|---|",
    ]
    for path, type_, field in walk(SCHEMA, ""):
        description = field.description if field is not None else _key_description(path)
        example = "" if field is None or field.example is None else f"`{_literal(field.example)}`"
        lines.append(f"| `{path}` | {_type_text(type_)} | {description} | {example} |")
    lines += ["", "## Known names", ""]
    for path, type_, _ in walk(SCHEMA, ""):
        if isinstance(type_, MapOf) and type_.known and not path.endswith(">"):
            names = ", ".join(f"`{name}`" for name in type_.known)
            lines.append(f"- `{path}.<{type_.key}>`: {names}")
    lines += [
        "",
        "## The neutral base of policy test cases",
        "",
        "A case's `input` in `cases.yaml` is merged over this context (a version with no evidence at",
        "all): mappings merge key by key, anything else (lists, scalars, null) replaces the base value.",
        "",
        "```yaml",
        yaml.safe_dump(_plain(neutral_context()), sort_keys=False, default_flow_style=False).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def _type_text(type_: Any) -> str:
    if isinstance(type_, Record):
        return type_.describe()
    text: str = type_.describe()
    return text.replace("|", "\\|")


def _key_description(path: str) -> str:
    placeholder = path.rsplit(".", 1)[-1]
    return f"One entry per {placeholder.strip('<>')}."


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return f"timestamp('{value.strftime('%Y-%m-%dT%H:%M:%SZ')}')"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    path.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
