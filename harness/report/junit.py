"""``junit.xml``: the run as JUnit results, for CI test views.

One ``<testsuite name="harness.stress">`` with one ``<testcase>`` per property
(``classname="harness.properties"``, ``name`` the property id). A broken
property is a ``<failure>`` whose ``message`` holds its violation messages and
whose text adds the counterexample transcript and the reproduce command; a
property the run did not check (``--no-audit``) is ``<skipped>``.

Every property is checked on every example of the search, so each testcase's
``time`` is the whole search time, as is the suite's.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .html import property_rows, transcript_lines, violations

__all__ = ["write_junit"]

Doc = dict[str, Any]

# Characters XML 1.0 cannot hold at all, even escaped.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: object) -> str:
    return _INVALID.sub("\ufffd", str(text))


def _seconds(summary: Doc) -> str:
    t = summary.get("elapsed_seconds")
    return f"{float(t):.3f}" if isinstance(t, (int, float)) else "0"


def build_junit(report_dir: Path, summary: Doc, counterexample: Doc | None) -> ET.ElementTree:
    rows = property_rows(summary)
    vs = violations(summary, counterexample)
    failed = [p for p, s, _ in rows if s == "fail"]
    skipped = [p for p, s, _ in rows if s not in ("pass", "fail")]
    time = _seconds(summary)
    counts = {"tests": str(len(rows)), "failures": str(len(failed)), "errors": "0",
              "skipped": str(len(skipped)), "time": time}

    root = ET.Element("testsuites", {"name": "harness", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "harness.stress", **counts})
    props = ET.SubElement(suite, "properties")
    settings = summary.get("settings") or {}
    for name, value in [
        ("verdict", summary.get("verdict")),
        ("seed", summary.get("seed")),
        ("mode", summary.get("mode")),
        ("isolation", summary.get("isolation") or "autocommit"),
        ("ops", ",".join(settings.get("ops") or [])),
        ("use_audit", settings.get("use_audit")),
        ("examples", summary.get("examples")),
        ("operations", summary.get("operations")),
        ("calls_per_second", summary.get("calls_per_second")),
        ("postgres_version", summary.get("postgres_version")),
        ("backend", summary.get("backend")),
        ("migrations", summary.get("migrations")),
        ("overlays", ",".join(summary.get("overlays") or [])),
        ("reproduce", summary.get("reproduce")),
    ]:
        if value is not None and value != "":
            ET.SubElement(props, "property", {"name": name, "value": _clean(value)})

    lines = transcript_lines(report_dir, counterexample) if failed else []
    reproduce = summary.get("reproduce")
    for p, status, meaning in rows:
        case = ET.SubElement(suite, "testcase", {"classname": "harness.properties", "name": p,
                                                 "time": time})
        if status == "fail":
            mine = [v for v in vs if v.get("property") == p]
            messages = [str(v.get("message", "")) for v in mine] or [f"{p} does not hold"]
            text = [f"{p}: {meaning}" if meaning else p, ""]
            text += [f"- {m}" for m in messages]
            if lines:
                text += ["", "counterexample:", *lines]
            if reproduce:
                text += ["", f"reproduce: {reproduce}"]
            failure = ET.SubElement(case, "failure", {"message": _clean("; ".join(messages)),
                                                      "type": "PropertyViolation"})
            failure.text = _clean("\n".join(text) + "\n")
        elif status != "pass":
            ET.SubElement(case, "skipped", {"message": _clean(
                f"{status}: this run did not check {p}" + (" (--no-audit)" if not settings.get(
                    "use_audit", True) else ""))})

    out = [f"harness stress: {str(summary.get('verdict', '?')).upper()}; seed {summary.get('seed')}, "
           f"{summary.get('examples')} examples, {summary.get('operations')} calls in {time} s"]
    out += [f"note: {n}" for n in summary.get("notes") or []]
    if reproduce:
        out.append(f"reproduce: {reproduce}")
    ET.SubElement(suite, "system-out").text = _clean("\n".join(out) + "\n")
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report_dir: Path, summary: Doc, counterexample: Doc | None) -> Path:
    """Write ``junit.xml`` into ``report_dir``; return its path."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / "junit.xml"
    tmp = path.with_suffix(".xml.tmp")
    build_junit(report_dir, summary, counterexample).write(tmp, encoding="utf-8",
                                                           xml_declaration=True)
    tmp.replace(path)
    return path
