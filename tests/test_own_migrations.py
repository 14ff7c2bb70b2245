"""Pointing the harness at your own code: a messy Supabase folder, a schema
dump, an existing database (copied, never written)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from harness.pg.local import find_binaries
from harness.pg.migrations import collect
from harness.pg.prepare import migrated_database
from harness.pg.server import open_server
from harness.target import SESSION_PACK

from .test_cli import ROOT, harness, one_line_error

MESSY = "tests/fixtures/supabase_app"


def test_a_messy_folder_stops_at_the_first_failing_file() -> None:
    p = harness("stress", "--migrations", MESSY, "--time-budget", "1")
    one_line_error(p, "20240115100000_client_self_read.sql", 'column "auth_user_id" does not exist')


def test_continue_on_error_lists_every_failure_and_runs(tmp_path: Path) -> None:
    p = harness("stress", "--migrations", MESSY, "--continue-on-error", "--time-budget", "3",
                "--report-dir", str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 migration statements failed" in p.stderr
    assert "20240120080000_pricing.sql:19: functions in index predicate must be marked IMMUTABLE" in p.stderr
    assert 'policy "clients_member_all" for table "clients" already exists' in p.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["migration_failures"]) == 3 and summary["verdict"] == "pass"


def test_continue_on_error_still_needs_the_functions(tmp_path: Path) -> None:
    for f in Path(ROOT / MESSY).glob("*.sql"):
        if "release_session" not in f.name:
            shutil.copy(f, tmp_path / f.name)
    one_line_error(harness("stress", "--migrations", str(tmp_path), "--continue-on-error"),
                   "public.release_session(uuid)")


def test_an_extension_the_server_lacks_is_named(tmp_path: Path) -> None:
    (tmp_path / "0001_ext.sql").write_text("create extension if not exists pg_graphql;\n")
    one_line_error(harness("stress", "--migrations", str(tmp_path)), 'extension "pg_graphql"')


def _dump_of_migrated_database(tmp_path: Path) -> Path:
    out = tmp_path / "dump.sql"
    with open_server() as info, migrated_database(info, collect(ROOT / "migrations"),
                                                   SESSION_PACK) as db:
        exe = shutil.which("pg_dump") or str(find_binaries().bindir / "pg_dump")
        out.write_text(subprocess.run([exe, "--schema-only", "--no-owner", info.dsn(db)],
                                      capture_output=True, text=True, check=True).stdout)
    return out


def test_a_schema_dump_instead_of_a_folder(tmp_path: Path) -> None:
    dump = _dump_of_migrated_database(tmp_path)
    p = harness("stress", "--schema", str(dump), "--time-budget", "3",
                "--report-dir", str(tmp_path / "r"))
    assert p.returncode == 0, p.stdout + p.stderr
    mutant = harness("stress", "--schema", str(dump), "--time-budget", "20",
                     "--overlay", "migrations/mutants/use_session_app_0010.sql",
                     "--report-dir", str(tmp_path / "r2"))
    assert mutant.returncode == 1, mutant.stdout + mutant.stderr


@pytest.mark.parametrize("busy", [False, True], ids=["template", "pg_dump"])
def test_clone_db_never_writes_the_original(tmp_path: Path, busy: bool) -> None:
    fingerprint = ("select md5(string_agg(p.proname || p.prosrc, ',' order by p.oid)) "
                   "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                   "where n.nspname = 'public'")
    with open_server() as info, migrated_database(info, collect(ROOT / "migrations"),
                                                   SESSION_PACK) as db:
        with psycopg.connect(info.dsn(db), autocommit=True) as conn:
            before = conn.execute(fingerprint).fetchone()
            if not busy:
                conn.close()
            p = harness("stress", "--dsn", info.dsn("postgres"), "--clone-db", db,
                        "--overlay", "migrations/mutants/release_read_then_write.sql",
                        "--time-budget", "20", "--report-dir", str(tmp_path))
        assert p.returncode == 1, p.stdout + p.stderr  # the overlay went into the copy
        assert ("pg_dump" in p.stderr) == busy
        with psycopg.connect(info.dsn(db), autocommit=True) as conn:
            assert conn.execute(fingerprint).fetchone() == before
            assert conn.execute("select count(*) from public.client_purchases").fetchone() == (0,)
        with psycopg.connect(info.dsn("postgres"), autocommit=True) as conn:
            left = conn.execute("select count(*) from pg_database where datname like 'harness%%' "
                                "and datname <> %s", (db,)).fetchone()
        assert left == (0,)
