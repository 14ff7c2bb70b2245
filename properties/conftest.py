"""Fixtures for the properties of the system under test.

Each pytest-xdist worker starts its own throwaway cluster (local backend, or
the server of HARNESS_DSN) and migrates ``migrations/`` once into a template;
each variant (the migrations plus an overlay) is a clone of that template.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Sequence

import pytest
from hypothesis import HealthCheck, Phase, settings

from harness.explore import SearchSettings
from harness.pg.janitor import scratch_database
from harness.pg.migrations import collect
from harness.pg.prepare import migrate_into
from harness.pg.server import ServerInfo, open_server
from harness.run.example import Lab
from harness.target import SESSION_PACK

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"

# Budgets for the Hypothesis tests run directly by pytest (the searches below
# carry their own time budgets).
settings.register_profile("dev", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("stress", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow],
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                                  Phase.shrink])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# Searches: how long to look before calling a variant correct, and how long a
# known-bad variant may take to be found. Scaled by HARNESS_BUDGET_SCALE.
_SCALE = float(os.environ.get("HARNESS_BUDGET_SCALE", "1"))
PASS_BUDGET = 8.0 * _SCALE
FIND_BUDGET = 20.0 * _SCALE


def search_settings(**overrides: object) -> SearchSettings:
    base: dict[str, object] = dict(time_budget=PASS_BUDGET, shrink_budget=20.0 * _SCALE,
                                   shrink_repeats=4, confirm_runs=5, seed=12345)
    base.update(overrides)
    return SearchSettings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def server() -> Iterator[ServerInfo]:
    with open_server() as info:
        yield info


@pytest.fixture(scope="session")
def template(server: ServerInfo) -> Iterator[str]:
    with scratch_database(server, kind="tpl") as name:
        migrate_into(server, name, collect(MIGRATIONS), SESSION_PACK)
        yield name


LabFactory = Callable[[Sequence[Path]], ContextManager[Lab]]


@pytest.fixture(scope="session")
def lab_for(server: ServerInfo, template: str) -> LabFactory:
    """``with lab_for([overlay, ...]) as lab``: the migrations plus overlays."""

    @contextlib.contextmanager
    def make(overlays: Sequence[Path] = ()) -> Iterator[Lab]:
        with scratch_database(server, template=template) as db:
            if overlays:
                # Overlays only: the template already has the migrations, the
                # harness schema and the fixture rows (re-installing is harmless).
                migrate_into(server, db, collect(None, overlays), SESSION_PACK)
            with Lab(server.dsn(db), SESSION_PACK) as lab:
                yield lab

    return make


@pytest.fixture(scope="module")
def lab(lab_for: LabFactory) -> Iterator[Lab]:
    with lab_for(()) as lab:
        yield lab
