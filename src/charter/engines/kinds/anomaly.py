"""Input anomalies: the share of a window's decisions whose inputs look corrupt or adversarial.

Each batch is scored row by row with the reference's fitted
:class:`~charter.metrics.anomaly.AnomalyModel` (``context["anomaly_model"]``: robust z-scores
and the Mahalanobis distance, :mod:`charter.metrics.anomaly`); only counts and a sum are
kept, so merging is exact for the counts (the distances' sum to rounding).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from charter.engines.base import Finished, MetricValue, Plan, Setup
from charter.errors import InvalidInput
from charter.metrics.anomaly import QUANTILE, Z_THRESHOLD, AnomalyModel

# rows, anomalous rows, rows with a feature out of range, rows with an infinite distance; sum of finite distances
Partial = tuple[int, int, int, int, float]


def _model(setup: Setup) -> AnomalyModel:
    given = setup.need(
        "anomaly_model", "the reference's charter.metrics.anomaly.AnomalyModel.fit(...), or its to_dict()"
    )
    if isinstance(given, AnomalyModel):
        return given
    if isinstance(given, Mapping):
        return AnomalyModel.from_dict(given)
    raise InvalidInput(f"input_anomaly: context 'anomaly_model' must be an AnomalyModel, not {type(given).__name__}")


def input_anomaly(setup: Setup) -> Plan:
    options = setup.options(("z_threshold", "quantile"))
    model = _model(setup)
    columns = list(model.columns)
    if setup.spec.features and sorted(setup.spec.features) != sorted(columns):
        raise InvalidInput(
            f"input_anomaly: the anomaly model scores {', '.join(columns)}; it cannot score other features "
            "(fit a model on the features wanted, or leave features empty)"
        )
    setup.check_features(columns)
    z_threshold = options.get("z_threshold", Z_THRESHOLD)
    quantile = options.get("quantile", QUANTILE)
    if isinstance(z_threshold, bool) or not isinstance(z_threshold, int | float) or not z_threshold > 0:
        raise InvalidInput(f"input_anomaly: option z_threshold must be a number above 0, not {z_threshold!r}")
    if isinstance(quantile, bool) or not isinstance(quantile, int | float) or not 0 < quantile < 1:
        raise InvalidInput(f"input_anomaly: option quantile must be a number between 0 and 1, not {quantile!r}")

    def summarise(batch: pa.RecordBatch) -> Partial:
        data: dict[str, Any] = {c: batch.column(c) for c in columns}
        scores = model.score(data, z_threshold=z_threshold, quantile=quantile)
        finite = np.isfinite(scores.mahalanobis)
        return (
            batch.num_rows,
            int(np.count_nonzero(scores.anomalous)),
            int(np.count_nonzero(scores.out_of_range)),
            int(np.count_nonzero(~finite)),
            float(scores.mahalanobis[finite].sum()),
        )

    def merge(a: Partial, b: Partial) -> Partial:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])

    def finish(partial: Partial) -> Finished:
        rows, anomalous, outside, infinite, distances = partial
        details = {"z_threshold": z_threshold, "quantile": quantile, "features": columns}
        values = [
            MetricValue("anomaly.anomalous_share", anomalous / rows, rows, {"anomalous": anomalous, **details}),
            MetricValue("anomaly.out_of_range_share", outside / rows, rows, {"out_of_range": outside}),
        ]
        notes = []
        if infinite:
            notes.append(f"{infinite:,} decision(s) with an infinite input: the mean Mahalanobis distance is left out")
        else:
            values.append(MetricValue("anomaly.mahalanobis_mean", distances / rows, rows))
        return Finished(values, notes)

    return Plan(tuple(columns), summarise, merge, finish, (0, 0, 0, 0, 0.0))
