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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..check.verdict import PROPERTIES, Verdict
from ..history import Call
from .transcript import schedule_transcript, transcript

__all__ = ["prepare_dir", "counterexample_doc", "write_json", "write_failure"]


def prepare_dir(report_dir: Path) -> None:
    """An empty report directory (the previous run's files are replaced)."""
    if report_dir.exists():
        for name in ("summary.json", "counterexample.json", "history.jsonl", "transcript.txt"):
            (report_dir / name).unlink(missing_ok=True)
    report_dir.mkdir(parents=True, exist_ok=True)


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


def write_failure(report_dir: Path, failure: Any, context: dict[str, Any]) -> list[str]:
    """Write the counterexample files; return the transcript lines."""
    obs = failure.observation
    first = failure.verdict.first()
    lines = transcript(obs.program.packs, obs.history.calls(), obs.audit,
                       highlight=first.calls if first else ())
    if obs.schedule is not None:
        lines += ["", f"schedule {list(obs.schedule)}, step by step:"]
        lines += schedule_transcript(obs.actions, len(obs.program.threads))
    write_json(report_dir / "counterexample.json", counterexample_doc(failure, context))
    obs.history.to_jsonl(report_dir / "history.jsonl")
    (report_dir / "transcript.txt").write_text("\n".join(lines) + "\n")
    return lines


def copy_to(report_dir: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(report_dir, dest)
