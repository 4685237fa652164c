"""Decisions from the SDK into the home's lake: masked per the model's privacy policy, written, anchored.

:class:`LakeSink` is what ``charter.connect()`` hands the decision logger. For each batch it
applies the model's masking policy (from the PII classification of the datasets the model
was trained on, see :func:`model_policy`), then writes and anchors the batch
(:func:`charter.services.lake.write_batch`). Batch ids are derived from the batch's decision
ids, so a batch replayed from the logger's spool is recognised and written once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from charter.clock import Clock
from charter.config import Settings
from charter.errors import CharterError
from charter.lake.privacy import MaskingPolicy, apply_policy, default_policy
from charter.lake.schema import DECISION_ID, TS
from charter.services.context import Context, open_context
from charter.services.datasets import resolve_dataset_version
from charter.services.lake import write_batch
from charter.services.lineage import LineageNode, upstream
from charter.services.pseudonym_keys import ensure_keys
from charter.services.registry import list_versions


def batch_id_of(batch: pa.RecordBatch | pa.Table, *, with_times: bool = False) -> str:
    """A batch's id from its content: the SHA-256 of its sorted decision ids (and times, for outcomes)."""
    ids = pc.cast(batch.column(DECISION_ID), pa.string())
    if with_times:
        ids = pc.binary_join_element_wise(ids, pc.cast(pc.cast(batch.column(TS), pa.int64()), pa.string()), "@")
    joined = "\n".join(sorted(ids.to_pylist()))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def model_policy(context: Context, model: str) -> MaskingPolicy:
    """The masking policy of a model's decisions: PII columns of every dataset its versions were trained on."""
    classified: list[Any] = []
    try:
        versions = list_versions(context, model)
    except CharterError:
        return default_policy([])  # an unregistered model: nothing is known to be personal
    seen: set[str] = set()
    for version in versions:
        for ref in _datasets(upstream(context, version.ref)):
            if ref not in seen:
                seen.add(ref)
                classified += resolve_dataset_version(context, ref).columns
    return default_policy(classified)


def _datasets(node: LineageNode) -> list[str]:
    found = []
    for _, source in node.inputs:
        if source.kind == "dataset":
            found.append(source.ref)
        found += _datasets(source)
    return found


class LakeSink:
    """The decision logger's sink into the home's lake (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        privacy: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``privacy``: per model, column rules that replace the defaults (``{"email": "keep"}``); ``clock``
        stamps the ledger anchors of the batches (default the system's)."""
        self._settings = settings
        self._clock = clock
        self._overrides = {model: dict(rules) for model, rules in (privacy or {}).items()}
        for rules in self._overrides.values():
            default_policy([]).override(rules)  # refuse a bad rule now, naming it, not at the first batch
        self._policies: dict[str, MaskingPolicy] = {}
        self._lock = threading.Lock()
        self._context: Context | None = None

    def _open(self) -> Context:
        if self._context is None:
            self._context = open_context(self._settings, clock=self._clock)
        return self._context

    def policy(self, model: str) -> MaskingPolicy:
        with self._lock:
            if model not in self._policies:
                self._policies[model] = model_policy(self._open(), model).override(self._overrides.get(model, {}))
            return self._policies[model]

    def write_decisions(self, model: str, batch: pa.RecordBatch) -> None:
        policy = self.policy(model)
        context = self._open()
        masked = apply_policy(batch, policy, ensure_keys(context)) if _masks(policy) else batch
        write_batch(context, model, "decisions", masked, batch_id=batch_id_of(batch))

    def write_outcomes(self, model: str, batch: pa.RecordBatch) -> None:
        write_batch(self._open(), model, "outcomes", batch, batch_id=batch_id_of(batch, with_times=True))

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None


def _masks(policy: MaskingPolicy) -> bool:
    return any(rule.action != "keep" for rule in policy.rules.values())
