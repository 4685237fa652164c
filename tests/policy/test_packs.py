"""The built-in packs: listed, loadable, lint-clean, and every pack's cases pass and cover every rule."""

from __future__ import annotations

import pytest

from charter.errors import PolicyPackNotFound
from charter.policy.lint import lint_paths
from charter.policy.packs import PACKS_DIR, list_packs, load_pack, pack_names
from charter.policy.testing import _read_cases, run_folder

PACKS = ["baseline", "data-governance", "eu-ai-act-high-risk", "fairness", "nist-ai-rmf"]


def test_the_packs_are_listed() -> None:
    assert pack_names() == PACKS
    assert [pack.name for pack in list_packs()] == PACKS
    assert load_pack("eu-ai-act-high-risk").policy.applies_to.risk_tier == ("high",)


def test_an_unknown_pack_names_the_packs() -> None:
    with pytest.raises(PolicyPackNotFound) as caught:
        load_pack("fairnes")
    assert str(caught.value) == f"no policy pack 'fairnes' (packs: {', '.join(PACKS)})"
    assert caught.value.code == "policy.pack_not_found"


def test_the_packs_are_lint_clean() -> None:
    assert lint_paths([PACKS_DIR]) == []


@pytest.mark.parametrize("name", PACKS)
def test_every_case_of_the_pack_passes(name: str) -> None:
    results = run_folder(PACKS_DIR / name, label=f"packs/{name}")
    assert results
    failing = [f"{r.file}:{r.line}: {r.case}: {r.failures}" for r in results if not r.passed]
    assert failing == []


@pytest.mark.parametrize("name", PACKS)
def test_the_cases_cover_pass_fail_and_missing_evidence_for_every_rule(name: str) -> None:
    policy = load_pack(name).policy
    _, cases, _ = _read_cases(PACKS_DIR / name / "cases.yaml", name)
    covered: dict[str, set[str]] = {rule.name: set() for rule in policy.rules}
    for case in cases:
        for rule, wanted in case["expect"].get("rules", {}).items():
            covered[rule].add(wanted if isinstance(wanted, str) else wanted["verdict"])
    assert {rule: verdicts for rule, verdicts in covered.items() if verdicts != {"pass", "fail", "error"}} == {}


@pytest.mark.parametrize(
    ("name", "prefix"), [("eu-ai-act-high-risk", "EU AI Act Art. "), ("nist-ai-rmf", "NIST AI RMF ")]
)
def test_every_rule_of_the_framework_packs_cites_its_source(name: str, prefix: str) -> None:
    for rule in load_pack(name).policy.rules:
        assert rule.references and rule.references[0].startswith(prefix), rule.name


def test_the_eu_pack_cites_the_articles_of_the_high_risk_obligations() -> None:
    cited = {ref for rule in load_pack("eu-ai-act-high-risk").policy.rules for ref in rule.references}
    for article in ("Art. 9", "Art. 10", "Art. 11", "Annex IV", "Art. 12", "Art. 13", "Art. 14", "Art. 15"):
        assert f"EU AI Act {article}" in cited


def test_the_nist_pack_covers_all_four_functions() -> None:
    cited = " ".join(ref for rule in load_pack("nist-ai-rmf").policy.rules for ref in rule.references)
    for function in ("GOVERN", "MAP", "MEASURE", "MANAGE"):
        assert f"NIST AI RMF {function} " in cited


def test_the_baseline_regression_rule_uses_has_for_the_missing_champion() -> None:
    rule = load_pack("baseline").policy.rule("no-regression")
    assert rule is not None and rule.source.startswith("!has(champion.metrics) ||")
