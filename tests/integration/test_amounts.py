"""Money amounts are kept exactly up to the bound (99,999,999,999,999.99 元, models.money) on SQLite and
PostgreSQL, and migration 0018 turned the REAL amounts SQLite held before into exact ones."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.exc import StatementError
from sqlmodel import Session

from models.agreement import AgreementTerm
from models.case import Case
from models.db import make_engine
from models.migrate import alembic_config, upgrade
from tests.factories import add_user, neighbor_case, register

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

# Sixteen significant digits (which a float, and SQLite's REAL, cannot hold), and the cents a float
# misses by a hair (0.29 * 100 == 28.999999999999996).
AMOUNTS = [
    "99999999999999.99",
    "99999999999999.98",
    "12345678901234.57",
    "10000000000000.01",
    "320000.50",
    "0.29",
    "0.01",
]


def test_amounts_read_back_exactly(engine, as_user) -> None:
    staff = as_user("clerk")
    ids = []
    for amount in AMOUNTS:
        r = staff.post("/cases", neighbor_case(amount_involved=amount))
        assert r.status_code == 201, r.text
        assert r.json()["amount_involved"] == amount
        ids.append(r.json()["id"])
    assert [staff.get(f"/cases/{i}").json()["amount_involved"] for i in ids] == AMOUNTS
    listed = {
        c["id"]: c["amount_involved"] for c in staff.get("/cases", params={"limit": 50}).json()["items"]
    }
    assert [listed[i] for i in ids] == AMOUNTS
    with Session(engine) as session:
        stored = session.execute(select(Case.amount_involved).order_by(Case.id)).scalars().all()
        assert stored == [Decimal(a) for a in AMOUNTS]
        # The database adds them up exactly too (past the bound: a sum is not stored).
        total = session.execute(select(func.sum(Case.amount_involved))).scalar_one()
        assert total == sum(Decimal(a) for a in AMOUNTS)
        raw = session.execute(text("SELECT amount_involved FROM cases ORDER BY id")).scalars().all()
    if engine.dialect.name == "sqlite":
        assert raw == [
            9999999999999999,
            9999999999999998,
            1234567890123457,
            1000000000000001,
            32000050,
            29,
            1,
        ]
    else:
        assert raw == [Decimal(a) for a in AMOUNTS]


def test_the_database_refuses_an_amount_past_the_bound(engine) -> None:
    """Below the API, the column type keeps the bound on both databases."""
    clerk = add_user(engine, "clerk", "staff")
    case_id = register(engine, neighbor_case(), actor_id=clerk, now=datetime.now(UTC))
    with Session(engine) as session:
        case = session.get(Case, case_id)
        case.amount_involved = Decimal("100000000000000.00")
        session.add(case)
        # SQLite: Money refuses it before it is sent; PostgreSQL: NUMERIC(16, 2) overflows.
        with pytest.raises(StatementError, match=r"99,999,999,999,999\.99|numeric field overflow"):
            session.commit()
    with Session(engine) as session:
        assert session.get(Case, case_id).amount_involved is None


def test_migration_0018_turns_real_amounts_into_exact_ones(tmp_path: Path) -> None:
    """A SQLite database at 0017 holding amounts as the old code wrote them (REAL, or INTEGER when whole)
    reads back, after the upgrade, the amounts it read back before, now exact."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url)  # a case row with every column filled, then back to 0017
    eng = make_engine(url)
    clerk = add_user(eng, "clerk", "staff")
    case_ids = [
        register(eng, neighbor_case(summary=f"第{i}件"), actor_id=clerk, now=datetime.now(UTC))
        for i in range(5)
    ]
    eng.dispose()
    command.downgrade(alembic_config(url), "0017")
    old = [99999999999999.99, 1234567.89, 0.29, 320000, None]  # what 0017's NUMERIC held
    with sqlite3.connect(path) as conn:
        for case_id, value in zip(case_ids, old, strict=True):
            conn.execute("UPDATE cases SET amount_involved = ? WHERE id = ?", (value, case_id))
        # Terms of an agreement that is not there: only the money column matters here.
        conn.executemany(
            "INSERT INTO agreement_terms (agreement_id, seq, obligor, obligation, amount, performed) "
            "VALUES (1, ?, '林小二', '赔偿', ?, 0)",
            [(1, 20000.07), (2, 0.57), (3, None)],
        )
        assert [r[0] for r in conn.execute("SELECT typeof(amount_involved) FROM cases ORDER BY id")] == [
            "real",
            "real",
            "real",
            "integer",
            "null",
        ]

    command.upgrade(alembic_config(url), "0018")
    eng = make_engine(url)
    with Session(eng) as session:
        cases = session.execute(select(Case.amount_involved).order_by(Case.id)).scalars().all()
        terms = session.execute(select(AgreementTerm.amount).order_by(AgreementTerm.seq)).scalars().all()
    eng.dispose()
    # 99999999999999.99 was already 99999999999999.98 in a REAL: the value the old code showed is kept.
    assert cases == [
        Decimal("99999999999999.98"),
        Decimal("1234567.89"),
        Decimal("0.29"),
        Decimal("320000.00"),
        None,
    ]
    assert terms == [Decimal("20000.07"), Decimal("0.57"), None]
    with sqlite3.connect(path) as conn:
        assert conn.execute(
            "SELECT amount_involved, typeof(amount_involved) FROM cases ORDER BY id"
        ).fetchall() == [
            (9999999999999998, "integer"),
            (123456789, "integer"),
            (29, "integer"),
            (32000000, "integer"),
            (None, "null"),
        ]
