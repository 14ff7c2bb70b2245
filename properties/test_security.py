"""Anyone who may not change a purchase leaves it unchanged (hardened), and the
plan's version lets them (reported). Hypothesis draws the caller, the
function and the purchase's state; each example runs in a transaction that
is rolled back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from harness.pg.migrations import collect
from harness.pg.prepare import migrated_database
from harness.pg.server import connect
from harness.security import _CALLERS, _PEOPLE, _moved
from harness.target import SESSION_PACK

from .conftest import MIGRATIONS

HARDENED = MIGRATIONS / "fixes" / "hardened_functions.sql"
FUNCTIONS = [o.function for o in SESSION_PACK.operations]


@pytest.fixture(scope="module", params=["plan", "hardened"])
def variant(request, server):
    overlays = [HARDENED] if request.param == "hardened" else []
    with migrated_database(server, collect(MIGRATIONS, overlays), SESSION_PACK) as db:
        with connect(server.dsn(db)) as conn:
            yield request.param, conn


@settings(max_examples=25, deadline=None)
@given(caller=st.sampled_from(_CALLERS), function=st.sampled_from(FUNCTIONS),
       used=st.integers(1, 4))
def test_who_may_change_a_purchase(variant, caller, function, used) -> None:
    name, conn = variant
    code, who, role, user, may = caller
    ids = {k: str(uuid.uuid4()) for k in ("owner", "staff", "outsider", "client_user",
                                          "org_a", "org_b", "client", "offer", "purchase")}
    with conn.transaction(force_rollback=True):
        for statement in _PEOPLE.split(";"):
            if statement.strip():
                conn.execute(statement, ids)
        conn.execute("update public.client_purchases set sessions_used = %s where id = %s",
                     (used, ids["purchase"]))
        moved, outcome = _moved(conn, function, ids["purchase"], role,
                                ids[user] if user else None)
    if may:
        assert moved, f"{who} should be able to: {function} {outcome}"
    elif name == "hardened":
        assert not moved, f"{who} changed it: {function} {outcome}"
    else:
        assert moved, f"the plan's version is expected to let {who} in ({code})"
