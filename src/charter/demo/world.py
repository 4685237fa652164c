"""What the demo's steps share: its home, its people, its simulated clock and what earlier steps found.

The demo replays about half a day of a credit team's work in seconds, so everything it writes
is stamped by one :class:`~charter.clock.FixedClock` that the steps move forward; it starts on
the hour, far enough before now that the replay ends before the present (the dashboard then
shows it as what happened this morning). Only the ledger anchors of lake commits carry the
wall clock: they record when a batch was really written.

The people are principals with one role each, so that every approval is someone else's:

=======================  =================  ===================================================
principal                role               does
=======================  =================  ===================================================
``demo:admin``           admin              creates the home, grants the roles
``demo:ml-engineer``     developer          registers data and models, evaluates, asks for
                                            promotions and the retraining
``demo:risk-officer``    risk-officer       adopts the policies, certifies training data,
                                            approves promotions to prod (and is the dashboard's
                                            signed-in user)
``demo:on-call-lead``    approver           is paged, acknowledges, approves the retraining,
                                            resolves the incidents, writes the postmortems
``demo:serving``         (none)             the production service logging decisions
``demo:retrain-job``     developer          the retraining pipeline
=======================  =================  ===================================================
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from charter.clock import FixedClock
from charter.config import Settings, load_settings
from charter.demo.receiver import WebhookReceiver
from charter.services.context import Context

ADMIN = "demo:admin"
ENGINEER = "demo:ml-engineer"
RISK_OFFICER = "demo:risk-officer"
LEAD = "demo:on-call-lead"
SERVING = "demo:serving"
PIPELINE = "demo:retrain-job"
ROLES = {ENGINEER: "developer", RISK_OFFICER: "risk-officer", LEAD: "approver", PIPELINE: "developer"}

MODEL = "credit-risk"
ALIAS = "prod"
DEFAULT_SEED = 7
DEFAULT_HOURLY = 1000
#: Hours of traffic: before the shift and after it (both on the version first promoted), then on the retrained one.
HOURS_BEFORE, HOURS_AFTER, HOURS_RETRAINED = 3, 3, 1
#: The environment variables the demo sets while it runs: the webhook secret, and the replayed time for the
#: retraining job (a subprocess, started by the remediation service).
SECRET_ENV = "CHARTER_DEMO_WEBHOOK_SECRET"
NOW_ENV = "CHARTER_DEMO_NOW"


@dataclass(frozen=True)
class Options:
    """How to run the demo: where, with which seed, how much traffic, from when."""

    home: Path
    seed: int = DEFAULT_SEED
    hourly: int = DEFAULT_HOURLY  # decisions an hour before the shift; the broker channel doubles it
    start: datetime | None = None  # the replay's first hour (default: on the hour, 14 hours ago)

    def first_hour(self, now: datetime) -> datetime:
        if self.start is not None:
            return self.start.astimezone(UTC)
        return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=14)


@dataclass
class Demo:
    """The state the steps share (see the module docstring); :func:`open_demo` builds it, ``close`` ends it."""

    options: Options
    settings: Settings
    clock: FixedClock
    rng: np.random.Generator
    receiver: WebhookReceiver
    start: datetime  # the replay's first hour
    context: Context | None = None  # the admin's, once the home exists
    facts: dict[str, Any] = field(default_factory=dict)
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.settings.home

    def folder(self, name: str) -> Path:
        """A folder of the demo's own files in the home (data, models, suites, reports)."""
        path = self.home / "demo" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def as_(self, principal: str) -> Context:
        """The store as ``principal`` acts on it (one engine, one clock)."""
        if self.context is None:
            raise RuntimeError("the demo home is not created yet")
        return dataclasses.replace(self.context, settings=dataclasses.replace(self.context.settings, actor=principal))

    def at(self, when: datetime) -> None:
        """Move the replayed time to ``when`` (never backwards)."""
        if when < self.clock.now():
            raise RuntimeError(f"the demo's clock cannot go back from {self.clock.now()} to {when}")
        self.clock.set(when)

    def wait(self, minutes: float) -> datetime:
        return self.clock.advance(timedelta(minutes=minutes))

    def settings_for(self, principal: str) -> Settings:
        return dataclasses.replace(self.settings, actor=principal)

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None
        self.receiver.close()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    def set_env(self, name: str, value: str) -> None:
        """Set an environment variable for the demo's run (restored by ``close``)."""
        if name not in self._saved_env:
            self._saved_env[name] = os.environ.get(name)
        os.environ[name] = value


def demo_settings(home: Path, actor: str = ADMIN) -> Settings:
    """The demo home's settings: SQLite and the lake inside it, whatever ``CHARTER_*`` variables are set."""
    return load_settings(env={}, home=home, actor=actor)


def open_demo(options: Options, *, now: datetime | None = None) -> Demo:
    """The demo's shared state, with its webhook receiver listening; the home is created by the first step."""
    first = options.first_hour(now or datetime.now(UTC))
    receiver = WebhookReceiver(secrets.token_hex(32))
    rng = np.random.default_rng(options.seed)
    demo = Demo(options, demo_settings(options.home), FixedClock(first), rng, receiver, first)
    demo.set_env(SECRET_ENV, receiver.secret)
    return demo
