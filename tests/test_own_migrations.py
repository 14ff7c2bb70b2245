"""Pointing the harness at your own code: a messy Supabase folder, a schema
dump, an existing database (copied, never written)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from harness.pg.janitor import scratch_database
from harness.pg.local import find_binaries
from harness.pg.migrations import _missing_extension, apply, collect
from harness.pg.server import open_server

from .test_cli import ROOT, harness, one_line_error

MESSY = "tests/fixtures/supabase_app"


def test_a_messy_folder_stops_at_the_first_failing_file() -> None:
    p = harness("stress", "--migrations", MESSY, "--time-budget", "1")
    one_line_error(p, "20240115100000_client_self_read.sql:2:",
                   'column "auth_user_id" does not exist')


def test_the_line_is_found_also_when_the_server_gives_no_position(tmp_path: Path) -> None:
    # A PL/pgSQL error in a DO block, in a file that manages its own transaction.
    (tmp_path / "0001_tx.sql").write_text(
        "begin;\ncreate table public.t1 (x int);\n\ndo $$ begin\n  perform 1 / 0;\n"
        "end $$;\ncommit;\n")
    one_line_error(harness("stress", "--migrations", str(tmp_path)),
                   "0001_tx.sql:4:", "division by zero")


def test_continue_on_error_lists_every_failure_and_runs(tmp_path: Path) -> None:
    p = harness("stress", "--migrations", MESSY, "--continue-on-error", "--time-budget", "3",
                "--report-dir", str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    expected = [
        '20240115100000_client_self_read.sql:2: column "auth_user_id" does not exist',
        "20240120080000_pricing.sql:19: functions in index predicate must be marked IMMUTABLE",
        '20240120080000_pricing.sql:22: policy "clients_member_all" for table "clients" '
        "already exists",
        "20240120080000_pricing.sql:36: column c.auth_user_id does not exist",
    ]
    assert "4 migration statements failed" in p.stderr
    for e in expected:
        assert f"{MESSY}/{e}" in p.stderr, p.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["migration_failures"] == [f"{MESSY}/{e}" for e in expected]
    assert summary["verdict"] == "pass" and summary["operations"] > 0


def test_continue_on_error_still_needs_the_functions(tmp_path: Path) -> None:
    for f in Path(ROOT / MESSY).glob("*.sql"):
        if "release_session" not in f.name:
            shutil.copy(f, tmp_path / f.name)
    one_line_error(harness("stress", "--migrations", str(tmp_path), "--continue-on-error"),
                   "public.release_session(uuid)")


def test_an_extension_the_server_lacks_is_named(tmp_path: Path) -> None:
    (tmp_path / "0001_ext.sql").write_text(
        "-- Supabase has it; a plain server does not\n"
        "create extension if not exists pg_graphql with schema extensions;\n")
    one_line_error(harness("stress", "--migrations", str(tmp_path)),
                   "0001_ext.sql:2:", 'extension "pg_graphql" is not available')


def test_missing_extension_messages_of_old_and_new_servers() -> None:
    assert _missing_extension(
        "58P01", 'could not open extension control file '
        '"/usr/share/postgresql/15/extension/pg_net.control": No such file or directory'
    ) == "pg_net"
    assert _missing_extension("0A000", 'extension "pg_graphql" is not available') == "pg_graphql"
    assert _missing_extension("58P01", 'could not open file "base/1/2": No such file') is None
    assert _missing_extension("0A000", "cannot use subquery in index predicate") is None


def _dump_of_migrated_database(tmp_path: Path) -> Path:
    """A real ``pg_dump --schema-only`` of a database the migrations built
    (psql meta-commands, SETs, set_config('search_path', '', false) and all)."""
    out = tmp_path / "dump.sql"
    with open_server() as info, scratch_database(info) as db:
        with psycopg.connect(info.dsn(db), autocommit=True) as conn:
            apply(conn, collect(ROOT / "migrations"))
        exe = shutil.which("pg_dump") or str(find_binaries().bindir / "pg_dump")
        out.write_text(subprocess.run([exe, "--schema-only", info.dsn(db)],
                                      capture_output=True, text=True, check=True).stdout)
    text = out.read_text()
    assert "set_config('search_path', '', false)" in text and "CREATE FUNCTION" in text
    return out


def test_a_schema_dump_instead_of_a_folder(tmp_path: Path) -> None:
    dump = _dump_of_migrated_database(tmp_path)
    p = harness("stress", "--schema", str(dump), "--time-budget", "3",
                "--report-dir", str(tmp_path / "r"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "failed" not in p.stderr, p.stderr  # nothing of the dump was skipped
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["schema"] == str(dump) and summary["migration_failures"] == []
    mutant = harness("stress", "--schema", str(dump), "--time-budget", "20",
                     "--overlay", "migrations/mutants/use_session_app_0010.sql",
                     "--report-dir", str(tmp_path / "r2"))
    assert mutant.returncode == 1, mutant.stdout + mutant.stderr


def test_a_supabase_dump_names_the_extensions_it_skips(tmp_path: Path) -> None:
    # `supabase db dump` also creates Supabase's own extensions: a dump is applied
    # statement by statement, so those are listed, and the run goes on.
    lines = _dump_of_migrated_database(tmp_path).read_text().split("\n")
    at = next(i for i, l in enumerate(lines) if l.startswith("CREATE SCHEMA"))
    lines[at:at] = ['CREATE EXTENSION IF NOT EXISTS "pg_graphql" WITH SCHEMA "graphql";',
                    'CREATE EXTENSION IF NOT EXISTS "pgsodium" WITH SCHEMA "pgsodium";']
    dump = tmp_path / "supabase_dump.sql"
    dump.write_text("\n".join(lines) + "\nRESET ALL;\n")
    p = harness("stress", "--schema", str(dump), "--time-budget", "1",
                "--report-dir", str(tmp_path / "r"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 migration statements failed and were skipped" in p.stderr
    for n, name in enumerate(["pg_graphql", "pgsodium"]):
        assert f'{dump}:{at + 1 + n}: extension "{name}" is not available' in p.stderr, p.stderr


def test_overlays_after_a_dump_see_the_usual_search_path(tmp_path: Path) -> None:
    # The dump empties search_path for its own statements; that must not
    # outlive it: unqualified names in an overlay resolve as usual.
    dump = _dump_of_migrated_database(tmp_path)
    overlay = tmp_path / "notes.sql"
    overlay.write_text("create table purchase_notes (id uuid default uuid_generate_v4(), "
                       "purchase_id uuid references client_purchases (id));\n")
    p = harness("stress", "--schema", str(dump), "--overlay", str(overlay),
                "--time-budget", "1", "--report-dir", str(tmp_path / "r"))
    assert p.returncode == 0, p.stdout + p.stderr


_ORIGINAL_ROWS = """
    insert into auth.users (id) values ('00000000-0000-0000-0000-0000000000a1');
    insert into public.orgs (id, name) values ('00000000-0000-0000-0000-0000000000a2', 'org');
    insert into public.clients (id, org_id, name)
        values ('00000000-0000-0000-0000-0000000000a3', '00000000-0000-0000-0000-0000000000a2', 'c');
    insert into public.offers (id, org_id, name)
        values ('00000000-0000-0000-0000-0000000000a4', '00000000-0000-0000-0000-0000000000a2', 'o');
    insert into public.client_purchases (org_id, client_id, offer_id, amount_paid_cents,
                                         sessions_total, sessions_used, payment_status)
        select '00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-0000000000a3',
               '00000000-0000-0000-0000-0000000000a4', 5000, 10, g % 11, 'succeeded'
        from generate_series(1, 40) g;
