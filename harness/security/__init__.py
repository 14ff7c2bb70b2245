"""Is a counter function safe to expose? Who may call it, on whose data.

On Supabase, functions in ``public`` are executable by ``anon`` and
``authenticated`` unless revoked, and a SECURITY DEFINER function runs with
its owner's rights: row-level security does not apply to what it writes, and
without ``SET search_path`` the caller's search path decides what its names
mean. Two kinds of check, each finding with a stable code (``CODES``) and the
exact fix:

* static (``static_findings``), from the catalog: SEC001 no fixed
  search_path; SEC002 anon may EXECUTE it; SEC003 it writes a table with
  row-level security, bypassing it, and never asks who is calling; SEC004 any
  signed-in user may EXECUTE it and it never asks who is calling. "Asks who is
  calling" means auth.uid() / auth.role() / auth.jwt(), the JWT claims or the
  session's role, in the body or in a function it calls (is_org_member).
* dynamic (``dynamic_findings``): in a world of two orgs, act as anon, a
  member of the other org and the pack's own client (``SET LOCAL ROLE`` with
  ``request.jwt.claims``), call each function on a purchase they may not
  change, and see whether the counter moved (SEC101-SEC103); act as the org's
  staff and owner, the service role and a server-side connection, who must
  still be able to (SEC201-SEC204). Everything is rolled back.

``run_security`` does both on a scratch database; ``main`` / ``add_arguments``
are the ``security`` subcommand.
"""

from __future__ import annotations

from .command import add_arguments, build_parser, main, run_security
from .dynamic import Call, Caller, Purchase, World, call_as, dynamic_findings, insert_world
from .findings import CODES, SEVERITIES, Finding, count_line, findings_doc
from .static import static_findings

__all__ = [
    "Finding", "CODES", "SEVERITIES", "findings_doc", "count_line",
    "static_findings", "dynamic_findings", "run_security", "add_arguments", "build_parser",
    "main", "Caller", "Call", "Purchase", "World", "call_as", "insert_world",
]
