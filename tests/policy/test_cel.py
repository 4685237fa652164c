"""CEL expressions, message templates, and the field paths an expression reads."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from charter.policy.cel import Environment, compile_expression, compile_template, format_value
from charter.policy.context import SCHEMA
from charter.policy.paths import chains, missing_evidence, schema_problems


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.79123, "0.7912"),
        (0.8, "0.8"),
        (1.0, "1"),
        (1234.5, "1234.5"),
        (0.00001234, "1.234e-05"),
        (3, "3"),
        (True, "true"),
        (None, "null"),
        (["sex", "age"], "sex, age"),
        ([], "none"),
        ({"b": 0.5, "a": True}, "a=true, b=0.5"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        ("text", "text"),
    ],
)
def test_values_in_messages(value: object, shown: str) -> None:
    assert format_value(value) == shown


def test_templates_fill_placeholders_and_mark_what_cannot_be_computed() -> None:
    template = compile_template("AUC {{ evaluation.metrics.roc_auc }} vs {{champion.metrics.roc_auc}}; {{ 1 + 1 }}")
    env = Environment({"evaluation": {"metrics": {"roc_auc": 0.7}}, "champion": {}})
    assert template.render(env) == "AUC 0.7 vs n/a; 2"
    assert compile_template("no placeholders").render(env) == "no placeholders"


def test_a_bad_placeholder_is_refused_with_the_placeholder() -> None:
    with pytest.raises(ValueError, match=r"^placeholder \{\{ 1 \+ \}\}: Syntax error"):
        compile_template("x {{ 1 + }}")


def test_compile_refuses_empty_and_malformed_expressions() -> None:
    with pytest.raises(ValueError, match="the expression is empty"):
        compile_expression("  ")
    with pytest.raises(ValueError, match=r"Syntax error: .* \(at column 4 of the expression\)"):
        compile_expression("a >")


def test_the_extended_library_is_available() -> None:
    env = Environment({"x": -0.2, "names": ["b", "a"]})
    assert compile_expression("math.abs(x) <= 0.2 && names.sort() == ['a', 'b']").check(env).status == "pass"


def test_importing_cel_leaves_its_command_line_tool_unloaded() -> None:
    assert "prompt_toolkit" not in sys.modules or "cel.cli" in sys.modules


def test_chains_follow_fields_keys_and_macro_variables() -> None:
    found, bindings = chains(
        "has(champion.metrics) && evaluation.metrics['x'] > 0.5 && "
        "datasets.filter(d, d.role == 'training').all(e, e.certified) && fairness[k].disparate_impact > 0.1 "
        "&& math.abs(y) < 1.0 && size(approvals) > 0"
    )
    shown = [(c.show(), c.in_has) for c in found]
    assert ("champion.metrics", True) in shown
    assert ("evaluation.metrics['x']", False) in shown
    assert ("d.role", False) in shown and ("e.certified", False) in shown
    assert ("fairness[].disparate_impact", False) in shown
    assert not any(name.startswith(("math", "has", "size")) for name, _ in shown)
    assert [(b.name, b.over.show() if b.over else None) for b in bindings] == [("d", "datasets"), ("e", "datasets")]


@pytest.mark.parametrize(
    ("expr", "problems"),
    [
        ("evaluation.metrics.roc_auc > 0.5 && evaluation.metrics['custom'] > 0.5", []),
        ("evaluation.slices.age_band['18-25'].roc_auc > 0.5", []),
        ("evaluation.metrics.auc > 0.5", ["unknown field 'evaluation.metrics.auc' (known: accuracy, brier, ece, "]),
        ("stage.x == 1", ["'stage' is a string and has no field 'x'"]),
        ("approvals.role == 'x'", ["'approvals' is a list and has no field 'role'"]),
        (
            "approvals.exists(a, a.rol == 'x')",
            ["unknown field 'approvals[].rol' (known: at, decision, principal, role)"],
        ),
        ("fairness.all(a, fairness[a].di > 0.8)", ["unknown field 'fairness.<attribute>.di' (known: average_odds_"]),
        ("evalution.metrics", ["unknown field 'evalution' (known: approvals, champion, context_version, "]),
        (
            "evaluation.suites.all(s, evaluation.suites[s].passd > 0)",
            ["unknown field 'evaluation.suites.<suite>.passd'"],
        ),
        ("'evaluation.metrics.auc' == 'x'", []),
    ],
)
def test_schema_problems(expr: str, problems: list[str]) -> None:
    found = schema_problems(expr, SCHEMA)
    assert len(found) == len(problems)
    for message, start in zip(found, problems, strict=True):
        assert message.startswith(start)


@pytest.mark.parametrize(
    ("expr", "context", "missing"),
    [
        ("champion.metrics.roc_auc > 0.5", {"champion": {}}, "champion is empty, so champion.metrics is missing"),
        ("has(champion.metrics)", {"champion": {}}, None),
        ("has(champion.metrics.x)", {"champion": {}}, "champion is empty, so champion.metrics is missing"),
        ("a.b.c", {"a": {"b": None}}, "a.b is null, so a.b.c cannot be read"),
        ("a.b", {"a": {"c": 1, "d": 2}}, "a.b is missing (a has: c, d)"),
        ("xs.all(x, x.k)", {"xs": [{"k": 1}, {"j": 2}]}, "xs[1].k is missing (xs[1] has: j)"),
        ("a.b == 1", {"a": {"b": 1}}, None),
    ],
)
def test_missing_evidence_names_the_path(expr: str, context: dict[str, object], missing: str | None) -> None:
    assert missing_evidence(expr, context) == missing