"""

_CHECKSUM = """
    select (select md5(string_agg(t::text, ',' order by t.id)) from public.client_purchases t),
           (select md5(string_agg(p.oid || p.proname || p.prosrc
                                  || coalesce(array_to_string(p.proconfig, ','), '')
                                  || coalesce(array_to_string(p.proacl, ','), ''),
                                  ',' order by p.oid)) from pg_proc p),
           (select count(*) from pg_class)
"""


@pytest.mark.parametrize("how", ["template", "pg_dump", "dsn-names-it"])
def test_clone_db_never_writes_the_original(tmp_path: Path, how: str) -> None:
    with open_server() as info, scratch_database(info) as db:
        with psycopg.connect(info.dsn(db), autocommit=True) as conn:
            apply(conn, collect(ROOT / "migrations"))
            conn.execute(_ORIGINAL_ROWS)
            before = conn.execute(_CHECKSUM).fetchone()
        # Someone else on it: CREATE DATABASE ... TEMPLATE cannot copy it.
        other = psycopg.connect(info.dsn(db)) if how == "pg_dump" else None
        try:
            p = harness("stress", "--dsn", info.dsn(db if how == "dsn-names-it" else "postgres"),
                        "--clone-db", db,
                        "--overlay", "migrations/mutants/release_read_then_write.sql",
                        "--time-budget", "20", "--report-dir", str(tmp_path))
        finally:
            if other is not None:
                other.close()
        assert p.returncode == 1, p.stdout + p.stderr  # the overlay went into the copy
        said = [l for l in p.stderr.splitlines() if l.startswith("harness: testing a copy")]
        assert len(said) == 1 and f"database {db}" in said[0], p.stderr
        assert ("pg_dump --schema-only" in said[0]) == (how == "pg_dump"), said
        assert ("TEMPLATE" in said[0]) == (how != "pg_dump"), said
        assert json.loads((tmp_path / "summary.json").read_text())["clone_db"] == db
        with psycopg.connect(info.dsn(db), autocommit=True) as conn:
            assert conn.execute(_CHECKSUM).fetchone() == before
            assert conn.execute("select to_regnamespace('harness')").fetchone() == (None,)
        with psycopg.connect(info.dsn("postgres"), autocommit=True) as conn:
            left = conn.execute("select datname from pg_database where datname like 'harness%%' "
                                "and datname <> %s", (db,)).fetchall()
        assert left == []


def test_clone_db_without_a_server_is_a_usage_error() -> None:
    one_line_error(harness("stress", "--clone-db", "app", env={"HARNESS_DSN": ""}),
                   "--clone-db app needs --dsn")


def test_clone_db_of_a_database_that_is_not_there(tmp_path: Path) -> None:
    with open_server() as info:
        one_line_error(harness("stress", "--dsn", info.dsn(), "--clone-db", "nope"),
                       "--clone-db nope: no such database")
