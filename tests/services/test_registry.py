"""The model registry on SQLite and PostgreSQL: models, versions, aliases, references."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.clock import FixedClock
from charter.config import Settings
from charter.errors import Conflict, IntegrityMismatch, InvalidInput, NotFound
from charter.ledger.chain import EntryFilter, list_entries
from charter.services import aliases, audit
from charter.services.artifacts import digest_path, given_digest
from charter.services.context import Context, open_context
from charter.services.home import init_home
from charter.services.references import Reference, parse_reference
from charter.services.registry import (
    ModelSpec,
    get_model,
    list_models,
    list_versions,
    register_model,
    register_version,
    resolve_version,
)


@pytest.fixture
def context(settings: Settings, clock: FixedClock) -> Iterator[Context]:
    init_home(settings, clock=clock)
    with open_context(settings, clock=clock) as opened:
        yield opened


def artifact(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / f"model-{hashlib.sha256(content).hexdigest()[:8]}.bin"
    path.write_bytes(content)
    return path


def credit_risk(context: Context, **overrides: object) -> None:
    spec = {"name": "credit-risk", "task": "binary_classification", "risk_tier": "high", "owner": "alice"}
    register_model(context, ModelSpec(**{**spec, **overrides}))  # type: ignore[arg-type]


def test_register_a_model_and_read_it_back(context: Context) -> None:
    model = register_model(
        context,
        ModelSpec(
            name="credit-risk",
            task="binary_classification",
            risk_tier="high",
            owner="alice",
            team="risk",
            tags=("finance", "eu", "finance"),
        ),
    )
    assert (model.name, model.risk_tier, model.owner, model.tags, model.versions) == (
        "credit-risk",
        "high",
        "alice",
        ("eu", "finance"),
        0,
    )
    assert get_model(context, "credit-risk") == model
    entries = list_entries(context.engine, EntryFilter(subject="model:credit-risk"), limit=None)
    assert [e.action for e in entries] == ["model.registered"]
    assert entries[0].data["tags"] == ["eu", "finance"]


def test_versions_number_up_and_hash_their_artifact(context: Context, tmp_path: Path) -> None:
    credit_risk(context)
    first = register_version(context, "credit-risk", digest_path(artifact(tmp_path, b"weights-1")))
    second = register_version(
        context,
        "credit-risk",
        digest_path(artifact(tmp_path, b"weights-2")),
        framework="sklearn",
        input_schema={"features": [{"name": "income", "type": "number", "min": 0}]},
        source_commit="abc123",
    )
    assert (first.version, second.version) == (1, 2)
    assert first.artifact_sha256 == hashlib.sha256(b"weights-1").hexdigest()
    assert first.artifact_size == len(b"weights-1")
    assert second.input_schema == {"features": [{"name": "income", "type": "number", "min": 0}]}
    assert second.creator == "user:tester"
    assert [v.version for v in list_versions(context, "credit-risk")] == [1, 2]
    assert get_model(context, "credit-risk").versions == 2


def test_references_resolve_by_version_alias_and_latest(context: Context, tmp_path: Path) -> None:
    credit_risk(context)
    for i in range(3):
        register_version(context, "credit-risk", digest_path(artifact(tmp_path, f"w{i}".encode())))
    aliases.set_alias(context, "credit-risk@2", "prod")
    assert resolve_version(context, "credit-risk@1").version == 1
    assert resolve_version(context, "credit-risk:prod").version == 2
    assert resolve_version(context, "credit-risk").version == 3
    assert resolve_version(context, "credit-risk@2").aliases == ("prod",)
    assert get_model(context, "credit-risk").aliases == {"prod": 2}


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("fraud", "no model 'fraud' (models: credit-risk)"),
        ("credit-risk@9", "credit-risk has no version 9 (versions: 1-2)"),
        ("credit-risk:prod", "credit-risk has no alias 'prod' (aliases: staging)"),
        ("Credit Risk", "model name 'Credit Risk' is not valid"),
        ("credit-risk@x", "model reference 'credit-risk@x': the version must be a number from 1 up"),
        ("credit-risk@1:prod", "model reference 'credit-risk@1:prod' is not valid"),
    ],
)
def test_bad_references_say_what_exists(context: Context, tmp_path: Path, reference: str, message: str) -> None:
    credit_risk(context)
    register_version(context, "credit-risk", digest_path(artifact(tmp_path, b"a")))
    register_version(context, "credit-risk", digest_path(artifact(tmp_path, b"b")))
    aliases.set_alias(context, "credit-risk@1", "staging")
    with pytest.raises((NotFound, InvalidInput)) as caught:
        resolve_version(context, reference)
    assert str(caught.value).startswith(message)


def test_an_alias_move_is_audited_with_its_history(context: Context, tmp_path: Path, clock: FixedClock) -> None:
    credit_risk(context)
    for i in range(2):
        register_version(context, "credit-risk", digest_path(artifact(tmp_path, f"w{i}".encode())))
    first = aliases.set_alias(context, "credit-risk@1", "prod")
    clock.advance(60)
    second = aliases.set_alias(context, "credit-risk@2", "prod")
    removed = aliases.remove_alias(context, "credit-risk:prod")
    assert [(m.from_version, m.to_version) for m in (first, second, removed)] == [(None, 1), (1, 2), (2, None)]
    assert aliases.history(context, "credit-risk", "prod") == [first, second, removed]
    moves = list_entries(context.engine, EntryFilter(action="model.alias_*"), limit=None, newest_first=False)
    assert [e.seq for e in moves] == [first.ledger_seq, second.ledger_seq, removed.ledger_seq]
    assert moves[1].data == {"alias": "prod", "from_version": 1, "to_version": 2}
    assert audit.verify_ledger(context).ok


def test_moving_an_alias_to_where_it_points_is_refused(context: Context, tmp_path: Path) -> None:
    credit_risk(context)
    register_version(context, "credit-risk", digest_path(artifact(tmp_path, b"a")))
    aliases.set_alias(context, "credit-risk@1", "prod")
    with pytest.raises(Conflict, match=r"credit-risk:prod already points at credit-risk@1"):
        aliases.set_alias(context, "credit-risk@1", "prod")


def test_a_duplicate_model_is_refused_and_nothing_is_written(context: Context) -> None:
    credit_risk(context)
    head = audit.ledger_size(context)
    with pytest.raises(Conflict, match=r"model 'credit-risk' already exists"):
        credit_risk(context, owner="bob")
    assert audit.ledger_size(context) == head
    assert get_model(context, "credit-risk").owner == "alice"


def test_the_same_artifact_twice_is_refused(context: Context, tmp_path: Path) -> None:
    credit_risk(context)
    path = artifact(tmp_path, b"weights")
    register_version(context, "credit-risk", digest_path(path))
    with pytest.raises(Conflict, match=r"credit-risk@1 already has this artifact"):
        register_version(context, "credit-risk", digest_path(path))
    assert len(list_versions(context, "credit-risk")) == 1
    path.write_bytes(b"weights retrained in place")  # the registered version's file, overwritten
    head = audit.ledger_size(context)
    with pytest.raises(IntegrityMismatch, match=r"is registered as credit-risk@1 with sha256 .*changed in place"):
        register_version(context, "credit-risk", digest_path(path))
    assert len(list_versions(context, "credit-risk")) == 1 and audit.ledger_size(context) == head
    moved = artifact(tmp_path, b"weights retrained in place")  # named by its content: a new location
    assert register_version(context, "credit-risk", digest_path(moved)).version == 2  # a new location is fine


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "clustering"}, "model credit-risk: task 'clustering' is not one of binary_classification"),
        ({"risk_tier": "extreme"}, "model credit-risk: risk tier 'extreme' is not one of minimal, limited"),
        ({"name": "-bad"}, "model name '-bad' is not valid"),
        ({"tags": (" x",)}, "model credit-risk: tag ' x' must be 1-100 characters"),
    ],
)
def test_bad_model_fields_are_refused(context: Context, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        credit_risk(context, **overrides)
    assert str(caught.value).startswith(message)
    assert list_models(context) == []


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"fields": []}, "credit-risk: input schema: a schema is an object with a 'features' list"),
        ({"features": [{"name": "age", "type": "int"}]}, "features[0] (age): 'type' must be one of number"),
        ({"features": [{"name": "a", "type": "number", "min": 2, "max": 1}]}, "'min' (2) is greater than 'max' (1)"),
        ({"features": [{"name": "a", "type": "string"}, {"name": "a", "type": "string"}]}, "appears twice"),
        ({"features": [{"name": "a", "type": "string", "min": 0}]}, "'min'/'max' apply to number and integer"),
        ({"features": [{"name": "a", "type": "category", "categories": []}]}, "'categories' must be a non-empty"),
    ],
)
def test_bad_schemas_are_refused_naming_the_feature(
    context: Context, tmp_path: Path, schema: dict[str, object], message: str
) -> None:
    credit_risk(context)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        register_version(context, "credit-risk", digest_path(artifact(tmp_path, b"w")), input_schema=schema)
    assert list_versions(context, "credit-risk") == []


def test_list_models_filters(context: Context, tmp_path: Path) -> None:
    credit_risk(context, tags=("finance",))
    register_model(context, ModelSpec(name="churn", task="regression", risk_tier="limited", owner="bob"))
    register_model(context, ModelSpec(name="fraud", task="binary_classification", risk_tier="high", owner="bob"))
    register_version(context, "fraud", digest_path(artifact(tmp_path, b"f")))
    aliases.set_alias(context, "fraud@1", "prod")

    def names(**filters: object) -> list[str]:
        return [m.name for m in list_models(context, **filters)]  # type: ignore[arg-type]

    assert names() == ["churn", "credit-risk", "fraud"]
    assert names(risk_tier="high") == ["credit-risk", "fraud"]
    assert names(owner="bob") == ["churn", "fraud"]
    assert names(tag="finance") == ["credit-risk"]
    assert names(alias="prod") == ["fraud"]
    assert names(name_contains="r") == ["churn", "credit-risk", "fraud"]
    assert names(name_contains="_") == []
    assert names(limit=1) == ["churn"]


def test_remote_artifacts_need_their_digest() -> None:
    with pytest.raises(InvalidInput, match=r"give its --sha256 and --size"):
        given_digest("s3://bucket/model.bin", None, None)
    with pytest.raises(InvalidInput, match=r"is not a SHA-256 digest"):
        given_digest("s3://bucket/model.bin", "abc", 1)
    digest = given_digest("s3://bucket/model.bin", "A" * 64, 10)
    assert (digest.sha256, digest.size) == ("a" * 64, 10)


def test_reference_round_trip() -> None:
    for text in ("credit-risk", "credit-risk@3", "credit-risk:prod"):
        assert str(parse_reference(text)) == text
    assert parse_reference("m@12") == Reference("m", version=12)


def test_listings_page(context: Context) -> None:
    for name in ("a", "b", "c", "d", "e"):
        register_model(context, ModelSpec(name=name, task="regression", risk_tier="minimal"))
    assert [m.name for m in list_models(context, limit=2)] == ["a", "b"]
    assert [m.name for m in list_models(context, limit=2, offset=2)] == ["c", "d"]
    assert [m.name for m in list_models(context, limit=2, offset=4)] == ["e"]
    assert [m.name for m in list_models(context, offset=3)] == ["d", "e"]


def test_archiving_a_version(context: Context, tmp_path: Path) -> None:
    from charter.services.registry import set_status

    credit_risk(context)
    register_version(context, "credit-risk", digest_path(artifact(tmp_path, b"a")))
    register_version(context, "credit-risk", digest_path(artifact(tmp_path, b"b")))
    aliases.set_alias(context, "credit-risk@1", "prod")
    with pytest.raises(Conflict, match=r"credit-risk@1 is in use as credit-risk:prod; move or remove"):
        set_status(context, "credit-risk@1", "archived", reason="superseded")
    archived = set_status(context, "credit-risk@2", "archived", reason="failed review")
    assert archived.status == "archived"
    assert resolve_version(context, "credit-risk").version == 1  # latest *registered*
    with pytest.raises(InvalidInput, match=r"credit-risk@2 is archived; only registered versions can take an alias"):
        aliases.set_alias(context, "credit-risk@2", "staging")
    with pytest.raises(InvalidInput, match=r"needs a reason"):
        set_status(context, "credit-risk@2", "registered", reason=" ")
    assert set_status(context, "credit-risk@2", "registered", reason="review passed").status == "registered"


def test_a_changed_artifact_is_refused(context: Context, tmp_path: Path) -> None:
    from charter.services.registry import check_artifact

    credit_risk(context)
    path = artifact(tmp_path, b"weights")
    register_version(context, "credit-risk", digest_path(path))
    assert check_artifact(context, "credit-risk@1").intact
    path.write_bytes(b"tampered weights")
    with pytest.raises(Conflict) as caught:
        check_artifact(context, "credit-risk@1")
    assert "the artifact of credit-risk@1" in str(caught.value)
    assert f"sha256 {hashlib.sha256(b'tampered weights').hexdigest()} now" in str(caught.value)
    assert str(caught.value).endswith("refusing to use it")
