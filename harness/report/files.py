"""What a run leaves in its report directory.

* ``summary.json``        -- verdict, properties, figures, the reproduce command;
* ``counterexample.json`` -- the minimal failing program, its migrations and
  settings: ``python -m harness replay`` takes it (only on failure);
* ``history.jsonl``       -- invoke/complete events of the failing run;
* ``transcript.txt``      -- the counterexample as text.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..check.verdict import PROPERTIES, Verdict
from ..history import Call
from .transcript import schedule_transcript, transcript

__all__ = ["prepare_dir", "counterexample_doc", "write_json", "write_failure"]


_FILES = ("summary.json", "counterexample.json", "history.jsonl", "transcript.txt",
          "report.html", "junit.xml", "summary.md")
KEEP_RUNS = 10


def prepare_dir(report_dir: Path) -> None:
    """An empty report directory. A ``.../latest`` folder's previous run moves
    to ``.../runs/<time>/`` first; the newest KEEP_RUNS of those are kept."""
    previous = report_dir / "summary.json"
    if report_dir.name == "latest" and previous.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(previous.stat().st_mtime))
        runs = report_dir.parent / "runs"
        dest = runs / stamp
        n = 1
        while dest.exists():
            n += 1
            dest = runs / f"{stamp}-{n}"
        dest.mkdir(parents=True)
        for name in _FILES:
            if (report_dir / name).exists():
                shutil.move(str(report_dir / name), dest / name)
        for old in sorted(runs.iterdir())[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)
    if report_dir.exists():
        for name in _FILES:
            (report_dir / name).unlink(missing_ok=True)
    report_dir.mkdir(parents=True, exist_ok=True)


def write_views(report_dir: Path, summary: dict[str, Any],
                counterexample: dict[str, Any] | None) -> None:
    """The same run for a person (HTML), CI's test view (JUnit), a CI page (markdown)."""
    from .html import write_html
    from .junit import write_junit
    from .markdown import append_github_summary, write_markdown

    write_html(report_dir, summary, counterexample)
    write_junit(report_dir, summary, counterexample)
    append_github_summary(write_markdown(report_dir, summary, counterexample))


def write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    tmp.replace(path)


def _call_doc(c: Call) -> dict[str, Any]:
    d = asdict(c)
    d["outcome"] = c.outcome.value
    d["txids"] = list(c.txids)
    return d


def verdict_doc(verdict: Verdict) -> dict[str, Any]:
    return {
        "properties": verdict.status(),
        "violations": [
            {"property": v.property, "meaning": PROPERTIES[v.property], "message": v.message,
             "calls": list(v.calls), "purchase": v.purchase}
            for v in verdict.violations
        ],
    }


def counterexample_doc(failure: Any, context: dict[str, Any]) -> dict[str, Any]:
    obs = failure.observation
    return {
        "format": "harness-counterexample/1",
        "program": obs.program.to_json(),
        "schedule": list(obs.schedule) if obs.schedule is not None else None,
        **context,
        **verdict_doc(failure.verdict),
        "calls": [_call_doc(c) for c in obs.history.calls()],
        "audit": [asdict(r) for r in obs.audit],
        "finals": list(obs.finals),
        "actions": [{"session": a.session, "text": a.text} for a in obs.actions],
    }


def write_failure(report_dir: Path, failure: Any,
                  context: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Write the counterexample files; return the transcript lines and the document."""
    obs = failure.observation
    first = failure.verdict.first()
    lines = transcript(obs.program.packs, obs.history.calls(), obs.audit,
                       highlight=first.calls if first else ())
    if obs.schedule is not None:
        drawn = f"schedule {list(obs.schedule)}" if obs.schedule else "round robin"
        lines += ["", f"{drawn}, step by step:"]
        lines += schedule_transcript(obs.actions, len(obs.program.threads))
    doc = counterexample_doc(failure, context)
    write_json(report_dir / "counterexample.json", doc)
    obs.history.to_jsonl(report_dir / "history.jsonl")
    (report_dir / "transcript.txt").write_text("\n".join(lines) + "\n")
    return lines, doc
