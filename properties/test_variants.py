"""The harness must fail every known-bad variant, with the property its header
names, and pass the migrations and every known-good variant.

A mutant's header says what it breaks, on a line ``-- expect: <property>, ...``;
the test passes when the search breaks at least one of those properties.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.check.verdict import PROPERTIES
from harness.explore import search
from harness.stress import stress

from .conftest import FIND_BUDGET, MIGRATIONS, search_settings

MUTANTS = sorted((MIGRATIONS / "mutants").glob("*.sql"))
FIXES = sorted((MIGRATIONS / "fixes").glob("*.sql"))


def expected(path: Path) -> set[str]:
    m = re.search(r"^--\s*expect:\s*(.+)$", path.read_text(), re.M)
    assert m, f"{path.name} has no '-- expect: <property>' line"
    props = {p.strip() for p in m.group(1).split(",")}
    assert props <= set(PROPERTIES), f"{path.name}: unknown property in {props}"
    return props


def ops_for(path: Path) -> tuple[str, ...]:
    m = re.search(r"^--\s*ops:\s*(.+)$", path.read_text(), re.M)
    return tuple(o.strip() for o in m.group(1).split(",")) if m else ("use", "release")


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda p: p.stem)
def test_mutant_is_caught(lab_for, mutant: Path) -> None:
    with lab_for([mutant]) as lab:
        result = stress(lab, search_settings(time_budget=FIND_BUDGET, ops=ops_for(mutant)))
    assert result.failure is not None, f"{mutant.name}: no violation in {result.calls} calls"
    broken = set(result.failure.verdict.broken)
    assert broken & expected(mutant), (
        f"{mutant.name}: broke {sorted(broken)}, expected one of {sorted(expected(mutant))}")
    # The counterexample is a real run and small enough to read.
    assert len(result.failure.program.threads) <= 4


def test_migrations_hold(lab) -> None:
    result = search(lab, search_settings())
    assert result.failure is None, result.failure and result.failure.verdict.violations
    assert result.calls > 100  # the search really ran


@pytest.mark.parametrize("fix", FIXES, ids=lambda p: p.stem)
def test_fix_holds(lab_for, fix: Path) -> None:
    with lab_for([fix]) as lab:
        result = search(lab, search_settings())
    assert result.failure is None, result.failure and result.failure.verdict.violations
    assert result.calls > 100


def test_naive_reinstate_loses_updates(lab) -> None:
    """DATA-01: the app's old read-then-write Reinstate path fails the invariants."""
    result = search(lab, search_settings(time_budget=FIND_BUDGET,
                                         ops=("release", "reinstate_naive")))
    assert result.failure is not None
    assert {"no-lost-update", "conservation"} & set(result.failure.verdict.broken)


def test_release_session_holds_where_naive_fails(lab) -> None:
    """The same search with release_session alone finds nothing."""
    result = search(lab, search_settings(ops=("release",)))
    assert result.failure is None, result.failure and result.failure.verdict.violations


# -- the step scheduler ----------------------------------------------------------

SCHEDULABLE = [m for m in MUTANTS
               if not re.search(r"^--\s*schedule:\s*no", m.read_text(), re.M)]


@pytest.mark.parametrize("mutant", SCHEDULABLE, ids=lambda p: p.stem)
def test_mutant_is_caught_by_a_schedule_that_replays_exactly(lab_for, mutant: Path) -> None:
    from harness.explore import replay

    settings = search_settings(mode="schedule", time_budget=FIND_BUDGET, ops=ops_for(mutant))
    with lab_for([mutant]) as lab:
        result = stress(lab, settings)
        assert result.failure is not None, f"{mutant.name}: no violating schedule"
        assert set(result.failure.verdict.broken) & expected(mutant)
        program = result.failure.program
        assert len(program.threads) <= 2 and all(len(t) <= 2 for t in program.threads), (
            program.describe())
        failing, runs = replay(lab, program, settings, 10,
                               schedule=result.failure.observation.schedule)
    assert (failing, runs) == (10, 10)


def test_single_statement_race_is_reported_as_out_of_reach_of_pause_points(lab_for) -> None:
    mutant = MIGRATIONS / "mutants" / "release_subquery_lost_update.sql"
    with lab_for([mutant]) as lab:
        result = search(lab, search_settings(mode="schedule", time_budget=2.0))
    assert any("release_session runs one SQL statement" in n for n in result.notes)


# -- isolation levels: what PostgreSQL documents ------------------------------------

def test_naive_reinstate_under_read_committed_loses_updates(lab) -> None:
    result = search(lab, search_settings(mode="schedule", time_budget=FIND_BUDGET,
                                         ops=("release", "reinstate_naive"),
                                         isolation="read-committed"))
    assert result.failure is not None
    assert {"no-lost-update", "conservation"} & set(result.failure.verdict.broken)


