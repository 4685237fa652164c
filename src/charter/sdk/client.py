"""``charter.connect()``: the SDK's entry point for governed models.

    import charter
    cx = charter.connect()                          # the home in $CHARTER_HOME (default ./.charter)
    governed = cx.wrap(model, "credit-risk@3")      # predict / predict_proba / __call__ are recorded
    ids = governed.last_decision_ids                # the decision ids of the last call
    cx.log_outcomes("credit-risk", ids, labels)     # ground truth, later
    cx.close()                                      # or let the process exit: pending decisions are flushed

A reference names the model version that serves (``credit-risk@3``, ``credit-risk:prod``, or
``credit-risk`` for its latest version). It is resolved against the registry once, when the
first decision is logged for it: the version number, the alias, and whether the version is
registered at all (decisions of an unregistered version are still recorded, marked
``registered = false``, so monitoring can flag shadow launches). The version's input schema
names the features. Decisions go through one :class:`~charter.sdk.writer.DecisionLogger` per
reference, into the home's decision lake (:class:`~charter.services.decisions.LakeSink`:
personal data masked, every batch anchored on the ledger).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from charter.clock import Clock
from charter.config import Settings, load_settings
from charter.errors import CharterError, InvalidInput
from charter.sdk.sink import Sink
from charter.sdk.stats import LoggerStats
from charter.sdk.wrap import Governed
from charter.sdk.writer import DecisionLogger, Overflow
from charter.services.context import open_context
from charter.services.references import parse_reference
from charter.services.registry import resolve_version

if TYPE_CHECKING:
    from charter.services.datasets import DatasetVersion
    from charter.services.evaluation import Evaluation

M = TypeVar("M")
F = TypeVar("F", bound=Callable[..., Any])


class Charter:
    """A connection to a Charter home for logging decisions (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: Sink | None = None,
        overflow: Overflow = "block",
        queue_size: int = 100_000,
        spool_dir: Path | str | None = None,
        privacy: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``clock`` stamps decisions and their lake anchors on the ledger (default the system's): simulations
        and tests replay time with it."""
        from charter.services.decisions import LakeSink

        self.settings = settings
        self._sink: Sink = sink if sink is not None else LakeSink(settings, privacy=privacy, clock=clock)
        self._options: dict[str, Any] = {
            "overflow": overflow, "queue_size": queue_size, "spool_dir": spool_dir, "clock": clock,
        }  # fmt: skip
        self._loggers: dict[tuple[str, tuple[str, ...]], DecisionLogger] = {}
        self._lock = threading.Lock()

    def logger(self, reference: str, *, groups: list[str] | None = None) -> DecisionLogger:
        """The decision logger of a model reference (one per reference and set of group attributes)."""
        key = (reference, tuple(groups or ()))
        with self._lock:
            if key not in self._loggers:
                self._loggers[key] = self._new_logger(reference, list(groups or ()))
            return self._loggers[key]

    def _new_logger(self, reference: str, groups: list[str]) -> DecisionLogger:
        ref = parse_reference(reference)
        version, alias, registered, features = ref.version, ref.alias, False, None
        try:
            remote = getattr(self._sink, "resolve", None)  # a server's sink (HttpSink) asks the server
            if callable(remote):
                found = remote(reference)
            else:
                with open_context(self.settings) as context:
                    found = resolve_version(context, reference)
            version, registered = found.version, True
            names = [f.get("name") for f in (found.input_schema or {}).get("features", [])]
            features = [str(n) for n in names if n] or None
        except CharterError:
            pass  # not registered (or no registry here): recorded as such
        spool = self._options["spool_dir"] or self.settings.home / "spool"
        return DecisionLogger(
            self._sink,
            model=ref.model,
            version=version,
            alias=alias,
            registered=registered,
            features=features,
            groups=groups,
            queue_size=self._options["queue_size"],
            overflow=self._options["overflow"],
            spool_dir=spool,
            clock=self._options["clock"],
        )

    def wrap(
        self,
        model: M,
        reference: str,
        *,
        groups: list[str] | None = None,
        explain_rate: float = 0.0,
        explain_method: str = "shap",
        explain_background: Any = None,
    ) -> Governed[M]:
        """``model`` with its predict / predict_proba / __call__ recorded as decisions of ``reference``.

        ``explain_rate`` (e.g. 0.01) explains that share of the decisions on the logging thread and
        stores the attributions with them (:mod:`charter.sdk.explain`). Background rows: ``explain_background``,
        else the version's evaluation or training data in this home, else the first rows logged.
        """
        logger = self.logger(reference, groups=groups)
        if explain_rate:
            loader = None if explain_background is not None or callable(getattr(self._sink, "resolve", None)) else (
                lambda features: self._background(reference, features)
            )  # fmt: skip
            logger.explain_with(model, rate=explain_rate, method=explain_method, background=explain_background,
                                background_loader=loader)  # fmt: skip
        return Governed(model, logger)

    def _background(self, reference: str, features: Any) -> Any:
        """Background rows for sampled explanations from this home's registry (None when it has none)."""
        from charter.services.explanations import background_rows

        with open_context(self.settings) as context:
            return background_rows(context, resolve_version(context, reference), list(features))[0]

    def governed(self, reference: str, *, groups: list[str] | None = None) -> Callable[[F], Governed[F]]:
        """Decorate a function ``f(inputs) -> predictions`` so each call is recorded."""
        logger = self.logger(reference, groups=groups)

        def decorate(function: F) -> Governed[F]:
            return Governed(function, logger)

        return decorate

    def log_decisions(self, reference: str, inputs: Any, predictions: Any, **fields: Any) -> list[str]:
        """Record pre-computed decisions (one per row); returns their ids. Never raises."""
        groups = fields.get("groups")
        return self.logger(reference, groups=sorted(groups) if groups else None).log(inputs, predictions, **fields)

    def log_outcomes(self, model: str, decision_ids: Any, labels: Any, *, durable: bool = False) -> None:
        """Record ground truth for earlier decisions of ``model``. Never raises."""
        self.logger(parse_reference(model).model).log_outcomes(decision_ids, labels, durable=durable)

    # ---- registry calls from a pipeline (these raise: bad input is the caller's to fix) ----------------

    def register_dataset(
        self, name: str, data: Any, *, uri: str = "", origin: Mapping[str, Any] | None = None, **provenance: str
    ) -> DatasetVersion:
        """Register a pandas/Polars DataFrame or an Arrow table as the next version of dataset ``name``.

        The dataset is created first if it does not exist, with ``provenance`` (owner, description,
        source_uri, licence, collected_from, collected_to, legal_basis); it is fingerprinted,
        checked, classified and profiled as ``charter dataset add-version`` does with a file.
        """
        from charter.errors import NotFound
        from charter.services.datasets import DatasetSpec, add_dataset_frame, get_dataset, register_dataset

        with open_context(self.settings) as context:
            try:
                get_dataset(context, name)
            except NotFound:
                register_dataset(context, DatasetSpec(name=name, **provenance))
            return add_dataset_frame(context, name, data, uri=uri, origin=dict(origin or {}))

    def log_evaluation(
        self,
        reference: str,
        *,
        dataset: str,
        metrics: Mapping[str, float],
        rows: int = 0,
        label: str = "",
        slices: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        fairness: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Evaluation:
        """Record metrics a training pipeline computed for ``reference`` on ``dataset`` (source ``sdk``).

        Gates read them like evaluations Charter ran (``charter evaluate``), with their source shown.
        """
        from charter.services.evaluation import record_evaluation

        with open_context(self.settings) as context:
            return record_evaluation(context, reference, dataset=dataset, metrics=metrics, rows=rows, label=label,
                                     slices=slices, fairness=fairness, source="sdk")  # fmt: skip

    def stats(self) -> dict[str, LoggerStats]:
        """Each logger's counters: enqueued, written, dropped, spooled, failed, and the last problems."""
        return {reference: logger.stats for (reference, _), logger in self._loggers.items()}

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every logged decision is written (or spooled); False on timeout."""
        return all(logger.flush(timeout) for logger in list(self._loggers.values()))

    def close(self, timeout: float | None = None) -> bool:
        done = all(logger.close(timeout) for logger in list(self._loggers.values()))
        closer = getattr(self._sink, "close", None)
        if callable(closer):
            closer()
        return done

    def __enter__(self) -> Charter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: A first argument with one of these schemes is a database URL, not a home folder.
DATABASE_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://", "sqlite:///")


def connect(
    home: str | Path | None = None,
    *,
    url: str | None = None,
    token: str | None = None,
    database_url: str | None = None,
    overflow: Overflow = "block",
    queue_size: int = 100_000,
    privacy: Mapping[str, Mapping[str, Any]] | None = None,
    clock: Clock | None = None,
) -> Charter:
    """Connect to a Charter home (default ``$CHARTER_HOME`` or ``./.charter``) to log decisions.

    ``privacy`` replaces, per model, the masking rules of some columns
    (``{"credit-risk": {"email": "keep", "income": {"action": "generalise", "step": 1000}}}``);
    ``clock`` stamps the decisions (a simulation replaying a day of traffic passes its own).

    ``url`` (or an ``http(s)://`` first argument) sends decisions to a Charter server's ingest endpoint
    instead (:mod:`charter.sdk.http_sink`), with ``token`` (default ``$CHARTER_TOKEN``); while it is
    unreachable they wait in the spool under the home. Masking is then the server's (no ``privacy``).
    """
    if url is None and isinstance(home, str) and home.startswith(("http://", "https://")):
        url, home = home, None
    if database_url is None and isinstance(home, str) and home.startswith(DATABASE_SCHEMES):
        database_url, home = home, None  # a database URL selects that store (the home stays the default)
    settings = load_settings(home=home, database_url=database_url)
    if url is not None:
        from charter.sdk.http_sink import HttpSink

        if privacy:
            raise InvalidInput("privacy: with a server (url=) the server masks decisions; set the rules there")
        token = token or os.environ.get("CHARTER_TOKEN")
        sink = HttpSink(url, token=token, rejected_dir=settings.home / "rejected")
        return Charter(settings, sink=sink, overflow=overflow, queue_size=queue_size, clock=clock)
    return Charter(settings, overflow=overflow, queue_size=queue_size, privacy=privacy, clock=clock)
