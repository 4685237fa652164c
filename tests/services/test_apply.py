"""Declarative apply on SQLite and PostgreSQL: plan, apply, drift, located errors, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import InvalidInput
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import apply as service
from charter.services import audit
from charter.services.context import Context, open_context
from charter.services.datasets import get_dataset
from charter.services.home import init_home
from charter.services.registry import get_model, list_models

MANIFEST = """\
apiVersion: charter.dev/v1
kind: Model
metadata:
  name: credit-risk
spec:
  task: binary_classification
  riskTier: high
  owner: alice
  tags: [finance, eu]
---
apiVersion: charter.dev/v1
kind: Dataset
metadata: {name: applicants}
spec:
  legalBasis: contract
  collectedFrom: 2025-01-01
"""


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


def write(tmp_path: Path, text: str, name: str = "gov.yaml") -> Path:
    folder = tmp_path / "governance"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def actions(context: Context, folder: Path) -> list[tuple[str, str, str]]:
    return [(c.kind, c.name, c.action) for c in service.plan(context, service.load([folder]))]


def test_plan_apply_and_then_nothing_to_do(context: Context, tmp_path: Path) -> None:
    folder = write(tmp_path, MANIFEST)
    assert actions(context, folder) == [("Model", "credit-risk", "create"), ("Dataset", "applicants", "create")]
    service.apply(context, service.load([folder]))
    model = get_model(context, "credit-risk")
    assert (model.owner, model.tags) == ("alice", ("eu", "finance"))
    assert get_dataset(context, "applicants").collected_from == "2025-01-01T00:00:00.000000Z"
    assert actions(context, folder) == [("Model", "credit-risk", "unchanged"), ("Dataset", "applicants", "unchanged")]


def test_a_change_is_planned_field_by_field_and_recorded(context: Context, tmp_path: Path) -> None:
    service.apply(context, service.load([write(tmp_path, MANIFEST)]))
    folder = write(tmp_path, MANIFEST.replace("owner: alice", "owner: bob").replace("[finance, eu]", "[eu]"))
    changes = service.plan(context, service.load([folder]))
    assert changes[0].diffs == {"owner": ("alice", "bob"), "tags": (["eu", "finance"], ["eu"])}
    service.apply(context, service.load([folder]))
    assert get_model(context, "credit-risk").tags == ("eu",)
    entry = list_entries(context.engine, EntryFilter(action="model.updated"), limit=1)[0]
    assert entry.data == {"changes": {"owner": ["alice", "bob"], "tags": [["eu", "finance"], ["eu"]]}}
    assert audit.verify_ledger(context).ok


def test_an_apply_lands_whole_or_not_at_all(context: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dataset fails after the model was written in the same transaction: neither is kept."""
    documents = service.load([write(tmp_path, MANIFEST)])
    head = audit.ledger_size(context)

    def fail(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(service.KINDS["Dataset"], "create", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        service.apply(context, documents)
    assert list_models(context) == []
    assert audit.ledger_size(context) == head
    assert audit.verify_ledger(context).ok


ERRORS = [
    ("riskTier", "riskTeir", "line 7: Model credit-risk: unknown field 'riskTeir' (known:"),
    ("riskTier: high", "riskTier: extreme", "line 7: Model credit-risk: riskTier 'extreme'"),
    ("  riskTier: high\n", "", "line 5: Model credit-risk: field 'riskTier' is required"),
    ("[finance, eu]", "finance", "line 9: Model credit-risk: tags must be a list"),
    (
        "kind: Model",
        "kind: Gizmo",
        "line 2: unknown kind 'Gizmo' (known: Model, Dataset, Policy, NotificationTarget, EscalationPolicy, Monitor)",
    ),
    ("name: credit-risk", "name: Credit Risk", "line 4: Model Credit Risk: model name 'Credit Risk' is not valid"),
    ("legalBasis: contract", "legalBasis: [x]", "line 15: Dataset applicants: legalBasis must be a string"),
    ("  owner: alice\n", "  owner: alice\n  owner: bob\n", "line 9: field 'owner' appears twice"),
]


@pytest.mark.parametrize(("old", "new", "message"), ERRORS)
def test_schema_errors_name_file_line_and_field(
    context: Context, tmp_path: Path, old: str, new: str, message: str
) -> None:
    folder = write(tmp_path, MANIFEST.replace(old, new, 1))
    with pytest.raises(InvalidInput) as caught:
        service.load([folder])
    assert f"gov.yaml {message}" in str(caught.value)
    assert list_models(context) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MANIFEST.replace("charter.dev/v1", "charter.dev/v9", 1), "line 1: apiVersion must be 'charter.dev/v1'"),
        (MANIFEST + "---\n" + MANIFEST.split("---")[0], "line 18: Model credit-risk: declared twice"),
        ("apiVersion: [unclosed\n", "line 2: not valid YAML"),
    ],
)
def test_document_errors_are_located(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        service.load([write(tmp_path, text)])


def test_empty_or_missing_manifest_folders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match=r"no YAML files"):
        service.load([tmp_path / "empty"])
    with pytest.raises(InvalidInput, match=r"does not exist"):
        service.load([tmp_path / "missing"])
