"""Benchmark explanations: explanations/s through Charter against shap called directly, and the serving path.

    .venv/bin/python benchmarks/explain.py [--quick]

1. Explanations per second for a tree model (scikit-learn gradient boosting, 100 trees of depth 3)
   and a linear model (logistic regression), 20 features: Charter's path (the artifact loaded
   from its pickle, ``make_explainer(...).explain(rows)``: the explainer's values plus the model's
   own output and the additivity check) against the peer, ``shap.TreeExplainer`` /
   ``shap.LinearExplainer`` called directly on the same fitted model and the same rows. Both
   get the same values (checked); median of 3 runs; ratio = Charter / shap.
2. The same for Kernel SHAP on a model shap cannot read (a scikit-learn pipeline): Charter's
   bounded job against ``shap.KernelExplainer`` with the same background and coalitions.
3. A version's global explanation at evaluation (``global_importance`` on 5,000 rows: sampling,
   the explainer, importance, proxies): wall time.
4. The serving path: a one-row ``predict`` of the tree model, bare, wrapped with
   ``explain_rate=0`` and wrapped with ``explain_rate=0.01``, interleaved in blocks of 100
   calls; p50/p90/p99 and what wrapping adds; how many decisions got explained on the writer.

Charter's explanations/s include computing the model's own output for each row (the
additivity check against what the model says, not what the explainer says); the figure after
the ratio is that share of Charter's time. shap called directly does not check.
"""

from __future__ import annotations

import pickle
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from charter.integrations.explain_subjects import subject_from_adapter, subject_from_model
from charter.integrations.explainers import Limits, make_explainer
from charter.integrations.frameworks import load_model
from charter.sdk import DecisionLogger, MemorySink, wrap

FEATURES = [f"x{i:02d}" for i in range(20)]


def data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, len(FEATURES)))
    logit = x[:, :5] @ np.array([1.5, -1.0, 0.8, 0.5, -0.3]) + 0.5 * x[:, 5] * x[:, 6]
    return x, (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)


