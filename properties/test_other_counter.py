"""The same engine on another counter, declared by a workload file: the
credits example passes, and its check-then-act mutant is caught."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest

from harness.explore import SearchSettings
from harness.pg.migrations import collect
from harness.pg.prepare import migrated_database
from harness.run.example import Lab
from harness.stress import stress
from harness.workload.file import load

from .conftest import FIND_BUDGET, PASS_BUDGET

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "credits"


@contextlib.contextmanager
def credits_lab(server, overlays=()) -> Iterator[tuple[Lab, SearchSettings]]:
    target, migrations = load(EXAMPLE / "workload.toml")
    settings = SearchSettings(ops=tuple(o.name for o in target.operations),
                              expiry=target.has_expiry, nulls=target.nullable,
                              shrink_budget=10.0, confirm_runs=5, seed=7)
    with migrated_database(server, collect(migrations, overlays), target) as db:
        with Lab(server.dsn(db), target) as lab:
            yield lab, settings


def test_credit_wallet_holds(server) -> None:
    with credits_lab(server) as (lab, settings):
        result = stress(lab, settings.__class__(**{**settings.__dict__, "time_budget": PASS_BUDGET}))
    assert result.failure is None, result.failure and result.failure.verdict.violations
    assert result.calls > 100


@pytest.mark.parametrize("mode", ["free", "schedule"])
def test_credit_wallet_mutant_is_caught(server, mode: str) -> None:
    with credits_lab(server, [EXAMPLE / "mutants" / "spend_check_then_act.sql"]) as (lab, s):
        result = stress(lab, s.__class__(**{**s.__dict__, "time_budget": FIND_BUDGET,
                                             "mode": mode}))
    assert result.failure is not None
    assert "within-total" in result.failure.verdict.broken
    assert len(result.failure.program.threads) == 2
