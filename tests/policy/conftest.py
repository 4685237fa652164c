"""Helpers for the policy tests: write a policy file, evaluate on a context merged over the neutral base."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from charter.policy.context import merge, neutral_context
from charter.policy.document import Policy, load_policy
from charter.policy.evaluate import Decision, evaluate_policies

HEADER = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: {name}
spec:
"""


def policy_text(rules: str, *, name: str = "test-policy", spec: str = "") -> str:
    """A Policy document with the given rules (YAML list items, indented as under ``rules:``)."""
    body = textwrap.indent(textwrap.dedent(spec), "  ") if spec else ""
    return HEADER.format(name=name) + body + "  rules:\n" + textwrap.indent(textwrap.dedent(rules), "    ")


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write


@pytest.fixture
def make_policy(write_policy: Callable[..., Path]) -> Callable[..., Policy]:
    def make(rules: str, *, name: str = "test-policy", spec: str = "") -> Policy:
        return load_policy(write_policy(policy_text(rules, name=name, spec=spec), f"{name}.yaml"))

    return make


def decide(policies: list[Policy], **given: Any) -> Decision:
    return evaluate_policies(policies, merge(neutral_context(), given))