@pytest.mark.parametrize("level", ["repeatable-read", "serializable"])
def test_naive_reinstate_fails_with_40001_instead(lab, level: str) -> None:
    result = search(lab, search_settings(mode="schedule", ops=("release", "reinstate_naive"),
                                         isolation=level))
    assert result.failure is None, result.failure and result.failure.verdict.violations
    assert result.errors.get("40001", 0) > 0, result.errors  # the conflicts really happened


# -- exhaustive small bounds ----------------------------------------------------------

def test_exhaustive_bound_holds_on_the_migrations(lab) -> None:
    from harness.exhaustive import Bound, exhaustive

    res = exhaustive(lab, search_settings(mode="schedule"), Bound(2, 2))
    assert res.failure is None, res.failure and res.failure.verdict.violations
    assert res.covered >= res.runs > res.programs > 0


def test_exhaustive_3x3_holds_on_the_migrations(lab) -> None:
    """Issue 4's bound. Each function of the migrations is one UPDATE, so each
    call is one step and every program has 9! / (3! 3! 3!) = 1680
    interleavings: merging must account for every one of them."""
    from harness.exhaustive import Bound, exhaustive

    res = exhaustive(lab, search_settings(mode="schedule"), Bound(3, 3))
    assert res.failure is None, res.failure and res.failure.verdict.violations
    assert res.programs == res.total_programs > 0
    assert res.covered == res.programs * 1680
    assert res.merging and res.runs < res.covered // 50


def test_exhaustive_bound_finds_the_apps_use_session(lab_for) -> None:
    from harness.exhaustive import Bound, exhaustive

    with lab_for([MIGRATIONS / "mutants" / "use_session_app_0010.sql"]) as lab:
        res = exhaustive(lab, search_settings(mode="schedule"), Bound(2, 2))
    assert res.failure is not None
    assert "within-total" in res.failure.verdict.broken


# Merging runs at states seen before must not lose an interleaving: against
# running every branch to its end, it covers the same number of leaves and
# finds a violation exactly where that does.
MERGE_CASES = [None, *FIXES, *MUTANTS]


@pytest.mark.parametrize("variant", MERGE_CASES,
                         ids=lambda p: "migrations" if p is None else p.stem)
def test_merging_states_loses_no_interleaving(lab_for, variant: Path | None) -> None:
    from harness.exhaustive import Bound, exhaustive

    bound = Bound(2, 3)
    settings = search_settings(mode="schedule")
    with lab_for([variant] if variant else []) as lab:
        merged = exhaustive(lab, settings, bound)
        every = exhaustive(lab, settings, bound, merge=False)
    assert (merged.failure is None) == (every.failure is None), (merged.failure, every.failure)
    if every.failure is None:
        assert merged.covered == every.covered > 0
        assert merged.merging and merged.merged > 0
        assert merged.runs < every.runs


def test_merging_is_turned_off_when_functions_keep_state_elsewhere(lab_for, tmp_path) -> None:
    """A state is the counter's rows and the calls left. A function that also
    writes another table keeps state the harness does not compare, so the
    search must notice and run every branch instead."""
    from harness.exhaustive import Bound, exhaustive

    logging_use = tmp_path / "use_session_logs.sql"
    logging_use.write_text("""
        create table public.session_log (purchase_id uuid, at timestamptz default now());
        create or replace function public.use_session(p_purchase_id uuid)
        returns boolean language plpgsql security definer as $$
        begin
          update public.client_purchases set sessions_used = sessions_used + 1
           where id = p_purchase_id and sessions_used < sessions_total
             and (expires_at is null or expires_at >= now());
          if found then
            insert into public.session_log (purchase_id) values (p_purchase_id);
          end if;
          return found;
        end $$;
    """)
    settings = search_settings(mode="schedule")
    with lab_for([logging_use]) as lab:
        res = exhaustive(lab, settings, Bound(2, 2))
        every = exhaustive(lab, settings, Bound(2, 2), merge=False)
    assert res.failure is None, res.failure and res.failure.verdict.violations
    assert not res.merging and res.merged == 0
    assert "other tables" in res.note
    assert res.covered == every.covered and res.runs == every.runs


def test_wrong_value_only_under_concurrency_is_caught_by_linearizability_alone(lab_for) -> None:
    """With the audit trail's checks off, only the history is left: the
    linearizability check must still see the wrong returned value."""
    mutant = MIGRATIONS / "mutants" / "release_wrong_value_under_race.sql"
    with lab_for([mutant]) as lab:
        result = stress(lab, search_settings(mode="schedule", time_budget=FIND_BUDGET,
                                             use_audit=False))
    assert result.failure is not None
    assert result.failure.verdict.broken == ("linearizable",)
