"""``summary.md``: a short Markdown summary for a CI page.

Verdict line, properties table, figures and, on a failure, the violations and
the counterexample transcript in a fenced block, then the reproduce command.
``append_github_summary`` adds it to the job summary of a GitHub Actions step
(the file ``$GITHUB_STEP_SUMMARY`` names), and does nothing elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .html import first_violation, property_rows, transcript_lines, violations

__all__ = ["write_markdown", "append_github_summary", "render_markdown"]

Doc = dict[str, Any]


def _cell(x: object) -> str:
    """Text safe inside a table cell: one line, pipes escaped."""
    return re.sub(r"\s+", " ", str(x)).replace("|", "\\|").strip()


def _code(x: object) -> str:
    """Inline code that survives backticks in the text."""
    text = str(x)
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fence(lines: list[str], info: str = "text") -> list[str]:
    longest = max((len(m) for m in re.findall(r"`{3,}", "\n".join(lines))), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines, fence]


def _num(x: object, unit: str = "") -> str:
    if isinstance(x, bool) or x is None:
        return "n/a" if x is None else str(x)
    if isinstance(x, int):
        return f"{x:,}{unit}"
    if isinstance(x, float):
        return f"{x:,.2f}{unit}"
    return f"{x}{unit}"


def render_markdown(report_dir: Path, summary: Doc, counterexample: Doc | None) -> str:
    rows = property_rows(summary)
    checked = [r for r in rows if r[1] != "not checked"]
    broken = [p for p, s, _ in rows if s == "fail"]
    failed = summary.get("verdict") == "fail"
    out = ["## harness stress: " + ("FAIL" if failed else "PASS"), ""]
    if failed:
        out.append(f"**FAIL**: {len(broken)} of {len(checked)} properties broke: "
                   + ", ".join(_code(p) for p in broken) + ".")
    else:
        out.append(f"**PASS**: all {len(checked)} checked properties held.")
    out += ["", "| property | status | meaning |", "|---|---|---|"]
    for p, status, meaning in rows:
        shown = f"**{status.upper()}**" if status == "fail" else status
        out.append(f"| {_code(p)} | {shown} | {_cell(meaning)} |")

    settings = summary.get("settings") or {}
    errors = summary.get("failed_calls_by_sqlstate") or {}
    figures = [
        ("seed", _code(summary.get("seed"))),
        ("mode", summary.get("mode", "n/a")),
        *([("coverage", summary["exhaustive"])] if summary.get("exhaustive") else []),
        ("isolation", summary.get("isolation") or "autocommit"),
        ("operations called", ", ".join(settings.get("ops") or []) or "n/a"),
        ("examples", _num(summary.get("examples"))),
        ("calls", _num(summary.get("operations"))),
        ("elapsed", _num(summary.get("elapsed_seconds"), " s")),
        ("calls/s", f"{summary['calls_per_second']:,.1f}" if isinstance(summary.get("calls_per_second"), (int, float)) else "n/a"),
        ("failed calls by SQLSTATE",
         ", ".join(f"{k} x{v}" for k, v in sorted(errors.items())) or "none"),
        ("PostgreSQL", f"{summary.get('postgres_version', 'n/a')} ({summary.get('backend', 'n/a')})"),
        ("migrations", _code(summary.get("migrations", "n/a"))),
        ("overlays", ", ".join(_code(o) for o in summary.get("overlays") or []) or "none"),
    ]
    out += ["", "| figure | value |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in figures]
    for note in summary.get("notes") or []:
        out += ["", f"Note: {_cell(note)}"]
    faults = summary.get("faults") or {}
    if faults.get("injected"):
        out += ["", f"Faults: {faults['injected']} injected, "
                    f"{faults.get('calls_ending_unknown', 0)} calls ended unknown."]
    findings = summary.get("security") or []
    if findings:
        out += ["", "### Security findings", "", "| code | function | finding |", "|---|---|---|"]
        out += [f"| {f['code']} | {_code(f['function'])} | {_cell(f['message'])} |"
                for f in findings]

    if failed:
        vs = violations(summary, counterexample)
        first = first_violation(vs)
        out += ["", "### Violations", ""]
        for v in vs:
            lead = " (first)" if v is first and len(vs) > 1 else ""
            out.append(f"- {_code(v.get('property', '?'))}{lead}: {_cell(v.get('message', ''))}")
        info = summary.get("counterexample") or {}
        threads = (info.get("program") or {}).get("threads")
        rep = info.get("reproduced") or {}
        if threads is not None:
            calls = sum(len(t) for t in threads)
            line = f"Minimal counterexample: {len(threads)} threads, {calls} calls"
            if rep.get("runs"):
                line += (f"; it broke a property again in {rep.get('failing_runs')} of "
                         f"{rep['runs']} replays")
            out += ["", line + "."]
        lines = transcript_lines(report_dir, counterexample)
        if lines:
            out += ["", "### Counterexample", "", *_fence(lines)]
    reproduce = summary.get("reproduce")
    if reproduce:
        out += ["", "### Reproduce", "", *_fence([reproduce], "sh")]
    return "\n".join(out) + "\n"


def write_markdown(report_dir: Path, summary: Doc, counterexample: Doc | None) -> Path:
    """Write ``summary.md`` into ``report_dir``; return its path."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / "summary.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(report_dir, summary, counterexample), encoding="utf-8")
    tmp.replace(path)
    return path


def append_github_summary(md_path: Path) -> Path | None:
    """Append ``md_path`` to the file ``$GITHUB_STEP_SUMMARY`` names; return that
    file, or None (doing nothing) when the variable is unset or empty."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    text = Path(md_path).read_text(encoding="utf-8")
    with open(target, "a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    return Path(target)
