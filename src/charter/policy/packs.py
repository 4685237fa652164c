"""The policy packs shipped with Charter: ``packs/<pack>/<pack>.yaml`` with ``cases.yaml`` beside it.

=====================  ==================================================================
pack                   what it checks
=====================  ==================================================================
baseline               metrics against thresholds; no regression against the champion
fairness               the four-fifths rule; equalized odds difference within 0.1
data-governance        training data certified and unexpired, PII classified, legal basis
eu-ai-act-high-risk    EU AI Act obligations of high-risk systems (Art. 9-15), cited
nist-ai-rmf            NIST AI RMF 1.0 subcategories (GOVERN, MAP, MEASURE, MANAGE), cited
=====================  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.errors import PolicyPackNotFound
from charter.policy.document import Policy, load_policy

PACKS_DIR = Path(__file__).resolve().parent / "packs"


@dataclass(frozen=True)
class Pack:
    name: str
    folder: Path
    policy: Policy

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.policy.description,
            "appliesTo": self.policy.applies_to.to_dict(),
            "rules": [
                {
                    "name": rule.name,
                    "action": rule.action,
                    "severity": rule.severity,
                    "advisory": rule.advisory,
                    "check": rule.source,
                    "references": list(rule.references),
                }
                for rule in self.policy.rules
            ],
        }


def pack_names(root: Path = PACKS_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / f"{p.name}.yaml").is_file())


def pack_folder(name: str, root: Path = PACKS_DIR) -> Path:
    names = pack_names(root)
    if name not in names:
        raise PolicyPackNotFound(f"no policy pack {name!r} (packs: {', '.join(names)})")
    return root / name


def load_pack(name: str, root: Path = PACKS_DIR) -> Pack:
    """A built-in pack, its policy compiled; PolicyPackNotFound names the packs that exist."""
    folder = pack_folder(name, root)
    policy = load_policy(folder / f"{name}.yaml", label=f"packs/{name}/{name}.yaml")
    return Pack(name, folder, policy)


def list_packs(root: Path = PACKS_DIR) -> list[Pack]:
    """Every built-in pack, by name."""
    return [load_pack(name, root) for name in pack_names(root)]
