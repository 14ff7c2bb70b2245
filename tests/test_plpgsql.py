"""Reading PL/pgSQL with pglast: the statements a function runs, and the
structural truth that a decrement reads nothing before it writes."""

from __future__ import annotations

from pathlib import Path

from harness.check.structure import reads_before_write
from harness.plpgsql import statements

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def body(path: Path) -> str:
    """The last CREATE FUNCTION in a migration file."""
    text = path.read_text()
    return text[text.lower().rindex("create or replace function"):]


def test_statements_in_body_order_with_lines() -> None:
    sts = statements(body(MIGRATIONS / "mutants" / "release_read_then_write.sql"))
    kinds = [s.text.split()[0].lower() for s in sts]
    assert kinds == ["select", "update"]
    assert sts[0].line < sts[1].line


def test_subqueries_in_expressions_count_as_statements() -> None:
    fn = """create function f(p uuid) returns int language plpgsql as $$
    begin
      if (select sessions_used from public.client_purchases where id = p) > 0 then
        update public.client_purchases set sessions_used = sessions_used - 1 where id = p;
      end if;
      return 1;
    end $$"""
    sts = statements(fn)
    assert len(sts) == 2 and sts[0].sql.lower().startswith("select")


def test_the_plans_release_reads_nothing_before_it_writes() -> None:
    assert reads_before_write(body(MIGRATIONS / "0032_release_session_function.sql"),
                              "public.client_purchases") == []


def test_check_then_act_and_subquery_reads_are_found() -> None:
    for mutant in ("release_read_then_write.sql", "release_subquery_lost_update.sql",
                   "use_session_app_0010.sql"):
        found = reads_before_write(body(MIGRATIONS / "mutants" / mutant), "client_purchases")
        assert found, mutant
