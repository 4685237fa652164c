"""REST API: datasets from files on the server, classification, certification, and lineage."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from tests.server.conftest import auth

CSV = "customer_id,email,age,sex,income,label\n" + "".join(
    f"{i},user{i}@example.com,{20 + i % 50},{'F' if i % 2 else 'M'},{1000 + 37 * i},{i % 3 == 0}\n" for i in range(60)
)
DATASET = {"name": "transactions", "owner": "data-team", "source_uri": "s3://raw/tx", "licence": "internal",
           "collected_from": "2025-01-01", "collected_to": "2025-06-30", "legal_basis": "contract"}  # fmt: skip


def call(server: dict[str, Any], role: str, method: str, path: str, **options: Any) -> httpx.Response:
    return server["client"].request(method, f"/api/v1{path}", headers=auth(server["tokens"][role]), **options)


def dataset_version(server: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    data = tmp_path / "transactions.csv"
    data.write_text(CSV)
    assert call(server, "developer", "POST", "/datasets", json=DATASET).status_code == 201
    added = call(server, "developer", "POST", "/datasets/transactions/versions", json={"path": str(data)})
    assert added.status_code == 201, added.text
    return dict(added.json())


def test_a_dataset_version_is_read_from_a_file_on_the_server(server: dict[str, Any], tmp_path: Path) -> None:
    version = dataset_version(server, tmp_path)
    assert (version["ref"], version["row_count"], version["format"], version["creator"]) == (
        "transactions@1", 60, "csv", "svc:developer",
    )  # fmt: skip
    assert version["sha256"] == hashlib.sha256(CSV.encode()).hexdigest()
    assert [c["name"] for c in version["schema"]] == ["customer_id", "email", "age", "sex", "income", "label"]
    columns = {c["name"]: c for c in version["columns"]}
    assert columns["email"]["pii_category"] == "email" and columns["sex"]["protected"] is True
    assert version["certification"] == "uncertified" and version["certifications"] == []
    shown = call(server, "viewer", "GET", "/datasets/transactions").json()
    assert (shown["legal_basis"], shown["collected_from"], shown["versions"]) == (
        "contract", "2025-01-01T00:00:00.000000Z", 1,
    )  # fmt: skip
    assert call(server, "viewer", "GET", "/datasets").json()["items"][0]["name"] == "transactions"
    assert call(server, "viewer", "GET", "/datasets/transactions/versions/1").json()["sha256"] == version["sha256"]
    assert [v["version"] for v in call(server, "viewer", "GET", "/datasets/transactions/versions").json()["items"]] == [
        1
    ]
    missing = call(server, "developer", "POST", "/datasets/transactions/versions", json={"path": "/nowhere.csv"})
    assert missing.status_code == 400 and "/nowhere.csv" in missing.json()["message"]
    wrong = call(server, "developer", "POST", "/datasets", json={**DATASET, "name": "x", "legal_basis": "vibes"})
    assert wrong.status_code == 400 and "legal basis 'vibes' is not one of consent" in wrong.json()["message"]


def test_columns_are_classified_and_versions_certified(server: dict[str, Any], tmp_path: Path) -> None:
    dataset_version(server, tmp_path)
    path = "/datasets/transactions/versions/1/columns/income"
    changed = call(server, "developer", "PATCH", path, json={"pii_category": "free_text", "sensitivity": "restricted"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["pii_category"], changed.json()["sensitivity"], changed.json()["classified_by"]) == (
        "free_text", "restricted", "user",
    )  # fmt: skip
    nothing = call(server, "developer", "PATCH", "/datasets/transactions/versions/1/columns/salary", json={})
    assert nothing.status_code == 404 and nothing.json()["message"].startswith("transactions@1 has no column 'salary'")
    certification = {"purpose": "credit scoring", "expires_at": "2099-01-01T00:00:00Z", "note": "reviewed"}
    refused = call(server, "developer", "POST", "/datasets/transactions/versions/1/certifications", json=certification)
    assert refused.status_code == 403
    certified = call(server, "risk-officer", "POST", "/datasets/transactions/versions/1/certifications",
                     json=certification)  # fmt: skip
    assert certified.status_code == 201, certified.text
    cert = certified.json()
    assert (cert["purpose"], cert["certified_by"], cert["expires_at"]) == (
        "credit scoring", "svc:risk-officer", "2099-01-01T00:00:00.000000Z",
    )  # fmt: skip
    assert call(server, "viewer", "GET", "/datasets/transactions/versions/1").json()["certification"] == "certified"
    naive = call(server, "risk-officer", "POST", "/datasets/transactions/versions/1/certifications",
                 json={**certification, "expires_at": "2099-01-01T00:00:00"})  # fmt: skip
    assert naive.status_code == 422 and naive.json()["message"].startswith(
        "body.expires_at: Input should have timezone"
    )
    revoked = call(server, "risk-officer", "POST", f"/certifications/{cert['id']}/revoke", json={"reason": "bad rows"})
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "svc:risk-officer"
    assert call(server, "viewer", "GET", "/datasets/transactions/versions/1").json()["certification"] == "revoked"
    twice = call(server, "risk-officer", "POST", f"/certifications/{cert['id']}/revoke", json={"reason": "again"})
    assert twice.status_code == 409


def test_lineage_upstream_and_impact(server: dict[str, Any], tmp_path: Path) -> None:
    dataset_version(server, tmp_path)
    features = tmp_path / "features.csv"
    features.write_text("age,income\n30,1200\n41,3100\n")
    call(server, "developer", "POST", "/datasets", json={"name": "features"})
    call(server, "developer", "POST", "/datasets/features/versions", json={"path": str(features)})
    derived = call(server, "developer", "POST", "/lineage/edges",
                   json={"source": "transactions@1", "to_dataset": "features@1", "transform": "select",
                         "code_ref": "git:abc"})  # fmt: skip
    assert derived.status_code == 201, derived.text
    assert (derived.json()["role"], derived.json()["target"]) == ("derived", "features@1")
    call(server, "developer", "POST", "/models",
         json={"name": "credit-risk", "task": "binary_classification", "risk_tier": "high"})  # fmt: skip
    weights = tmp_path / "m.pkl"
    weights.write_bytes(b"w")
    made = call(server, "developer", "POST", "/models/credit-risk/versions",
                json={"artifact": str(weights), "trained_on": ["features@1"]})  # fmt: skip
    assert made.status_code == 201, made.text
    tree = call(server, "viewer", "GET", "/lineage/credit-risk@1/upstream").json()
    assert (tree["kind"], tree["ref"]) == ("model", "credit-risk@1")
    [step] = tree["inputs"]
    assert (step["edge"]["role"], step["source"]["ref"]) == ("training", "features@1")
    assert step["source"]["inputs"][0]["source"]["ref"] == "transactions@1"
    from_data = call(server, "viewer", "GET", "/lineage/features@1/upstream", params={"kind": "dataset"}).json()
    assert [i["source"]["ref"] for i in from_data["inputs"]] == ["transactions@1"]
    impact = call(server, "viewer", "GET", "/lineage/transactions@1/impact").json()
    assert impact["derived"] == ["features@1"]
    assert [(m["ref"], m["via"]) for m in impact["models"]] == [("credit-risk@1", ["features@1"])]
    cycle = call(
        server, "developer", "POST", "/lineage/edges", json={"source": "features@1", "to_dataset": "transactions@1"}
    )
    assert cycle.status_code == 400 and "would make a cycle" in cycle.json()["message"]
    bad_ref = call(server, "viewer", "GET", "/lineage/Credit Risk/upstream")
    assert bad_ref.status_code == 422 and bad_ref.json()["message"].startswith("path.ref: String should match pattern")


def test_a_certification_is_proposed_then_recorded_once_approved(server: dict[str, Any], tmp_path: Path) -> None:
    dataset_version(server, tmp_path)
    path = "/datasets/transactions/versions/1/certifications:propose"
    body = {"purpose": "credit scoring", "note": "reviewed", "justification": "training data for v3"}
    asked = call(server, "developer", "POST", path, json=body)
    assert asked.status_code == 200, asked.text
    request = asked.json()["change_request"]
    assert (asked.json()["status"], request["kind"], request["payload"]["valid_days"]) == (
        "pending_approval", "dataset_certification", 365,
    )  # fmt: skip
    both = call(server, "developer", "POST", path, json={**body, "valid_days": 9, "expires_at": "2099-01-01T00:00:00Z"})
    assert both.status_code == 400 and "not both" in both.json()["message"]
    approved = call(server, "risk-officer", "POST", f"/change-requests/{request['id']}/approve",
                    json={"justification": "ok", "payload_sha256": request["payload_sha256"]})  # fmt: skip
    assert approved.status_code == 200, approved.text
    done = call(server, "developer", "POST", path, json=body).json()
    assert (done["status"], done["certification"]["certified_by"]) == ("applied", "svc:risk-officer")
    version = call(server, "viewer", "GET", "/datasets/transactions/versions/1").json()
    assert version["certification"] == "certified"
