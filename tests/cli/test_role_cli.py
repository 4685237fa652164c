"""Roles from the command line: the first admin, granting, revoking, listing, whoami."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import app

runner = CliRunner()


def charter(home: Path, *args: str, actor: str = "local:ada") -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(home), *args], env={"CHARTER_ACTOR": actor})
    return result.exit_code, result.stdout, result.stderr


def test_the_initialising_actor_is_admin_and_grants_roles(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, _ = charter(home, "init")
    assert code == 0 and "admin      local:ada" in out
    code, out, _ = charter(home, "init", "--json")
    assert json.loads(out)["admin"] is None  # a home has its admin already
    assert json.loads(charter(home, "whoami", "--json")[1]) == {
        "principal": "local:ada",
        "roles": ["admin"],
        "permissions": ["alias.remove_governed", "model.promote", "policy.manage", "role.manage", "safe_zone.declare"],
    }
    code, out, err = charter(home, "role", "grant", "local:bob", "risk-officer", "--reason", "credit data steward")
    assert (code, out.strip()) == (0, "Granted risk-officer to local:bob"), err
    code, _, err = charter(home, "role", "grant", "local:bob", "risk-officer")
    assert (code, err.strip()) == (1, "Error: local:bob already has the role risk-officer")
    code, _, err = charter(home, "role", "grant", "local:carol", "admin", actor="local:bob")
    assert code == 1
    assert err.startswith("Error: granting or revoking roles needs the role admin; local:bob has risk-officer")
    code, _, err = charter(home, "role", "grant", "local:bob", "superuser")
    assert err.strip() == "Error: role 'superuser' is not one of viewer, developer, approver, risk-officer, admin"
    code, out, _ = charter(home, "role", "list", "--json")
    assert [(g["principal"], g["role"], g["granted_by"]) for g in json.loads(out)] == [
        ("local:ada", "admin", "local:ada"),
        ("local:bob", "risk-officer", "local:ada"),
    ]
    code, _, err = charter(home, "role", "revoke", "local:ada", "admin")
    assert err.strip() == "Error: local:ada is the last admin; grant admin to someone else before revoking it"
    assert charter(home, "role", "revoke", "local:bob", "risk-officer")[0] == 0
    code, out, _ = charter(home, "role", "list", "--revoked", "--principal", "local:bob", "--json")
    assert [g["revoked_by"] for g in json.loads(out)] == ["local:ada"]
    code, out, _ = charter(home, "role", "list")
    assert "local:ada" in out and "local:bob" not in out
    code, out, _ = charter(home, "whoami", actor="local:nobody")
    assert out.splitlines() == ["local:nobody", "  roles        none", "  permissions  none"]
    assert charter(home, "audit", "verify")[0] == 0
