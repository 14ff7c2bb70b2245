"""`harness security`: the plan's functions are reported, finding by finding;
the hardened variant passes."""

from __future__ import annotations

import json

from .test_cli import harness

HARDENED = "migrations/fixes/hardened_functions.sql"


def test_the_plans_functions_are_reported() -> None:
    p = harness("security", "--json")
    assert p.returncode == 1, p.stderr
    found = {(f["code"], f["function"]) for f in json.loads(p.stdout)}
    for fn in ("public.use_session(uuid)", "public.release_session(uuid)"):
        # static: no search_path, executable by anon, writes an RLS table blindly
        # dynamic: anon, another org's member and the client changed the counter
        for code in ("SEC001", "SEC002", "SEC003", "SEC101", "SEC102", "SEC103"):
            assert (code, fn) in found, (code, fn)
    assert not any(code == "SEC201" for code, _ in found)  # staff still can


def test_each_finding_explains_itself_and_gives_the_fix() -> None:
    p = harness("security")
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[-1] == "12 findings in 2 functions"
    assert all(line.startswith("  fix: ") for line in lines[1:-1:2])


def test_the_hardened_variant_passes() -> None:
    p = harness("security", "--overlay", HARDENED)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "no findings in 2 functions"


def test_a_check_that_locks_out_the_org_itself_is_reported(tmp_path) -> None:
    locked = tmp_path / "locked.sql"
    locked.write_text(open(HARDENED).read().replace(
        "or public.is_org_member(org_id)", "or false"))
    p = harness("security", "--overlay", str(locked))
    assert p.returncode == 1
    assert "SEC201" in p.stdout and "could not" in p.stdout