def timed(run: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def compare(label: str, explainer: Any, shap_run: Callable[[], Any], rows: np.ndarray) -> None:
    ours, found = timed(lambda: explainer.explain(rows))
    peer, direct = timed(shap_run)
    output, _ = timed(lambda: explainer.subject.predict(rows))  # the model's own output, for the additivity check
    assert np.allclose(found.values, direct, atol=1e-8), f"{label}: Charter and shap disagree"
    assert found.additive().all(), f"{label}: not additive"
    n = len(rows)
    print(f"{label:<40} Charter {n / ours:>10,.0f}/s   shap {n / peer:>10,.0f}/s   ratio {peer / ours:5.2f}x"
          f"   (the model's own output: {output / ours:.0%} of Charter's time)")  # fmt: skip


def throughput(folder: Path, quick: bool) -> None:
    import shap
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = data(5_000)
    background = x[:100]
    tree = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(x, y)
    linear = LogisticRegression(max_iter=1000).fit(x, y)
    (folder / "tree.pkl").write_bytes(pickle.dumps(tree))
    (folder / "linear.pkl").write_bytes(pickle.dumps(linear))

    rows = 500 if quick else 2_000
    explainer = make_explainer(_subject(folder / "tree.pkl"), background=background)
    peer = shap.TreeExplainer(tree)
    compare(f"tree (gradient boosting), {rows:,} rows", explainer,
            lambda: peer.shap_values(x[:rows], check_additivity=False), x[:rows])  # fmt: skip

    rows = 1_000 if quick else 5_000
    explainer = make_explainer(_subject(folder / "linear.pkl"), background=background)
    linear_peer = shap.LinearExplainer(linear, shap.maskers.Independent(background, max_samples=100))
    compare(f"linear (logistic regression), {rows:,} rows", explainer, lambda: linear_peer.shap_values(x[:rows]),
            x[:rows])  # fmt: skip

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    limits = Limits(background_rows=50)
    kernel = make_explainer(subject_from_model(pipeline, FEATURES), background=background, limits=limits)
    rows = 10 if quick else 40
    samples = 2 * len(FEATURES) + 256
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel_peer = shap.KernelExplainer(lambda a: pipeline.predict_proba(a)[:, 1], background[:50])

        def peer_run() -> Any:
            np.random.seed(0)
            return kernel_peer.shap_values(x[:rows], nsamples=samples, l1_reg=False, silent=True)

        ours, found = timed(lambda: kernel.explain(x[:rows]))
        theirs, _ = timed(peer_run)
    assert found.additive().all()
    print(f"{f'kernel (pipeline), {rows} rows':<40} Charter {rows / ours:>10,.1f}/s   shap {rows / theirs:>10,.1f}/s"
          f"   ratio {theirs / ours:5.2f}x   (budget at evaluation: {kernel.row_budget()} rows)")  # fmt: skip


def _subject(path: Path) -> Any:
    return subject_from_adapter(load_model(path, feature_names=FEATURES), FEATURES, classifier=True, name=path.stem)


def global_explanation(folder: Path) -> None:
    from charter.services.explanations import global_importance

    x, _ = data(5_000)
    table = pa.table({name: x[:, j] for j, name in enumerate(FEATURES)})
    table = table.append_column("sex", pa.array(np.where(x[:, 3] > 0, "F", "M")))  # x03 is its proxy
    adapter = load_model(folder / "tree.pkl", feature_names=FEATURES)
    seconds, found = timed(lambda: global_importance(adapter, table, FEATURES, classifier=True, protected=["sex"]))
    print(f"global explanation at evaluation, tree, 5,000 rows ({found['rows']} explained): {seconds:.3f} s; "
          f"top {', '.join(found['top_features'][:3])}; proxies {', '.join(found['proxies'])}")  # fmt: skip


def serving(folder: Path, quick: bool) -> None:
    tree = pickle.loads((folder / "tree.pkl").read_bytes())
    x, _ = data(2_000)
    spool = Path(tempfile.mkdtemp()) / "spool"
    bare = tree
    loggers = [DecisionLogger(MemorySink(), model=f"m{i}", features=FEATURES, spool_dir=spool) for i in range(2)]
    plain = wrap(tree, loggers[0])
    explained = wrap(tree, loggers[1], explain_rate=0.01, explain_background=x[:100])
    rows = [x[i : i + 1] for i in range(len(x))]
    for i in range(300):  # warm up (the explainer is set up on the writer at its first batch)
        bare.predict(rows[i])
        plain.predict(rows[i])
        explained.predict(rows[i])
    assert loggers[1].flush(60)
    times: dict[str, list[int]] = {"bare": [], "rate 0": [], "rate 0.01": []}
    clock = time.perf_counter_ns
    calls = 2_000 if quick else 10_000
    variants = [("bare", bare), ("rate 0", plain), ("rate 0.01", explained)]
    for block in range(calls // 100):
        for name, model in variants[block % 3 :] + variants[: block % 3]:  # each goes first in turn
            for i in range(100):
                row = rows[(block * 100 + i) % len(rows)]
                start = clock()
                model.predict(row)
                times[name].append(clock() - start)
    for logger in loggers:
        assert logger.flush(60)
    base = np.percentile(np.array(times["bare"]) / 1000, 50)
    for name, ns in times.items():
        p50, p90, p99 = np.percentile(np.array(ns) / 1000, [50, 90, 99])
        added = "" if name == "bare" else f"   added p50 {p50 - base:+6.2f} us"
        print(f"one-row predict, {name:<10} p50 {p50:8.2f} us  p90 {p90:8.2f}  p99 {p99:8.2f}{added}")
    stats = loggers[1].stats
    print(f"  explain_rate=0.01: {stats.explained:,} of {stats.written:,} decisions explained on the writer, "
          f"errors {stats.errors}")  # fmt: skip
    for logger in loggers:
        logger.close()


def main() -> None:
    import shap

    quick = "--quick" in sys.argv
    folder = Path(tempfile.mkdtemp())
    print(f"python {sys.version.split()[0]}, shap {shap.__version__}, numpy {np.__version__}, 20 features")
    throughput(folder, quick)
    global_explanation(folder)
    serving(folder, quick)


if __name__ == "__main__":
    main()
