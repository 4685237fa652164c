"""A gate verdict in the formats CI systems read: text, Markdown, JUnit XML and SARIF 2.1.0.

Each renderer takes the verdict as the gate service returns it (``GateResult.to_dict()``:
``ref``, ``stage``, ``decision``, ``policies``, ``counts``, ``verdicts``) and returns text,
so the CLI, the API and CI all show the same thing.

- JUnit: one test suite per policy, one test case per rule; a failing rule is a
  ``<failure>``, a rule that could not be evaluated an ``<error>``, an advisory rule's
  problem is written to ``system-out`` and does not fail the case.
- SARIF: one result per rule that did not pass, ``error`` level when it blocks, ``warning``
  otherwise; the location is the policy file and the rule's line, so code scanning shows it
  on the policy in the repository.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree import ElementTree as ET

FORMATS = ("text", "json", "junit", "sarif", "markdown")
_HEADLINE = {
    "passed": "PASSED",
    "pending_approval": "PENDING APPROVAL",
    "blocked": "BLOCKED",
}


def render(result: Mapping[str, Any], fmt: str) -> str:
    renderers: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "text": text,
        "json": lambda r: json.dumps(dict(r), indent=2, sort_keys=True, default=str),
        "junit": junit,
        "sarif": sarif,
        "markdown": markdown,
    }
    if fmt not in renderers:
        from charter.errors import InvalidInput

        raise InvalidInput(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    return renderers[fmt](result)


def _problems(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in result.get("verdicts", []) if v.get("verdict") != "pass"]


def _label(verdict: Mapping[str, Any]) -> str:
    return f"{verdict.get('policy')}/{verdict.get('rule')}"


def _effect_word(verdict: Mapping[str, Any]) -> str:
    return {"block": "BLOCKS", "approval": "NEEDS APPROVAL", "warning": "WARNS"}.get(str(verdict.get("effect")), "")


def text(result: Mapping[str, Any]) -> str:
    counts = result.get("counts", {})
    lines = [
        f"Gate {result.get('ref')} -> {result.get('stage')}: {_HEADLINE.get(str(result.get('decision')), '?')}",
        f"  policies: {', '.join(result.get('policies', [])) or 'none'}; rules passed {counts.get('pass', 0)}, "
        f"failed {counts.get('fail', 0)}, not evaluable {counts.get('error', 0)}",
    ]
    for verdict in _problems(result):
        lines.append(f"  {_effect_word(verdict)} {_label(verdict)}: {verdict.get('message')}")
        if verdict.get("verdict") == "fail" and verdict.get("check"):
            lines.append(f"      rule: {verdict.get('check')}")
        if verdict.get("references"):
            lines.append(f"      serves: {', '.join(verdict['references'])}")
    if result.get("change_request"):
        lines.append(f"  change request: {result['change_request']}")
    return "\n".join(lines) + "\n"


def markdown(result: Mapping[str, Any]) -> str:
    icon = {"passed": "✅", "pending_approval": "⏳", "blocked": "⛔"}.get(str(result.get("decision")), "")
    lines = [
        f"### {icon} Gate `{result.get('ref')}` → `{result.get('stage')}`: "
        f"{_HEADLINE.get(str(result.get('decision')), '?')}",
        "",
        f"Policies: {', '.join(f'`{p}`' for p in result.get('policies', [])) or 'none'}",
        "",
    ]
    problems = _problems(result)
    if problems:
        lines += ["| effect | rule | message | serves |", "|---|---|---|---|"]
        for v in problems:
            message = str(v.get("message", "")).replace("|", "\\|")
            lines.append(f"| {_effect_word(v)} | `{_label(v)}` | {message} | {', '.join(v.get('references', []))} |")
    else:
        lines.append("Every rule passed.")
    return "\n".join(lines) + "\n"


def junit(result: Mapping[str, Any]) -> str:
    root = ET.Element("testsuites", name=f"charter gate {result.get('ref')} -> {result.get('stage')}")
    by_policy: dict[str, list[Mapping[str, Any]]] = {}
    for verdict in result.get("verdicts", []):
        by_policy.setdefault(str(verdict.get("policy")), []).append(verdict)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for policy, verdicts in by_policy.items():
        failures = sum(1 for v in verdicts if v.get("verdict") == "fail" and not v.get("advisory"))
        errors = sum(1 for v in verdicts if v.get("verdict") == "error" and not v.get("advisory"))
        suite = ET.SubElement(root, "testsuite", name=policy, tests=str(len(verdicts)), failures=str(failures),
                              errors=str(errors))  # fmt: skip
        for key, value in (("tests", len(verdicts)), ("failures", failures), ("errors", errors)):
            totals[key] += value
        for verdict in verdicts:
            case = ET.SubElement(suite, "testcase", classname=f"charter.policy.{policy}", name=str(verdict.get("rule")))
            if verdict.get("file"):
                case.set("file", str(verdict["file"]))
                case.set("line", str(verdict.get("line", 0)))
            status = verdict.get("verdict")
            if status == "pass":
                continue
            body = f"{verdict.get('message')}\nrule: {verdict.get('check')}\nreason: {verdict.get('reason')}"
            if verdict.get("advisory"):
                ET.SubElement(case, "system-out").text = "advisory: " + body
            else:
                tag = "failure" if status == "fail" else "error"
                ET.SubElement(
                    case, tag, message=str(verdict.get("message")), type=str(verdict.get("action"))
                ).text = body
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def sarif(result: Mapping[str, Any]) -> str:
    problems = _problems(result)
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for verdict in problems:
        rule_id = _label(verdict)
        rules.setdefault(rule_id, {
            "id": rule_id,
            "name": str(verdict.get("rule")),
            "shortDescription": {"text": str(verdict.get("check") or verdict.get("rule"))},
            "properties": {"severity": verdict.get("severity"), "references": list(verdict.get("references", []))},
        })  # fmt: skip
        entry: dict[str, Any] = {
            "ruleId": rule_id,
            "level": "error" if verdict.get("effect") == "block" else "warning",
            "message": {"text": f"{result.get('ref')} -> {result.get('stage')}: {verdict.get('message')}"},
            "properties": {"verdict": verdict.get("verdict"), "action": verdict.get("action")},
        }
        if verdict.get("file"):
            entry["locations"] = [{
                "physicalLocation": {
                    "artifactLocation": {"uri": str(verdict["file"])},
                    "region": {"startLine": max(int(verdict.get("line") or 1), 1)},
                }
            }]  # fmt: skip
        results.append(entry)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "charter-gate", "informationUri": "https://charter.dev",
                                "rules": list(rules.values())}},
            "results": results,
            "properties": {"ref": result.get("ref"), "stage": result.get("stage"), "decision": result.get("decision")},
        }],
    }  # fmt: skip
    return json.dumps(document, indent=2) + "\n"
