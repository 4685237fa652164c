"""Datasets on SQLite and PostgreSQL: provenance, versions, classification, quality, certification."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from charter.clock import FixedClock, format_timestamp
from charter.config import Settings
from charter.errors import Conflict, Forbidden, InvalidInput, NotFound
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import access, approvals, audit
from charter.services.context import Context, open_context
from charter.services.datasets import (
    DatasetSpec,
    add_dataset_version,
    certify,
    classify,
    get_dataset,
    list_dataset_versions,
    list_datasets,
    propose_certification,
    register_dataset,
    resolve_dataset_version,
    revoke_certification,
)
from charter.services.home import init_home
from charter.services.profiles import profiled

APPLICANTS = """name,email,sex,age,income,country
Ada Lovelace,ada@example.org,F,36,52000,UK
Alan Turing,alan@example.org,M,41,,UK
Grace Hopper,grace@example.com,F,85,61000,UK
Edsger Dijkstra,edsger@example.net,M,72,58000,UK
Barbara Liskov,barbara@example.edu,F,84,70000,UK
Barbara Liskov,barbara@example.edu,F,84,70000,UK
"""


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


@pytest.fixture
def applicants(tmp_path: Path) -> Path:
    path = tmp_path / "applicants.csv"
    path.write_text(APPLICANTS)
    return path


def register(context: Context, **overrides: str) -> None:
    spec = {"name": "applicants", "owner": "alice", "source_uri": "s3://raw/applicants", "legal_basis": "contract"}
    register_dataset(context, DatasetSpec(**{**spec, **overrides}))


def test_a_dataset_with_provenance(context: Context) -> None:
    register(context, licence="internal", collected_from="2025-01-01", collected_to="2025-06-30")
    dataset = get_dataset(context, "applicants")
    assert (dataset.owner, dataset.legal_basis, dataset.licence) == ("alice", "contract", "internal")
    assert (dataset.collected_from, dataset.collected_to) == (
        "2025-01-01T00:00:00.000000Z",
        "2025-06-30T00:00:00.000000Z",
    )
    assert [d.name for d in list_datasets(context)] == ["applicants"]


def test_a_version_is_fingerprinted_checked_and_classified(context: Context, applicants: Path) -> None:
    register(context)
    version = add_dataset_version(context, "applicants", applicants)
    assert version.ref == "applicants@1"
    assert version.sha256 == hashlib.sha256(APPLICANTS.encode()).hexdigest()
    assert version.row_count == 6
    assert [c["name"] for c in version.schema] == ["name", "email", "sex", "age", "income", "country"]
    by_name = {c.name: c for c in version.columns}
    assert by_name["email"].pii_category == "email"
    assert by_name["name"].pii_category == "name"
    assert by_name["sex"].protected and by_name["age"].protected
    assert not by_name["income"].protected and by_name["income"].pii_category is None
    assert version.quality["duplicate_rows"] == 1
    assert any("country" in issue and "constant" in issue for issue in version.quality["issues"])
    assert version.profile is not None
    assert version.profile["skipped"] == {"name": "personal data (name)", "email": "personal data (email)"}
    profile = profiled(version.profile)
    assert profile is not None and profile.rows == 6
    assert {name: column.kind for name, column in profile.columns.items()} == {
        "sex": "categorical",
        "age": "numeric",
        "income": "numeric",
        "country": "categorical",
    }
    assert version.to_dict()["profile"]["columns"]["age"] == "numeric"
    window = profile.summarise({"sex": ["F", "M"], "age": [30, 41], "income": [1.0, 2.0], "country": ["UK", "FR"]})
    assert window.rows == 2
    entry = list_entries(context.engine, EntryFilter(action="dataset.version_registered"), limit=1)[0]
    assert entry.data["pii"] == {"name": "name", "email": "email"}
    assert entry.data["row_count"] == 6


def test_the_same_content_twice_is_refused(context: Context, applicants: Path) -> None:
    register(context)
    add_dataset_version(context, "applicants", applicants)
    with pytest.raises(Conflict, match=r"applicants@1 already has this content"):
        add_dataset_version(context, "applicants", applicants)
    assert len(list_dataset_versions(context, "applicants")) == 1


def test_a_user_corrects_a_classification_and_it_is_recorded(context: Context, applicants: Path) -> None:
    register(context)
    add_dataset_version(context, "applicants", applicants)
    info = classify(context, "applicants@1", "country", protected=True)
    assert (info.protected, info.sensitivity, info.classified_by) == (True, "confidential", "user")
    info = classify(context, "applicants@1", "name", clear_pii=True)
    assert info.pii_category is None
    columns = {c.name: c for c in resolve_dataset_version(context, "applicants@1").columns}
    assert columns["country"].protected
    assert columns["name"].pii_category is None
    entry = list_entries(context.engine, EntryFilter(action="dataset.column_classified"), limit=1)[0]
    assert entry.data["before"]["pii_category"] == "name"
    assert entry.data["after"]["pii_category"] is None


def test_only_a_risk_officer_certifies(context: Context, applicants: Path, clock: FixedClock) -> None:
    register(context)
    add_dataset_version(context, "applicants", applicants)
    head = audit.ledger_size(context)
    with pytest.raises(Forbidden) as refused:
        certify(context, "applicants@1", purpose="credit scoring", expires=clock.now() + timedelta(days=30))
    assert str(refused.value) == (
        "certifying a dataset version needs the role risk-officer; user:tester has admin "
        "(an admin grants it with `charter role grant user:tester risk-officer`)"
    )
    assert refused.value.code == "auth.forbidden"
    assert audit.ledger_size(context) == head
    assert resolve_dataset_version(context, "applicants@1").certifications == ()
    access.grant(context, "user:tester", "risk-officer", reason="data steward for credit")
    cert = certify(context, "applicants@1", purpose="credit scoring", expires=clock.now() + timedelta(days=30))
    [entry] = list_entries(context.engine, EntryFilter(action="dataset.certified"))
    assert entry.data["role"] == "risk-officer" and entry.actor == "user:tester"
    access.revoke(context, "user:tester", "risk-officer")
    with pytest.raises(Forbidden, match=r"revoking a dataset certification needs the role risk-officer"):
        revoke_certification(context, cert.id, reason="mislabelled")


def test_certification_expires_and_can_be_revoked(context: Context, applicants: Path, clock: FixedClock) -> None:
    register(context)
    add_dataset_version(context, "applicants", applicants)
    access.grant(context, "user:tester", "risk-officer")
    assert resolve_dataset_version(context, "applicants").certification_state(clock.now()) == "uncertified"
    cert = certify(context, "applicants@1", purpose="credit scoring", expires=clock.now() + timedelta(days=30))
    assert resolve_dataset_version(context, "applicants@1").certification_state(clock.now()) == "certified"
    clock.advance(timedelta(days=31))
    assert resolve_dataset_version(context, "applicants@1").certification_state(clock.now()) == "expired"
    revoked = revoke_certification(context, cert.id, reason="mislabelled rows found")
    assert revoked.revoked_by == "user:tester"
    assert resolve_dataset_version(context, "applicants@1").certification_state(clock.now()) == "revoked"
    with pytest.raises(Conflict, match=r"was already revoked"):
        revoke_certification(context, cert.id, reason="again")
    assert audit.verify_ledger(context).ok


def test_a_certification_under_approval(context: Context, applicants: Path, clock: FixedClock) -> None:
    """A data engineer asks; a risk-officer approves; the same call records it, certified by the approver."""
    register(context)
    add_dataset_version(context, "applicants", applicants)
    access.grant(context, "local:rita", "risk-officer")
    engineer = dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor="local:eng"))
    rita = dataclasses.replace(context, settings=dataclasses.replace(context.settings, actor="local:rita"))
    ask = {"purpose": "credit scoring", "valid_days": 90, "note": "checked for leakage"}
    with pytest.raises(InvalidInput, match=r"a change request needs a justification"):
        propose_certification(engineer, "applicants@1", **ask)
    with pytest.raises(InvalidInput, match=r"as a number of days or as an expiry time, not both"):
        propose_certification(engineer, "applicants@1", **ask, expires=clock.now() + timedelta(days=9))
    with pytest.raises(InvalidInput, match=r"valid for 1 to 3650 days, not 0"):
        propose_certification(engineer, "applicants@1", **{**ask, "valid_days": 0}, justification="x")
    asked = propose_certification(engineer, "applicants@1", **ask, justification="training data for v3")
    request = asked.request
    assert (asked.status, request.kind, request.subject) == ("pending_approval", "dataset_certification",
                                                             "dataset:applicants")  # fmt: skip
    version = resolve_dataset_version(context, "applicants@1")
    assert request.payload == {
        "dataset": "applicants", "version": 1, "sha256": version.sha256, "purpose": "credit scoring",
        "note": "checked for leakage", "valid_days": 90,
    }  # fmt: skip
    assert version.certifications == ()
    approvals.approve(rita, request.id, justification="reviewed the profile")
    clock.advance(timedelta(days=2))
    done = propose_certification(engineer, "applicants@1", **ask)
    cert = done.certification
    assert done.status == "applied" and done.request.state == "executed" and cert is not None
    assert (cert.certified_by, cert.expires_at) == ("local:rita", format_timestamp(clock.now() + timedelta(days=90)))
    assert resolve_dataset_version(context, "applicants@1").certification_state(clock.now()) == "certified"
    [entry] = list_entries(context.engine, EntryFilter(action="dataset.certified"))
    assert (entry.actor, entry.data["role"], entry.data["change_request"]) == ("local:eng", "risk-officer", request.id)
    again = propose_certification(engineer, "applicants@1", **ask, justification="renew")
    assert again.status == "pending_approval" and again.request.id != request.id  # executed: a new request
    assert audit.verify_ledger(context).ok


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: register(c, name="Bad Name"), InvalidInput, "dataset name 'Bad Name' is not valid"),
        (lambda c: register(c, legal_basis="because"), InvalidInput, "dataset applicants: legal basis 'because'"),
        (lambda c: register(c, collected_from="yesterday"), InvalidInput, "dataset applicants: collected_from"),
        (
            lambda c: register(c, collected_from="2025-02-01", collected_to="2025-01-01"),
            InvalidInput,
            "dataset applicants: the collection period ends before it starts",
        ),
        (lambda c: resolve_dataset_version(c, "nope"), NotFound, "no dataset 'nope' (no datasets yet"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    context: Context, call: object, error: type[Exception], message: str
) -> None:
    head = audit.ledger_size(context)
    with pytest.raises(error) as caught:
        call(context)  # type: ignore[operator]
    assert str(caught.value).startswith(message)
    assert audit.ledger_size(context) == head


def test_bad_versions_and_classifications(
    context: Context, applicants: Path, tmp_path: Path, clock: FixedClock
) -> None:
    register(context)
    with pytest.raises(NotFound, match=r"applicants has no versions yet"):
        resolve_dataset_version(context, "applicants")
    add_dataset_version(context, "applicants", applicants)
    with pytest.raises(NotFound, match=r"applicants has no version 4 \(versions: 1\)"):
        resolve_dataset_version(context, "applicants@4")
    with pytest.raises(NotFound, match=r"applicants@1 has no column 'salary' \(columns: name, email"):
        classify(context, "applicants@1", "salary", protected=True)
    with pytest.raises(InvalidInput, match=r"PII category 'dna' is not one of"):
        classify(context, "applicants@1", "name", pii_category="dna")
    access.grant(context, "user:tester", "risk-officer")
    with pytest.raises(InvalidInput, match=r"is not in the future"):
        certify(context, "applicants@1", purpose="x", expires=clock.now())
    with pytest.raises(InvalidInput, match=r"needs a purpose"):
        certify(context, "applicants@1", purpose=" ", expires=clock.now() + timedelta(days=1))
    with pytest.raises(InvalidInput, match=r"dataset reference 'applicants:prod' is not valid"):
        resolve_dataset_version(context, "applicants:prod")
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,2\n3,4,5\n")
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput, match=str(broken)):
        add_dataset_version(context, "applicants", broken)
    assert audit.ledger_size(context) == head


def test_dataset_listings_page(context: Context) -> None:
    for name in ("a", "b", "c"):
        register_dataset(context, DatasetSpec(name=name))
    assert [d.name for d in list_datasets(context, limit=2)] == ["a", "b"]
    assert [d.name for d in list_datasets(context, limit=2, offset=2)] == ["c"]


def test_a_data_frame_is_registered_like_its_file(context: Context, applicants: Path) -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from charter.services.datasets import add_dataset_frame

    register(context)
    from_file = add_dataset_version(context, "applicants", applicants)
    frame = pd.read_csv(applicants)
    version = add_dataset_frame(context, "applicants", frame, origin={"notebook": "eda.ipynb"})
    assert (version.ref, version.format, version.row_count) == ("applicants@2", "arrow", 6)
    assert version.uri == f"frame:sha256:{version.sha256}"
    assert version.origin == {"kind": "frame", "notebook": "eda.ipynb"}
    assert [c.pii_category for c in version.columns] == [c.pii_category for c in from_file.columns]
    assert [c.protected for c in version.columns] == [c.protected for c in from_file.columns]
    assert version.quality["duplicate_rows"] == from_file.quality["duplicate_rows"] == 1
    assert version.profile is not None and version.profile["columns"].keys() == from_file.profile["columns"].keys()
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    same = {"pandas": frame, "arrow": arrow, "batches": pa.Table.from_batches(arrow.to_batches(max_chunksize=2)),
            "polars": pl.from_pandas(frame), "record batch": arrow.combine_chunks().to_batches()[0]}  # fmt: skip
    head = audit.ledger_size(context)
    for kind, data in same.items():
        with pytest.raises(Conflict, match=r"applicants@2 already has this content"):
            add_dataset_frame(context, "applicants", data)
        assert audit.ledger_size(context) == head, kind
    stored = add_dataset_frame(context, "applicants", frame.head(3), uri="s3://lake/applicants/sample")
    assert (stored.ref, stored.uri, stored.row_count) == ("applicants@3", "s3://lake/applicants/sample", 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            [1, 2, 3],
            "dataset applicants: expected a pyarrow Table or RecordBatch, or a pandas or Polars DataFrame, not list",
        ),
        ("pandas-empty", "dataset applicants is empty: it has no columns"),
        ("pandas-mixed", "dataset applicants: a column of this DataFrame cannot be stored as Arrow"),
    ],
)
def test_bad_frames_are_refused_and_nothing_is_written(context: Context, data: object, message: str) -> None:
    import pandas as pd

    from charter.services.datasets import add_dataset_frame

    register(context)
    frames = {"pandas-empty": pd.DataFrame(), "pandas-mixed": pd.DataFrame({"a": [1, "x", 2.5]})}
    head = audit.ledger_size(context)
    with pytest.raises(InvalidInput) as caught:
        add_dataset_frame(context, "applicants", frames.get(data, data) if isinstance(data, str) else data)
    assert str(caught.value).startswith(message)
    assert audit.ledger_size(context) == head
