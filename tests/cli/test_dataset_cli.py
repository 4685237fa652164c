"""Datasets from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import app

runner = CliRunner()
CSV = "name,email,sex,income\nAda,ada@example.org,F,1\nAlan,alan@example.org,M,2\nGrace,g@example.com,F,3\n"


def charter(home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_dataset_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    (tmp_path / "people.csv").write_text(CSV)
    assert charter(home, "dataset", "register", "people", "--legal-basis", "consent")[0] == 0
    code, out, err = charter(home, "dataset", "add-version", "people", str(tmp_path / "people.csv"), "--json")
    assert code == 0, err
    version = json.loads(out)
    assert (version["ref"], version["row_count"], version["certification"]) == ("people@1", 3, "uncertified")
    assert {c["name"]: c["protected"] for c in version["columns"]}["sex"] is True
    code, out, err = charter(home, "dataset", "classify", "people@1", "name", "--no-pii", "--json")
    assert code == 0, err
    assert json.loads(out)["pii_category"] is None
    code, _, err = charter(home, "dataset", "certify", "people@1", "--purpose", "churn model")
    assert code == 1 and err.startswith("Error: certifying a dataset version needs the role risk-officer;"), err
    me = json.loads(charter(home, "whoami", "--json")[1])["principal"]
    assert charter(home, "role", "grant", me, "risk-officer")[0] == 0
    code, out, err = charter(home, "dataset", "certify", "people@1", "--purpose", "churn model", "--json")
    assert code == 0, err
    cert = json.loads(out)
    code, out, _ = charter(home, "dataset", "show", "people", "--json")
    assert json.loads(out)["version"]["certification"] == "certified"
    assert json.loads(out)["version"]["profile"]["columns"] == {"sex": "categorical", "income": "numeric"}
    code, out, _ = charter(home, "dataset", "show", "people")
    assert "reference profile: 1 numeric and 1 categorical column(s)" in out
    assert "not profiled: email: personal data (email)" in out
    code, _, err = charter(home, "dataset", "revoke", cert["id"], "--reason", "consent withdrawn")
    assert code == 0, err
    code, out, _ = charter(home, "dataset", "versions", "people", "--json")
    assert json.loads(out)[0]["certification"] == "revoked"
    code, out, _ = charter(home, "dataset", "list", "--json")
    assert [d["name"] for d in json.loads(out)] == ["people"]
    assert charter(home, "audit", "verify")[0] == 0


def test_a_certification_is_proposed_approved_and_recorded(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    (tmp_path / "people.csv").write_text(CSV)
    charter(home, "dataset", "register", "people", "--legal-basis", "consent")
    charter(home, "dataset", "add-version", "people", str(tmp_path / "people.csv"))
    me = json.loads(charter(home, "whoami", "--json")[1])["principal"]
    assert charter(home, "role", "grant", "local:rita", "risk-officer")[0] == 0
    ask = ("dataset", "propose-certification", "people@1", "--purpose", "churn model", "--expires", "30d")
    code, out, _ = charter(home, *ask, "-j", "training data for churn v2")
    assert code == 1 and out.startswith("Change request ")
    request = out.split()[2]
    assert "(dataset:people) waits for 1 more approval from risk-officer" in " ".join(out.split())
    approved = runner.invoke(app, ["--home", str(home), "approvals", "approve", request, "-j", "profile reviewed"],
                             env={"CHARTER_ACTOR": "local:rita"})  # fmt: skip
    assert approved.exit_code == 0, approved.stderr
    code, out, err = charter(home, *ask, "--json")
    assert code == 0, err
    done = json.loads(out)
    assert (done["status"], done["certification"]["certified_by"]) == ("applied", "local:rita")
    assert done["change_request"]["requester"] == me
    code, out, _ = charter(home, "dataset", "show", "people", "--json")
    assert json.loads(out)["version"]["certification"] == "certified"
    code, _, err = charter(home, "dataset", "propose-certification", "people@1", "--purpose", "x", "--expires",
                           "soon", "-j", "y")  # fmt: skip
    assert code == 1 and "--expires 'soon' is not an ISO-8601 time" in err


def test_dataset_errors_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    charter(home, "init")
    charter(home, "dataset", "register", "people")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4,5\n")
    cases = [
        (("dataset", "add-version", "people", str(tmp_path / "bad.csv")), f"Error: {tmp_path / 'bad.csv'}"),
        (("dataset", "show", "people@2"), "Error: people has no versions yet"),
        (
            ("dataset", "certify", "people", "--purpose", "x", "--expires", "soon"),
            "Error: --expires 'soon' is not an ISO-8601 time such as 2026-11-22T09:30:00Z or a number of days (90d)",
        ),
        (("dataset", "register", "x", "--legal-basis", "vibes"), "Error: dataset x: legal basis 'vibes'"),
        (("dataset", "classify", "people", "a", "--pii", "email", "--no-pii"), "Error: give either --pii"),
    ]
    for args, start in cases:
        code, out, err = charter(home, *args)
        assert code == 1, (args, out, err)
        assert err.startswith(start), err
