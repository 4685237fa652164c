"""REST API: models, versions, aliases and documents, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from charter.ledger.chain import EntryFilter, list_entries
from charter.services.context import open_context
from tests.server.conftest import auth

MODEL = {"name": "credit-risk", "task": "binary_classification", "risk_tier": "high", "owner": "risk-team",
         "tags": ["lending", "eu"]}  # fmt: skip


def call(server: dict[str, Any], role: str, method: str, path: str, **options: Any) -> httpx.Response:
    headers = {**auth(server["tokens"][role]), **options.pop("headers", {})}
    return server["client"].request(method, f"/api/v1{path}", headers=headers, **options)


def artifact(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_a_model_is_registered_listed_and_shown(server: dict[str, Any]) -> None:
    created = call(server, "developer", "POST", "/models", json=MODEL)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["risk_tier"], body["tags"], body["versions"], body["aliases"]) == (
        "credit-risk", "high", ["eu", "lending"], 0, {},
    )  # fmt: skip
    again = call(server, "admin", "POST", "/models", json=MODEL)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert again.json()["message"] == "model 'credit-risk' already exists; see `charter model show credit-risk`"
    shown = call(server, "viewer", "GET", "/models/credit-risk")
    assert shown.status_code == 200 and shown.json() == body
    missing = call(server, "viewer", "GET", "/models/fraud")
    assert missing.status_code == 404 and missing.json()["message"] == "no model 'fraud' (models: credit-risk)"
    bad = call(server, "developer", "POST", "/models", json={**MODEL, "name": "fraud", "task": "guessing"})
    assert bad.status_code == 400 and "task 'guessing' is not one of binary_classification" in bad.json()["message"]
    typo = call(server, "developer", "POST", "/models", json={**MODEL, "name": "fraud", "owners": "x"})
    assert typo.status_code == 422 and typo.json()["message"] == "body.owners: Extra inputs are not permitted"
    garbled = call(
        server, "developer", "POST", "/models", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert garbled.status_code == 422 and garbled.json()["code"] == "input.invalid"
    not_utf8 = call(
        server, "developer", "POST", "/models", content=b"\xff", headers={"Content-Type": "application/json"}
    )
    assert not_utf8.status_code == 400 and not_utf8.json() == {
        "code": "input.invalid", "status": 400, "message": "There was an error parsing the body",
    }  # fmt: skip
    with open_context(server["settings"], clock=server["clock"]) as context:
        [entry] = list_entries(context.engine, EntryFilter(action="model.registered"))
    assert entry.actor == "svc:developer"  # attributed to the token's principal


def test_models_page_by_offset(server: dict[str, Any]) -> None:
    for name in ("a-model", "b-model", "c-model"):
        assert call(server, "developer", "POST", "/models", json={**MODEL, "name": name}).status_code == 201
    first = call(server, "viewer", "GET", "/models", params={"limit": 2}).json()
    assert [m["name"] for m in first["items"]] == ["a-model", "b-model"] and first["next_offset"] == 2
    second = call(server, "viewer", "GET", "/models", params={"limit": 2, "offset": 2}).json()
    assert [m["name"] for m in second["items"]] == ["c-model"] and second["next_offset"] is None
    filtered = call(server, "viewer", "GET", "/models", params={"q": "b-", "risk_tier": "high"}).json()
    assert [m["name"] for m in filtered["items"]] == ["b-model"]
    wrong = call(server, "viewer", "GET", "/models", params={"limit": 0})
    assert wrong.status_code == 422 and wrong.json()["message"].startswith("query.limit: Input should be greater")


def test_versions_hash_server_side_artifacts_and_resolve_aliases(server: dict[str, Any], tmp_path: Path) -> None:
    call(server, "developer", "POST", "/models", json=MODEL)
    weights = artifact(tmp_path, "model-1.pkl", b"weights one")
    first = call(server, "developer", "POST", "/models/credit-risk/versions",
                 json={"artifact": str(weights), "framework": "sklearn", "source_commit": "abc123"})  # fmt: skip
    assert first.status_code == 201, first.text
    version = first.json()
    assert (version["ref"], version["artifact_sha256"], version["artifact_size"], version["creator"]) == (
        "credit-risk@1", hashlib.sha256(b"weights one").hexdigest(), 11, "svc:developer",
    )  # fmt: skip
    assert version["artifact_uri"] == weights.resolve().as_uri()
    same = call(server, "developer", "POST", "/models/credit-risk/versions", json={"artifact": weights.as_uri()})
    assert same.status_code == 409 and "credit-risk@1 already has this artifact" in same.json()["message"]
    remote = {"artifact": "s3://models/credit-risk/2.pkl", "sha256": "ab" * 32, "size": 2048}
    second = call(server, "developer", "POST", "/models/credit-risk/versions", json=remote)
    assert second.status_code == 201 and second.json()["artifact_uri"] == remote["artifact"]
    unstated = call(server, "developer", "POST", "/models/credit-risk/versions", json={"artifact": "s3://m/3.pkl"})
    assert unstated.status_code == 400 and "give its --sha256 and --size" in unstated.json()["message"]
    gone = call(server, "developer", "POST", "/models/credit-risk/versions", json={"artifact": str(tmp_path / "no")})
    assert gone.status_code == 400 and gone.json()["message"] == f"artifact {tmp_path / 'no'} does not exist"
    relative = call(server, "developer", "POST", "/models/credit-risk/versions", json={"artifact": "model.pkl"})
    assert relative.status_code == 422 and "give an absolute path on the server" in relative.json()["message"]
    listed = call(server, "viewer", "GET", "/models/credit-risk/versions").json()["items"]
    assert [v["version"] for v in listed] == [1, 2]
    assert call(server, "viewer", "GET", "/models/credit-risk/versions/2").json()["artifact_sha256"] == "ab" * 32
    assert call(server, "viewer", "GET", "/models/credit-risk/versions/9").json()["message"] == (
        "credit-risk has no version 9 (versions: 1-2)"
    )
    no_alias = call(server, "viewer", "GET", "/models/credit-risk/aliases/prod")
    assert no_alias.status_code == 404 and no_alias.json()["message"] == (
        "credit-risk has no alias 'prod' (it has no aliases yet)"
    )
    assert call(server, "viewer", "GET", "/models/credit-risk/aliases/prod/history").json() == {"items": []}
    archived = call(server, "developer", "POST", "/models/credit-risk/versions/2/status",
                    json={"status": "archived", "reason": "superseded"})  # fmt: skip
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert [v["version"] for v in call(server, "viewer", "GET", "/models/credit-risk/versions",
                                       params={"status": "registered"}).json()["items"]] == [1]  # fmt: skip
    refused = call(server, "viewer", "POST", "/models/credit-risk/versions", json={"artifact": str(weights)})
    assert refused.status_code == 403 and refused.json()["message"] == (
        "this route needs the role developer or admin; svc:viewer has viewer"
    )


def test_documents_are_attached_by_path_and_digest(server: dict[str, Any], tmp_path: Path) -> None:
    call(server, "developer", "POST", "/models", json=MODEL)
    call(server, "developer", "POST", "/models/credit-risk/versions",
         json={"artifact": str(artifact(tmp_path, "m.pkl", b"w"))})  # fmt: skip
    card = artifact(tmp_path, "card.md", b"# Model card")
    attached = call(server, "developer", "POST", "/models/credit-risk/documents",
                    json={"path": str(card), "kind": "model_card", "version": 1})  # fmt: skip
    assert attached.status_code == 201, attached.text
    assert (attached.json()["version"], attached.json()["sha256"]) == (1, hashlib.sha256(b"# Model card").hexdigest())
    risk = artifact(tmp_path, "risk.pdf", b"%PDF")
    call(server, "admin", "POST", "/models/credit-risk/documents", json={"path": str(risk), "kind": "risk_assessment"})
    every = call(server, "viewer", "GET", "/models/credit-risk/documents").json()["items"]
    assert [(d["kind"], d["version"]) for d in every] == [("risk_assessment", None), ("model_card", 1)]
    call(server, "developer", "POST", "/models/credit-risk/versions",
         json={"artifact": str(artifact(tmp_path, "m2.pkl", b"w2"))})  # fmt: skip
    second = call(server, "viewer", "GET", "/models/credit-risk/documents", params={"version": 2}).json()
    assert [d["kind"] for d in second["items"]] == ["risk_assessment"]  # the model-wide one, not v1's card
    wrong = call(server, "developer", "POST", "/models/credit-risk/documents", json={"path": str(risk), "kind": "memo"})
    assert wrong.status_code == 400 and wrong.json()["message"].startswith("document kind 'memo' is not one of")


def test_a_versions_model_card_is_the_services_markdown(server: dict[str, Any], tmp_path: Path) -> None:
    from charter.services.evaluation import record_evaluation
    from charter.services.model_cards import render_model_card

    assert call(server, "developer", "POST", "/models", json=MODEL).status_code == 201
    weights = artifact(tmp_path, "w1.pkl", b"weights one")
    assert call(server, "developer", "POST", "/models/credit-risk/versions",
                json={"artifact": weights.as_uri()}).status_code == 201  # fmt: skip
    with open_context(server["settings"], clock=server["clock"]) as context:
        record_evaluation(context, "credit-risk@1", dataset="holdout", metrics={"roc_auc": 0.86123})
        expected = render_model_card(context, "credit-risk@1").markdown
    found = call(server, "viewer", "GET", "/models/credit-risk/versions/1/card")
    assert found.status_code == 200, found.text
    assert found.json() == {"ref": "credit-risk@1", "markdown": expected}
    assert "| roc_auc | 0.861 |" in expected and "Global feature importance: not computed." in expected
    missing = call(server, "viewer", "GET", "/models/credit-risk/versions/7/card")
    assert missing.status_code == 404 and missing.json()["message"] == "credit-risk has no version 7 (versions: 1)"
    assert (
        call(server, "viewer", "GET", "/models/fraud/versions/1/card").json()["message"].startswith("no model 'fraud'")
    )
