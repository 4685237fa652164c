from __future__ import annotations

import pytest

from charter.sdk.stats import backoff


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (1_000, 30.0)],
)
def test_backoff_doubles_up_to_its_cap(attempt: int, expected: float) -> None:
    assert backoff(attempt, initial=0.5, cap=30.0, rng=lambda: 1.0) == expected


def test_backoff_jitter_stays_between_half_and_all_of_the_delay() -> None:
    assert backoff(3, initial=1.0, cap=60.0, rng=lambda: 0.0) == 4.0
    assert all(4.0 <= backoff(3, initial=1.0, cap=60.0) <= 8.0 for _ in range(100))
