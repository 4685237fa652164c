"""The demo team's data preparation and training: a feature transform, two model recipes, an edge-case suite.

``build_features`` is the transform lineage records between the raw applications and the
data the models learn from: it drops the direct identifiers (data minimisation: a model
needs no name or e-mail), keeps ``sex`` for fairness evaluation only, and splits the rows
into training and holdout by a hash of the applicant id, so a given applicant always lands
on the same side. ``fit`` trains a standardised logistic regression on the chosen columns,
inside a pipeline that selects them by name: a served request may carry the whole
application (name, e-mail, ...) and the model reads only its features. scikit-learn and
pandas are the demo's own dependencies (``pip install 'charter[demo]'``).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charter.demo.population import IDENTIFIERS, LABEL

if TYPE_CHECKING:
    import pandas as pd

#: The transform's name and the code that implements it, as lineage records them.
TRANSFORM = "build_features"
CODE_REF = "charter.demo.modelling:build_features"

#: What every version of the demo model must do, whatever it learned (docs/evaluation.md, "Suites").
EDGE_CASES = """\
apiVersion: charter.dev/v1
kind: Suite
metadata:
  name: credit-edge-cases
  description: Behaviour every credit-risk version must show, whatever it learned
spec:
  cases:
    - name: scores-are-probabilities
      kind: range
      min: 0
      max: 1
    - name: strong-applicant-approved
      kind: expect
      inputs:
        - {income: 120, debt_to_income: 0.08, late_payments_2y: 0, loan_amount: 6, credit_history_years: 15}
      prediction: 1
    - name: weak-applicant-declined
      kind: expect
      inputs:
        - {income: 14, debt_to_income: 0.85, late_payments_2y: 6, loan_amount: 45, credit_history_years: 1}
      prediction: 0
    - name: more-income-never-hurts
      kind: monotonic
      feature: income
      values: [15, 30, 45, 70, 120]
    - name: more-debt-never-helps
      kind: monotonic
      feature: debt_to_income
      values: [0.05, 0.2, 0.4, 0.6, 0.9]
      direction: decreasing
    - name: late-payments-never-help
      kind: monotonic
      feature: late_payments_2y
      values: [0, 1, 2, 4, 8]
      direction: decreasing
"""


def in_holdout(applicant_id: str, share: float) -> bool:
    """Whether an applicant belongs to the holdout: the first 8 bytes of SHA-256 of the id, as a fraction."""
    digest = hashlib.sha256(applicant_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def build_features(raw: pd.DataFrame, *, holdout_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training, holdout): ``raw`` without identifiers, split by :func:`in_holdout` of each applicant id."""
    chosen = raw["applicant_id"].map(lambda found: in_holdout(str(found), holdout_share)).to_numpy(dtype=bool)
    kept = raw.drop(columns=[c for c in IDENTIFIERS if c in raw.columns])
    return kept[~chosen].reset_index(drop=True), kept[chosen].reset_index(drop=True)


def fit(frame: pd.DataFrame, features: Sequence[str]) -> Any:
    """A logistic regression on ``features`` of ``frame`` (standardised), predicting ``repaid``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    columns = list(features)
    model = Pipeline([
        ("features", ColumnTransformer([("scaled", StandardScaler(), columns)], remainder="drop")),
        ("classifier", LogisticRegression(max_iter=1000)),
    ])  # fmt: skip
    return model.fit(frame[columns], frame[LABEL])


def save(model: Any, path: Path) -> Path:
    """Pickle ``model`` to ``path`` (the registry records its SHA-256; evaluation checks it before loading)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load(path: Path) -> Any:
    """The model pickled at ``path``; call it only on an artifact whose SHA-256 was just checked (pickles run code)."""
    with path.open("rb") as source:
        return pickle.load(source)


def input_schema(features: Sequence[str]) -> dict[str, Any]:
    """The version's input schema: its features, each a number (the lake names decision columns after it)."""
    return {"features": [{"name": name, "type": "integer" if name == "late_payments_2y" else "number"}
                         for name in features]}  # fmt: skip
