"""The report writers (HTML, JUnit, Markdown) on hand-made documents.

The documents below are modelled field for field on what ``harness stress``
writes (``summary.json`` and ``counterexample.json``): a free-running failure
of the app's 0010 ``use_session``, a schedule-mode lost update of a
read-then-write ``release_session``, a pass, and a made-up messy history (an
error, a call that never returned, an audit row no call owns). No database.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.check.verdict import PROPERTIES
from harness.report.html import render_html, write_html
from harness.report.junit import write_junit
from harness.report.markdown import append_github_summary, write_markdown

Doc = dict[str, Any]

CHECKSUMS = {
    "migrations/0000_supabase_compat.sql": "de2cfc7146250fd53ffc87a23c4947c73103893be4ff4ceed09ea181fffe7609",
    "migrations/0001_app_core.sql": "cd6f60669fd38c7888e24e219eabb7b425f6eaffea3160ce4d974348d75e0d00",
    "migrations/0010_pricing_offers.sql": "c0658f9e7a247ed783d3a998bb8b0446a4be822709475ea308d096d5d9e7646d",
    "migrations/0032_release_session_function.sql": "81e56a9cc65b4f7a4a4bb3f5a3b41c5bb4e660cc662c3996fcf40cdabc61f1aa",
    "migrations/0033_use_session_guarded.sql": "1b56a76ea1328ff00ed54aefe724b35f16b27cb8d80bbd87d1f7ac60a5068a9f",
}
SETTINGS = {"ops": ["use", "release"], "use_audit": True, "allowed_errors": []}


def _status(broken: set[str]) -> dict[str, str]:
    return {p: ("fail" if p in broken else "pass") for p in PROPERTIES}


def _call(call: int, thread: int, op: str, invoked: int, completed: int | None, outcome: str = "ok",
          result: Any = None, txids: list[int] | None = None, pid: int = 1000, purchase: int = 0,
          sqlstate: str | None = None, error: str | None = None) -> Doc:
    return {"call": call, "thread": thread, "op": op, "purchase": purchase,
            "invoked_at": invoked, "completed_at": completed, "outcome": outcome,
            "result": result, "sqlstate": sqlstate, "error": error,
            "txids": txids or [], "pid": pid}


def _docs(*, mode: str, overlay: str, seed: int, program: Doc, describe: list[str],
          violations: list[Doc], calls: list[Doc], audit: list[Doc], finals: list[int | None],
          schedule: list[int] | None = None, actions: list[Doc] | None = None,
          notes: list[str] | None = None, settings: Doc = SETTINGS,
          report_dir: str = "/tmp/rep") -> tuple[Doc, Doc]:
    broken = {v["property"] for v in violations}
    for v in violations:
        v.setdefault("meaning", PROPERTIES[v["property"]])
    checksums = {**CHECKSUMS, overlay: "af113cc3df95bfc5f603dcccad800ce3c331a0a33661f0a3cb70109c7b0685fc"}
    context = {"migrations": "migrations", "overlays": [overlay], "checksums": checksums,
               "mode": mode, "notes": notes or [], "settings": settings, "seed": seed}
    summary = {
        "verdict": "fail", "properties": _status(broken), "seed": seed, "examples": 136,
        "operations": 540, "elapsed_seconds": 1.153, "setup_seconds": 1.39,
        "calls_per_second": 468.5, "failed_calls_by_sqlstate": {}, "isolation": None,
        "postgres_version": "15.18", "backend": "local", **context,
        "counterexample": {
            "program": program, "describe": describe, "properties": _status(broken),
            "violations": violations, "found_after_seconds": 0.701, "found_after_calls": 260,
            "shrinking": "shrunk by Hypothesis, each candidate run up to 8 times",
            "reproduced": {"failing_runs": 6, "runs": 20},
        },
        "reproduce": f"python -m harness replay {report_dir}",
    }
    cx = {"format": "harness-counterexample/1", "program": program, "schedule": schedule,
          **context, "properties": _status(broken), "violations": violations, "calls": calls,
          "audit": audit, "finals": finals, "actions": actions or []}
    return summary, cx


def free_docs() -> tuple[Doc, Doc]:
    """``stress --overlay migrations/mutants/use_session_app_0010.sql``: two uses race
    on a pack with one session left and both succeed."""
    base = 3093921008673
    return _docs(
        mode="free", overlay="migrations/mutants/use_session_app_0010.sql", seed=1328534957,
        program={"packs": [{"total": 1, "used": 0, "expiry": "none"}],
                 "threads": [[["use", 0]], [["use", 0]]], "isolation": None},
        describe=["p0: sessions_used=0 sessions_total=1 expires=none", "t0: use(p0)", "t1: use(p0)"],
        violations=[
            {"property": "within-total", "message": "p0 was used 2 times out of 1 "
             "(sessions_remaining -1), committed by t1 use(p0) -> true", "calls": [1, 0], "purchase": 0},
            {"property": "linearizable", "message": "Starting from used=0/1, t1 use(p0) returned true, "
             "but no order of these 2 calls that respects real time produces that: the longest order "
             "found was t0 use(p0) -> true (used=1/1), after which t1 use(p0) -> true is impossible "
             "(the model says it returns false).", "calls": [1, 0], "purchase": 0},
        ],
        calls=[_call(1, 1, "use", base, base + 1968933, result=True, txids=[1033], pid=1499),
               _call(0, 0, "use", base + 213018, base + 758570, result=True, txids=[1032], pid=1493)],
        audit=[{"seq": 163, "purchase": 0, "old": 0, "new": 1, "txid": 1032, "pid": 1493},
               {"seq": 164, "purchase": 0, "old": 1, "new": 2, "txid": 1033, "pid": 1499}],
        finals=[2],
    )


def schedule_docs() -> tuple[Doc, Doc]:
    """``stress --mode schedule --overlay migrations/mutants/release_read_then_write.sql``:
    a release paused between its read and its write loses a use."""
    base = 3158564829749
    return _docs(
        mode="schedule", overlay="migrations/mutants/release_read_then_write.sql", seed=278026711,
        program={"packs": [{"total": 2, "used": 0, "expiry": "none"}],
                 "threads": [[["use", 0], ["release", 0]], [["use", 0]], [["use", 0]]],
                 "isolation": None},
        describe=["p0: sessions_used=0 sessions_total=2 expires=none", "t0: use(p0); release(p0)",
                  "t1: use(p0)", "t2: use(p0)"],
        violations=[
            {"property": "no-lost-update", "message": "p0's counter went from 2 to 0 in one committed "
             "write, by t0 release(p0) -> 0; the write before it was t2 use(p0) -> true: an update "
             "was lost", "calls": [1, 3], "purchase": 0},
            {"property": "conservation", "message": "p0 ended at 0, but 0 + 2 successful uses - 1 "
             "successful releases = 1", "calls": [0, 1, 3], "purchase": 0},
            {"property": "linearizable", "message": "Starting from used=1/2 (what the 1 earlier calls "
             "on p0 leave), t0 release(p0) returned 0, but no order of these 3 calls that respects "
             "real time produces that.", "calls": [1, 3, 2], "purchase": 0},
        ],
        calls=[_call(0, 0, "use", base, base + 451372, result=True, txids=[986], pid=5928),
               _call(1, 0, "release", base + 474006, base + 5296848, result=0, txids=[988], pid=5928),
               _call(3, 2, "use", base + 811619, base + 1264573, result=True, txids=[987], pid=5964),
               _call(2, 1, "use", base + 1283602, base + 4029130, result=False, pid=5961)],
        audit=[{"seq": 176, "purchase": 0, "old": 0, "new": 1, "txid": 986, "pid": 5928},
               {"seq": 177, "purchase": 0, "old": 1, "new": 2, "txid": 987, "pid": 5964},
               {"seq": 178, "purchase": 0, "old": 2, "new": 0, "txid": 988, "pid": 5928}],
        finals=[0],
        schedule=[0, 0],
        actions=[{"session": 0, "text": "use(p0)"}, {"session": 0, "text": "-> true"},
                 {"session": 0, "text": "release(p0)"},
                 {"session": 0, "text": "<paused at release_session:13 UPDATE>"},
                 {"session": 2, "text": "use(p0)"}, {"session": 2, "text": "-> true"},
                 {"session": 1, "text": "use(p0)"}, {"session": 1, "text": "-> false"},
                 {"session": 0, "text": "resumes"}, {"session": 0, "text": "-> 0"}],
        notes=["public.use_session runs one SQL statement: there is nothing to pause between; races "
               "inside that statement are left to the free-running executor"],
    )


def messy_docs() -> tuple[Doc, Doc]:
    """Made up to exercise the corners: four threads, two packs, an error, a call
    that never returned, an audit row no call owns, a negative value."""
    base = 10_000_000
    calls = [
        _call(0, 0, "release", base, base + 300_000, result=0, txids=[51], pid=11),
        _call(1, 1, "release", base + 100_000, base + 900_000, result=-1, txids=[53], pid=12),
        _call(2, 2, "use", base + 150_000, base + 2_000_000, outcome="fail", sqlstate="40001",
              error="could not serialize access due to concurrent update", pid=13),
        _call(3, 3, "use", base + 400_000, None, outcome="info", pid=14, purchase=1),
        _call(4, 0, "release", base + 500_000, base + 700_000, result=-1, pid=11),
        _call(5, 0, "use", base + 800_000, base + 1_100_000, result=True, txids=[55], pid=11),
    ]
    audit = [{"seq": 1, "purchase": 0, "old": 1, "new": 0, "txid": 51, "pid": 11},
             {"seq": 2, "purchase": 0, "old": 0, "new": -1, "txid": 52, "pid": 99},
             {"seq": 3, "purchase": 0, "old": -1, "new": -2, "txid": 53, "pid": 12},
             {"seq": 4, "purchase": 0, "old": -2, "new": -1, "txid": 55, "pid": 11}]
    return _docs(
        mode="free", overlay="migrations/mutants/release_guard_off_by_one.sql", seed=7,
        program={"packs": [{"total": 3, "used": 1, "expiry": "future"},
                           {"total": None, "used": None, "expiry": "past"}],
                 "threads": [[["release", 0], ["release", 0], ["use", 0]], [["release", 0]],
                             [["use", 0]], [["use", 1]]], "isolation": None},
        describe=["p0: ...", "p1: ..."],
        violations=[{"property": "never-negative", "message": "p0's counter was committed as -1 "
                     "<by txid 52> & \x01friends", "calls": [0, 1], "purchase": 0},
                    {"property": "no-raise", "message": "t2 use(p0) -> fail 40001", "calls": [2]}],
        calls=calls, audit=audit, finals=[-1, None],
    )


def pass_summary() -> Doc:
    return {
        "verdict": "pass", "properties": {p: "pass" for p in PROPERTIES}, "seed": 863419842,
        "examples": 328, "operations": 4582, "elapsed_seconds": 5.004, "setup_seconds": 2.13,
        "calls_per_second": 915.7, "failed_calls_by_sqlstate": {}, "isolation": None,
        "postgres_version": "15.18", "backend": "local", "migrations": "migrations", "overlays": [],
        "checksums": CHECKSUMS, "mode": "free", "notes": [], "settings": SETTINGS,
    }


ALL_FAILING = {"free": free_docs, "schedule": schedule_docs, "messy": messy_docs}


def _svg(html: str) -> str:
    m = re.search(r"<svg id=\"timeline\".*?</svg>", html, re.S)
    assert m, "no timeline svg"
    return m.group(0)


def _bars(html: str) -> list[tuple[str, str]]:
    """(class, data-call) of every call bar."""
    out = []
    for g in re.finditer(r'<g class="call[^"]*" data-call="(\d+)">(.*?)</g>', _svg(html), re.S):
        rect = re.search(r'<rect class="(bar[^"]*)"', g.group(2))
        assert rect, g.group(0)
        out.append((rect.group(1), g.group(1)))
    return out


# -- HTML -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [*ALL_FAILING, "pass"])
def test_html_is_self_contained(tmp_path: Path, name: str) -> None:
    summary, cx = ALL_FAILING[name]() if name != "pass" else (pass_summary(), None)
    html = write_html(tmp_path, summary, cx).read_text()
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    refs = re.findall(r"""(?:src|href|xlink:href)\s*=\s*["']?([^"'\s>]*)""", html, re.I)
    assert all(r.startswith("#") for r in refs), refs
    assert "<link" not in html and "@import" not in html and "url(" not in html.replace("url(#", "")
    assert html.count("<script") == 1 and "<script>" in html  # inline only
    assert html.lstrip().startswith("<!DOCTYPE html>")


def test_html_lanes_and_bars(tmp_path: Path) -> None:
    for make in ALL_FAILING.values():
        summary, cx = make()
        html = render_html(tmp_path, summary, cx)
        threads = {c["thread"] for c in cx["calls"]}
        lanes = re.findall(r'<g class="lane" data-thread="(\d+)">', html)
        assert sorted(map(int, lanes)) == sorted(threads)
        for t in threads:
            assert f">t{t}</text>" in _svg(html)
        bars = _bars(html)
        assert sorted(int(c) for _, c in bars) == sorted(c["call"] for c in cx["calls"])
        for c in cx["calls"]:
            label = f"{c['op']}(p{c['purchase']}) -&gt;"
            assert label in _svg(html)


def test_html_bar_colours_and_open_calls(tmp_path: Path) -> None:
    summary, cx = messy_docs()
    html = render_html(tmp_path, summary, cx)
    svg = _svg(html)
    bars = {re.search(r'data-call="(\d+)"', g).group(1): g  # type: ignore[union-attr]
            for g in re.findall(r'<g class="call[^"]*" data-call="\d+">.*?</g>', svg, re.S)}
    assert 'fill="#2f9e5b"' in bars["0"]  # ok: green
    assert 'fill="#d64545"' in bars["2"]  # fail: red
    assert "ERROR 40001" in bars["2"]
    # info that never completed: hatched, dashed, drawn to the end, said so
    assert 'fill="url(#hatch)"' in bars["3"] and "stroke-dasharray" in bars["3"]
    assert "never returned" in bars["3"] and "bar open" in bars["3"]
    x, w = map(float, re.search(r'class="bar[^"]*" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"',
                                bars["3"]).groups())  # type: ignore[union-attr]
    ends = [float(a) + float(b) for a, b in re.findall(
        r'class="bar[^"]*" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)]
    assert x + w == max(ends)
    # the audit row of txid 52 belongs to no call: placed by interpolation, and said so
    assert "class=\"pt bad guessed\"" in svg
    assert "matched no call" in html
    # null total: no total line for p1, and both packs have a panel
    assert re.findall(r'<g class="counter" data-purchase="(\d+)">', svg) == ["0", "1"]
    assert svg.count('class="total"') == 1


def test_html_highlights_first_violation(tmp_path: Path) -> None:
    for make in (free_docs, schedule_docs):
        summary, cx = make()
        html = render_html(tmp_path, summary, cx)
        first = cx["violations"][0]
        involved = {c for cls, c in _bars(html) if "involved" in cls}
        assert involved == {str(c) for c in first["calls"]}
        listed = re.search(r'<ul class="involved">(.*?)</ul>', html, re.S)
        assert listed and sorted(re.findall(r'data-call="(\d+)"', listed.group(1))) == \
            sorted(str(c) for c in first["calls"])
        assert 'class="race"' in html  # the window in which they ran together
        assert f"call of <b>{first['property']}</b>" in html
        for v in cx["violations"]:
            assert f'data-property="{v["property"]}"' in html
            assert json.dumps(v["message"])[1:-1].replace("'", "&#x27;").replace(">", "&gt;") in html


def test_html_counter_over_bound_in_red(tmp_path: Path) -> None:
    summary, cx = free_docs()
    svg = _svg(render_html(tmp_path, summary, cx))
    panel = re.search(r'<g class="counter" data-purchase="0">.*?</g>', svg, re.S).group(0)  # type: ignore[union-attr]
    assert 'class="total"' in panel and 'class="zero"' in panel
    assert "2 &gt; total 1 (t1 use)" in panel and 'class="pt-label bad"' in panel
    assert panel.count('class="step bad"') == 1  # only the value past the total
    assert "1 (t0 use)" in panel and 'class="pt-label"' in panel
    # each committed value sits at the completion of the call that wrote it
    xs = [float(x) for x in re.findall(r'<circle class="pt[^"]*" cx="([\d.]+)"', panel)]
    bar_ends = sorted(float(a) + float(b) for a, b in re.findall(
        r'<rect class="bar[^"]*" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg))
    assert xs[1:] == pytest.approx(bar_ends, abs=0.2)  # t0's value first: it completed first
    assert "matched no call" not in svg


def test_html_lost_update_and_pause(tmp_path: Path) -> None:
    summary, cx = schedule_docs()
    html = render_html(tmp_path, summary, cx)
    svg = _svg(html)
    assert "2 -&gt; 0 in one write" in svg  # the lost update, in red
    assert 'class="riser bad"' in svg
    assert "paused at release_session:13 UPDATE" in svg  # where the scheduler held t0
    assert "neighbouring invocations" in html


@pytest.mark.parametrize("make, committed", [
    (free_docs, "p0 committed: 0 -> 1 (t0 use) -> 2 (t1 use)"),
    (schedule_docs, "p0 committed: 0 -> 1 (t0 use) -> 2 (t2 use) -> 0 (t0 release)"),
])
def test_html_contains_transcript(tmp_path: Path, make: Any, committed: str) -> None:
    summary, cx = make()
    html = render_html(tmp_path, summary, cx)
    pre = re.search(r'<section id="transcript">.*?<pre>(.*?)</pre>', html, re.S)
    assert pre
    text = re.sub(r"<[^>]+>", "", pre.group(1)).replace("&gt;", ">").replace("&lt;", "<")
    assert "start   p0: sessions_used=0" in text
    assert committed in text
    if cx["schedule"] is not None:
        assert "schedule [0, 0], step by step:" in text and "resumes" in text
    assert '<span class="hl">' in pre.group(1)  # the starred calls stand out


def test_html_transcript_falls_back_to_file(tmp_path: Path) -> None:
    summary, cx = free_docs()
    del cx["calls"]
    (tmp_path / "transcript.txt").write_text("start   p0: from the file\n")
    html = render_html(tmp_path, summary, cx)
    assert "start   p0: from the file" in html
    assert "nothing to draw" in html  # no calls, no timeline; no crash


def test_html_pass_and_settings(tmp_path: Path) -> None:
    html = render_html(tmp_path, pass_summary(), None)
    assert 'id="verdict">PASS<' in html and "header class=\"verdict pass\"" in html
    assert "timeline" not in html.split("<main>")[1].split("<script>")[0].lower()
    for p, meaning in PROPERTIES.items():
        assert f'data-property="{p}"' in html and meaning.replace("'", "&#x27;").replace(">", "&gt;") in html
    for f, s in CHECKSUMS.items():
        assert f in html and s in html
    for needle in ("863419842", "4,582", "915.7", "15.18", "autocommit"):
        assert needle in html
    summary, cx = free_docs()
    html = render_html(tmp_path, summary, cx)
    assert 'id="verdict">FAIL<' in html and "python -m harness replay /tmp/rep" in html


def test_html_no_audit_marks_properties_not_checked(tmp_path: Path) -> None:
    summary, cx = free_docs()
    summary["properties"] = {"linearizable": "fail"}
    summary["settings"] = cx["settings"] = {**SETTINGS, "use_audit": False}
    html = render_html(tmp_path, summary, cx)
    assert html.count("NOT CHECKED") == len(PROPERTIES) - 1
    assert "--no-audit" in html


# -- JUnit ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*ALL_FAILING, "pass"])
def test_junit(tmp_path: Path, name: str) -> None:
    summary, cx = ALL_FAILING[name]() if name != "pass" else (pass_summary(), None)
    path = write_junit(tmp_path, summary, cx)
    assert path == tmp_path / "junit.xml"
    root = ET.parse(path).getroot()
    suites = root.findall("testsuite") if root.tag == "testsuites" else [root]
    assert [s.get("name") for s in suites] == ["harness.stress"]
    suite = suites[0]
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(PROPERTIES)
    assert {c.get("classname") for c in cases} == {"harness.properties"}
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {p for p, s in summary["properties"].items() if s == "fail"}
    assert suite.get("tests") == str(len(PROPERTIES))
    assert suite.get("failures") == str(len(failed))
    assert float(suite.get("time", "x")) == pytest.approx(summary["elapsed_seconds"])
    for c in cases:
        f = c.find("failure")
        if f is None:
            continue
        mine = [v["message"] for v in cx["violations"] if v["property"] == c.get("name")]
        for m in mine:
            clean = m.replace("\x01", "\ufffd")
            assert clean in f.get("message", "") and clean in (f.text or "")
        assert "start   p0:" in (f.text or "")  # the transcript
        assert summary["reproduce"] in (f.text or "")


def test_junit_skips_what_was_not_checked(tmp_path: Path) -> None:
    summary, cx = free_docs()
    summary["properties"] = {"linearizable": "fail"}
    root = ET.parse(write_junit(tmp_path, summary, cx)).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("skipped") == str(len(PROPERTIES) - 1)
    assert len(suite.findall("testcase/skipped")) == len(PROPERTIES) - 1
    assert [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None] \
        == ["linearizable"]


# -- Markdown ---------------------------------------------------------------------


def test_markdown_failure(tmp_path: Path) -> None:
    summary, cx = schedule_docs()
    path = write_markdown(tmp_path, summary, cx)
    assert path == tmp_path / "summary.md"
    md = path.read_text()
    assert md.startswith("## harness stress: FAIL\n")
    assert "**FAIL**: 3 of 9 properties broke: `no-lost-update`, `conservation`, `linearizable`." in md
    assert "| property | status | meaning |" in md
    for p in PROPERTIES:
        assert re.search(rf"^\| `{re.escape(p)}` \| (\*\*FAIL\*\*|pass) \| ", md, re.M), p
    for v in cx["violations"]:
        assert v["message"] in md
    fenced = re.search(r"^```text\n(.*?)^```$", md, re.S | re.M)
    assert fenced and "p0 committed: 0 -> 1 (t0 use) -> 2 (t2 use) -> 0 (t0 release)" in fenced.group(1)
    assert "python -m harness replay /tmp/rep" in md
    assert not re.search("[\U0001F300-\U0001FAFF\u2600-\u27BF]", md)  # emoji-free


def test_markdown_pass(tmp_path: Path) -> None:
    md = write_markdown(tmp_path, pass_summary(), None).read_text()
    assert "**PASS**: all 9 checked properties held." in md
    assert "| `linearizable` | pass |" in md and "```" not in md
    assert "| seed | `863419842` |" in md and "| calls/s | 915.7 |" in md


def test_markdown_escapes_pipes(tmp_path: Path) -> None:
    summary, cx = free_docs()
    summary["notes"] = ["a | b"]
    cx["violations"][0]["message"] = "x | y"
    md = write_markdown(tmp_path, summary, cx).read_text()
    assert "a \\| b" in md and "x \\| y" in md


def test_append_github_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    md = write_markdown(tmp_path, *free_docs())
    target = tmp_path / "step_summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert append_github_summary(md) == target
    assert target.read_text() == "earlier step\n" + md.read_text()
    append_github_summary(md)
    assert target.read_text() == "earlier step\n" + md.read_text() * 2


@pytest.mark.parametrize("value", [None, ""])
def test_append_github_summary_without_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              value: str | None) -> None:
    md = write_markdown(tmp_path, *free_docs())
    if value is None:
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    else:
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", value)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert append_github_summary(md) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_writers_do_not_touch_their_inputs(tmp_path: Path) -> None:
    summary, cx = schedule_docs()
    s0, c0 = copy.deepcopy(summary), copy.deepcopy(cx)
    for write in (write_html, write_junit, write_markdown):
        write(tmp_path / "new" / "dir", summary, cx)
    assert summary == s0 and cx == c0
    assert sorted(p.name for p in (tmp_path / "new" / "dir").iterdir()) == \
        ["junit.xml", "report.html", "summary.md"]


# -- in a real browser ---------------------------------------------------------------

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH "
                    "(apt-get install chromium) to render the HTML report headless")
@pytest.mark.parametrize("make", [free_docs, schedule_docs])
def test_html_in_headless_chromium(tmp_path: Path, make: Any) -> None:
    summary, cx = make()
    page = write_html(tmp_path / "report", summary, cx)
    url = page.resolve().as_uri()
    png = tmp_path / "shot.png"
    base = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]

    shot = subprocess.run([*base, f"--screenshot={png}", "--window-size=1280,1600", url],
                          capture_output=True, text=True, timeout=120)
    assert png.is_file(), shot.stderr[-2000:]
    assert _png_size(png) == (1280, 1600)
    assert png.stat().st_size > 40_000  # a drawn page, not a blank one

    dom = subprocess.run([*base, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert 'data-report-ready="yes"' in dom.stdout, dom.stderr[-2000:]  # the script ran to its end
    assert 'data-report-ready="yes"' not in page.read_text()  # set by the script, not the file
    console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    assert not [l for l in console if "Error" in l or "Uncaught" in l], console
