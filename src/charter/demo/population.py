"""The demo's synthetic credit applicants: a documented, seeded generator with a known ground truth.

Every applicant has identifiers (``applicant_id``), personal data that Charter must find and
mask (``name``, ``email``), a protected attribute (``sex``), six numeric features and the
ground truth ``repaid`` (1: the loan was repaid on schedule). The demo draws from two
populations, :data:`BRANCH` before the shift and :data:`BROKER` after it:

=========================  =============================================  ==============================================
column                     ``BRANCH`` (before the shift)                  ``BROKER`` (after the shift)
=========================  =============================================  ==============================================
``sex``                    female with probability 0.5                    female with probability 0.6
``income``                 k€/year, log-normal, median 42, sd(log) 0.40    median 33, sd(log) 0.45
``debt_to_income``         Beta(2, 5): mean 0.29                          Beta(2.6, 4.2): mean 0.38
``credit_history_years``   Gamma(3, 3): mean 9, the same for both sexes   female Gamma(2.2, 1.6), mean 3.5;
                                                                          male Gamma(3, 2.4), mean 7.2
``late_payments_2y``       Poisson(0.6)                                   Poisson(0.6)
``loan_amount``            k€, log-normal, median 15, sd(log) 0.5          median 19, sd(log) 0.5
``weekly_hours``           part-time (N(22, 4)) with probability 0.6 for  part-time with probability 0.1 for both
                           women, 0.05 for men; else full-time N(40, 3)
=========================  =============================================  ==============================================

Ground truth: ``repaid`` is 1 with probability ``sigmoid(z)``, where

    z = intercept + 2.0*ln(income/40) - 6.0*(debt_to_income - 0.3) - 0.9*late_payments_2y
        + history_weight*(credit_history_years - 8) - 1.2*ln(loan_amount/16) + 0.06*(weekly_hours - 36)

with ``intercept`` -0.2 and ``history_weight`` 0.15 for ``BRANCH`` (43% repay: 39% of women, 48% of
men), and 1.3 and 0 for ``BROKER`` (47% repay, women and men alike): for the broker's applicants,
many of them new to credit, the length of a credit history says nothing about repayment. ``sex`` never enters ``z``; it
matters only through ``weekly_hours``, which differs by sex in ``BRANCH``. That is what makes a
model that reads ``weekly_hours`` more accurate there and unfair to women (the four-fifths
rule), and a model that leans on ``credit_history_years`` unfair to the broker's women, whose
histories are short. The share who repay is lower than a real loan book's so that approval
rates sit far enough from 100% for the fairness rules to bite on a few thousand rows.

``name`` and ``email`` are drawn from short lists independently of every other column;
``email`` addresses are under ``example.com`` (reserved for examples, RFC 2606). The same
seed gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

#: The columns a model may read, and the one extra column the second version reads.
FEATURES = ("income", "debt_to_income", "credit_history_years", "late_payments_2y", "loan_amount")
PROXY = "weekly_hours"
PROTECTED = "sex"
LABEL = "repaid"
IDENTIFIERS = ("applicant_id", "name", "email")

_FIRST = (
    "Alex", "Sam", "Robin", "Charlie", "Jordan", "Taylor", "Morgan", "Casey", "Jamie", "Avery", "Riley", "Quinn",
    "Dana", "Kim", "Lee", "Noa", "Sasha", "Yuri", "Ari", "Eden", "Kai", "Luca", "Mika", "Nico",
)  # fmt: skip
_LAST = (
    "Smith", "Garcia", "Müller", "Rossi", "Nowak", "Dubois", "Jansen", "Silva", "Kowalski", "Novak", "Berg", "Larsen",
    "Costa", "Weber", "Moreau", "Fischer", "Romano", "Horvat", "Santos", "Keller", "Meyer", "Popescu",
)  # fmt: skip


@dataclass(frozen=True)
class Population:
    """The parameters of one population of applicants (see the module docstring's table)."""

    name: str
    female_share: float
    income_median: float
    income_sigma: float
    debt_beta: tuple[float, float]
    history_female: tuple[float, float]  # Gamma shape, scale
    history_male: tuple[float, float]
    late_mean: float
    loan_median: float
    part_time_female: float
    part_time_male: float
    intercept: float
    history_weight: float


BRANCH = Population(
    name="branch", female_share=0.5, income_median=42.0, income_sigma=0.40, debt_beta=(2.0, 5.0),
    history_female=(3.0, 3.0), history_male=(3.0, 3.0), late_mean=0.6, loan_median=15.0,
    part_time_female=0.6, part_time_male=0.05, intercept=-0.2, history_weight=0.15,
)  # fmt: skip
BROKER = Population(
    name="broker", female_share=0.6, income_median=33.0, income_sigma=0.45, debt_beta=(2.6, 4.2),
    history_female=(2.2, 1.6), history_male=(3.0, 2.4), late_mean=0.6, loan_median=19.0,
    part_time_female=0.1, part_time_male=0.1, intercept=1.3, history_weight=0.0,
)  # fmt: skip


def repayment_logit(population: Population, columns: dict[str, np.ndarray]) -> np.ndarray:
    """``z`` of the module docstring: the log-odds that each applicant repays."""
    return (
        population.intercept
        + 2.0 * np.log(columns["income"] / 40.0)
        - 6.0 * (columns["debt_to_income"] - 0.3)
        - 0.9 * columns["late_payments_2y"]
        + population.history_weight * (columns["credit_history_years"] - 8.0)
        - 1.2 * np.log(columns["loan_amount"] / 16.0)
        + 0.06 * (columns["weekly_hours"] - 36.0)
    )


def applicants(n: int, population: Population, rng: np.random.Generator, *, first_id: int = 1) -> pd.DataFrame:
    """``n`` applicants drawn from ``population`` with ``rng``; ids run from ``first_id``."""
    import pandas as pd

    if n < 0:
        raise ValueError(f"n must be at least 0, not {n}")
    female = rng.random(n) < population.female_share
    shape = np.where(female, population.history_female[0], population.history_male[0])
    scale = np.where(female, population.history_female[1], population.history_male[1])
    part_time = rng.random(n) < np.where(female, population.part_time_female, population.part_time_male)
    columns = {
        "income": np.round(rng.lognormal(np.log(population.income_median), population.income_sigma, n), 1),
        "debt_to_income": np.round(rng.beta(*population.debt_beta, n), 3),
        "credit_history_years": np.round(rng.gamma(shape, scale), 1),
        "late_payments_2y": rng.poisson(population.late_mean, n).astype(np.int64),
        "loan_amount": np.round(rng.lognormal(np.log(population.loan_median), 0.5, n), 1),
        "weekly_hours": np.round(np.clip(np.where(part_time, rng.normal(22, 4, n), rng.normal(40, 3, n)), 8, 60), 1),
    }
    probability = 1.0 / (1.0 + np.exp(-repayment_logit(population, columns)))
    repaid = (rng.random(n) < probability).astype(np.int64)
    first = rng.choice(np.array(_FIRST), n)
    last = rng.choice(np.array(_LAST), n)
    ids = np.arange(first_id, first_id + n)
    return pd.DataFrame({
        "applicant_id": [f"A{i:07d}" for i in ids],
        "name": [f"{a} {b}" for a, b in zip(first, last, strict=True)],
        "email": [f"{a}.{_ascii(b)}.{i}@example.com".lower() for a, b, i in zip(first, last, ids, strict=True)],
        PROTECTED: np.where(female, "female", "male"),
        **columns,
        LABEL: repaid,
    })  # fmt: skip


def _ascii(text: str) -> str:
    return text.replace("ü", "ue")
