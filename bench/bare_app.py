"""The baseline: a bare FastAPI + SQLModel app, one row inserted (or updated) per request.

Same engine factory as ours (`models.db.make_engine`: SQLite WAL, synchronous=NORMAL, busy_timeout,
foreign keys), same server (uvicorn, one process), same sync-endpoint threadpool. No auth, no domain rules.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI, HTTPException
from sqlalchemy import Column, DateTime, Text, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel


class BareCase(SQLModel, table=True):
    __tablename__ = "bare_cases"
    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=32)
    town: str = Field(max_length=64)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    stage: str = Field(default="registered", max_length=20)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int = 1


def create_bare_app(engine: Engine) -> FastAPI:
    SQLModel.metadata.create_all(engine, tables=[BareCase.__table__])
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/bare/cases", status_code=201)
    def create(body: dict) -> dict:
        with Session(engine) as session:
            row = BareCase(
                category=body["category"],
                town=body["town"],
                summary=body["summary"],
                created_at=datetime.now(UTC),
            )
            session.add(row)
            session.commit()
            return {"id": row.id, "stage": row.stage}

    @app.post("/bare/cases/{case_id}/touch")
    def touch(case_id: int) -> dict:
        """An action's shape: change one row's stage and version in one transaction."""
        with Session(engine) as session:
            n = session.exec(
                update(BareCase)
                .where(BareCase.id == case_id)
                .values(stage="accepted", version=BareCase.version + 1)
            ).rowcount
            session.commit()
            if not n:
                raise HTTPException(404)
            return {"id": case_id, "stage": "accepted"}

    return app
