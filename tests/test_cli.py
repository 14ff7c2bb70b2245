"""The command line as a user meets it: exit codes, one-line errors, reports,
and nothing left behind -- also when a run is interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
MUTANT = ROOT / "migrations" / "mutants" / "use_session_app_0010.sql"


def harness(*args: str, timeout: float = 180, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line_error(p: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def our_clusters(pid: int) -> list[str]:
    """Temporary cluster folders whose owner is process ``pid``."""
    found = []
    for d in Path(tempfile.gettempdir()).glob("harness-pg-*"):
        try:
            if int((d / "owner.pid").read_text()) == pid:
                found.append(str(d))
        except (OSError, ValueError):
            pass
    return found


def postgres_under(path_fragment: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if "postgres" in l and path_fragment in l]


# -- usage errors ---------------------------------------------------------------


def test_unknown_flag() -> None:
    one_line_error(harness("stress", "--no-such-flag"), "--no-such-flag")


def test_bad_number() -> None:
    one_line_error(harness("stress", "--threads", "1"), "--threads")


def test_unknown_op() -> None:
    one_line_error(harness("stress", "--ops", "use,teleport"), "teleport")


def test_missing_migrations_dir(tmp_path: Path) -> None:
    one_line_error(harness("stress", "--migrations", str(tmp_path / "nope")),
                   "migrations directory not found")


def test_missing_overlay() -> None:
    one_line_error(harness("stress", "--overlay", "no/such/fix.sql"), "no/such/fix.sql")


def test_no_binaries(tmp_path: Path) -> None:
    one_line_error(harness("stress", "--pg-bin", str(tmp_path)), "--pg-bin")


def test_unreachable_dsn() -> None:
    p = harness("stress", "--dsn", "host=127.0.0.1 port=1 user=nobody dbname=x connect_timeout=2")
    one_line_error(p, "cannot connect")


def test_docker_unavailable() -> None:
    p = harness("stress", "--backend", "docker",
                env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    one_line_error(p, "Docker")


def test_replay_without_counterexample(tmp_path: Path) -> None:
    one_line_error(harness("replay", str(tmp_path)), "no counterexample")


def test_broken_migration_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("create table t (id int);\n")
    (tmp_path / "0002_bad.sql").write_text("-- a comment\ncreate table u (id int);\n\nselect * from nope;\n")
    p = harness("stress", "--migrations", str(tmp_path), "--time-budget", "1")
    one_line_error(p, "0002_bad.sql:4", 'relation "nope" does not exist')


def test_help_has_examples() -> None:
    p = harness("stress", "--help")
    assert p.returncode == 0 and "examples:" in p.stdout and "--overlay" in p.stdout


# -- runs -----------------------------------------------------------------------


def test_mutant_fails_with_counterexample_and_replays(tmp_path: Path) -> None:
    report = tmp_path / "report"
    p = harness("stress", "--overlay", str(MUTANT), "--time-budget", "30",
                "--shrink-budget", "5", "--seed", "7", "--report-dir", str(report))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FAIL: " in p.stdout and "within-total" in p.stdout
    assert "Minimal counterexample" in p.stdout and "reproduce:" in p.stdout
    summary = json.loads((report / "summary.json").read_text())
    assert summary["verdict"] == "fail"
    assert summary["properties"]["within-total"] == "fail"
    assert summary["counterexample"]["program"]["threads"]
    assert (report / "counterexample.json").is_file() and (report / "history.jsonl").is_file()

    replayed = harness("replay", str(report), "--runs", "200")
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "STILL FAILS" in replayed.stdout

    fixed = harness("replay", str(report), "--runs", "50", "--overlay",
                    str(ROOT / "migrations" / "0033_use_session_guarded.sql"))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_migrations_pass(tmp_path: Path) -> None:
    p = harness("stress", "--time-budget", "5", "--report-dir", str(tmp_path), "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    summary = json.loads(p.stdout)
    assert summary["verdict"] == "pass" and summary["operations"] > 0
    assert set(summary["properties"].values()) == {"pass"}


def test_bad_bound() -> None:
    one_line_error(harness("stress", "--exhaustive", "3"), "--exhaustive", "SESSIONSxSTEPS")


def test_exhaustive_bound_passes_then_fails_with_the_app_mutant(tmp_path: Path) -> None:
    p = harness("stress", "--exhaustive", "2x3", "--report-dir", str(tmp_path / "ok"), "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    summary = json.loads(p.stdout)
    assert summary["verdict"] == "pass" and summary["found_by"] == "exhaustive 2x3"
    assert "interleavings covered by" in summary["exhaustive"]
    p = harness("stress", "--exhaustive", "2x3", "--overlay", str(MUTANT),
                "--report-dir", str(tmp_path / "bad"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "exhaustive 2x3: a violation in program" in p.stdout and "within-total" in p.stdout
    assert harness("replay", str(tmp_path / "bad"), "--runs", "5").returncode == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_leaves_nothing(tmp_path: Path, sig: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "stress", "--time-budget", "600",
         "--report-dir", str(tmp_path)],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()  # printed once the database is ready
        assert "ready in" in line, line + proc.stderr.read()
        time.sleep(1.0)  # mid-search: workers busy
        clusters = our_clusters(proc.pid)
        assert clusters, "the run should have a cluster while it runs"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)  # generous: CI machines are shared
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert our_clusters(proc.pid) == []
    for c in clusters:
        assert postgres_under(c) == [], f"a postgres of {c} is still running"


def test_dsn_backend_drops_its_databases(tmp_path: Path) -> None:
    """Against an existing server, only the harness's own scratch databases are
    made, and they are gone afterwards."""
    from harness.pg.server import open_server

    with open_server() as info:
        p = harness("stress", "--dsn", info.dsn(), "--time-budget", "2",
                    "--report-dir", str(tmp_path))
        assert p.returncode == 0, p.stdout + p.stderr
        with psycopg.connect(info.dsn(), autocommit=True) as conn:
            left = conn.execute("select datname from pg_database where datname like 'harness%'")
            assert left.fetchall() == []
