"""The demo's story as an ordered list of steps; ``charter demo`` tells it, one progress line per step.

A step is a title and a function ``run(demo, progress) -> lines``: it acts through the services
(:mod:`charter.demo.setup`, :mod:`charter.demo.operations`), reports progress as (done, total),
and returns what it found, one line each. :func:`tell` runs them in order on the demo's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from charter.demo import operations, setup
from charter.demo.world import Demo

Progress = Callable[[int, int], None]
#: Replayed minutes between two steps (people take a moment between things).
PAUSE_MINUTES = 2


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[Demo, Progress], list[str]]


STEPS: tuple[Step, ...] = (
    Step("Create the home, its people and their policies", setup.create_home),
    Step("Generate and register the data, with lineage", setup.register_data),
    Step("Certify the training data", setup.certify_training_data),
    Step("Train two versions", setup.train_models),
    Step("Evaluate both on the holdout and the edge-case suite", setup.evaluate_models),
    Step("Gate version 1 for prod", setup.gate_first),
    Step("Gate version 2 for prod", setup.gate_second),
    Step("Set up monitoring and on-call", operations.prepare_monitoring),
    Step("Serve production traffic; the population shifts halfway", operations.serve_production),
    Step("Retrain, approved by the on-call lead", operations.retrain),
    Step("Gate the retrained version", operations.gate_retrained),
    Step("Watch the retrained version", operations.watch_retrained),
    Step("Write the postmortems", operations.write_postmortems),
    Step("Verify the ledger and the lake", operations.verify_audit),
)


class Narrator(Protocol):
    """Who tells the story: told when a step starts (returning the step's progress callback) and when it ends."""

    def start(self, number: int, step: Step) -> Progress: ...

    def finish(self, number: int, step: Step, lines: list[str], seconds: float) -> None: ...


class Silent:
    """A narrator that tells nothing (the story's facts are in the store all the same)."""

    def start(self, number: int, step: Step) -> Progress:
        return lambda done, total: None

    def finish(self, number: int, step: Step, lines: list[str], seconds: float) -> None:
        return None


def tell(demo: Demo, narrator: Narrator | None = None) -> None:
    """Run every step in order; a step that cannot go on raises DemoFailed saying why."""
    import time

    teller = narrator or Silent()
    for number, step in enumerate(STEPS, start=1):
        if number > 1:
            demo.wait(PAUSE_MINUTES)
        began = time.perf_counter()
        lines = step.run(demo, teller.start(number, step))
        teller.finish(number, step, lines, time.perf_counter() - began)
