"""Scenarios built through the real actions (flows/*) with an explicit clock, instead of each test
copying its own set-up: `Scenario(engine).registered().accepted().panel().scheduled().agreed()`.

Each step runs in its own transaction, as the API does, and records the ids it made (`case`,
`session`); a step's `now` defaults to an hour (`step`) after the previous step's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from tests.factories import act, add_user, expert_bank, neighbor_case, register
from tests.support.clock import at

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

# The center's people, by login: (role, fields). Tests pick the ones they need with `people()`;
# "expert" names the person's record in the expert bank (tests.factories.expert_bank).
PEOPLE: dict[str, tuple[str, dict[str, Any]]] = {
    "clerk": ("staff", {"display_name": "蔡受理"}),
    "recorder": ("staff", {"display_name": "叶记录"}),
    "admin": ("admin", {"display_name": "管理员"}),
    "zhoulawyer": ("lawyer", {"expert": "lawyer"}),
    "otherlawyer": ("lawyer", {"expert": "judge"}),
    # The mediator 李调解's own account (a staff login linked to the bank's mediator_tangxia).
    "wang": ("staff", {"expert": "mediator_tangxia", "display_name": "李调解"}),
    "director": ("leader", {"level": 1, "display_name": "中心主任"}),
    "yuhai": ("leader", {"level": 2, "town": "玉海街道", "display_name": "玉海街道分管领导"}),
    "tangxia": ("leader", {"level": 2, "town": "塘下镇", "display_name": "塘下镇分管领导"}),
    "city": ("leader", {"level": 3, "display_name": "市领导"}),
}

# The logins of the `users` fixture (tests/api_clients.py): everyone but the recorder and 李调解.
USERS = ("clerk", "admin", "zhoulawyer", "otherlawyer", "director", "yuhai", "tangxia", "city")


def people(
    engine: Engine, *logins: str, experts: dict[str, int] | None = None, **fields: dict[str, Any]
) -> dict[str, int]:
    """Users by login from PEOPLE (`fields[login]` overrides or adds to that person's fields); one
    linked to an expert record (a lawyer, 李调解) needs `experts`, the bank that record is in."""
    out = {}
    for login in logins:
        role, known = PEOPLE[login]
        merged = {**known, **fields.get(login, {})}
        if "expert" in merged:
            if experts is None:
                raise ValueError(f"{login} is linked to an expert record: pass the bank (experts=...)")
            merged["expert_id"] = experts[merged.pop("expert")]
        out[login] = add_user(engine, login, role, **merged)
    return out


def office(engine: Engine, *logins: str) -> dict[str, Any]:
    """The expert bank (`experts`) and the center's people named (by default the clerk 蔡受理)."""
    experts = expert_bank(engine)
    return {"experts": experts, **people(engine, *(logins or ("clerk",)), experts=experts)}


class Scenario:
    """One case driven step by step through the real actions."""

    def __init__(
        self,
        engine: Engine,
        *,
        clerk: int | None = None,
        experts: dict[str, int] | None = None,
        start: datetime | None = None,
        step: timedelta = HOUR,
    ) -> None:
        self.engine = engine
        self.step = step
        self.experts = experts if experts is not None else expert_bank(engine)
        self.clerk = clerk if clerk is not None else people(engine, "clerk")["clerk"]
        self.now = start if start is not None else at(2026, 11, 2, 9)
        self.case: int = 0
        self.session: int = 0  # the last one scheduled; `sessions` holds them all, in order
        self.sessions: list[int] = []

    def _clock(self, now: datetime | None) -> datetime:
        self.now = now if now is not None else self.now + self.step
        return self.now

    @classmethod
    def just_now(cls, engine: Engine, **kwargs: Any) -> Scenario:
        """Steps a minute apart from ten minutes ago, all in the past: for tests that go on through the
        API or the pages, which take the real clock."""
        from models.db import utcnow

        return cls(engine, start=utcnow() - 10 * MINUTE, step=MINUTE, **kwargs)

    def act(self, fn: Any, *, now: datetime | None = None, by: int | None = None, **kwargs: Any) -> Any:
        """Any other action on the case, by the clerk (or the user `by`), a step (an hour unless the
        scenario says otherwise) later unless `now` says when; returns what the action returns."""
        actor_id = by if by is not None else self.clerk
        return act(self.engine, fn, self.case, actor_id=actor_id, now=self._clock(now), **kwargs)

    def registered(self, body: dict | None = None, *, now: datetime | None = None) -> Scenario:
        """Registered (a neighbour case unless `body`), at the start unless `now` says when."""
        if now is not None:
            self.now = now
        self.case = register(self.engine, body or neighbor_case(), actor_id=self.clerk, now=self.now)
        return self

    def accepted(self, *, now: datetime | None = None) -> Scenario:
        from flows.intake import accept_case

        self.act(accept_case, now=now)
        return self

    def panel(self, *members: str | tuple[str, str], now: datetime | None = None) -> Scenario:
        """The panel by expert key ("mediator_tangxia" leads; ("lawyer", "legal_advisor") for another role);
        the first member leads, the others are members."""
        from flows.panel_selection import confirm_panel

        rows = []
        for i, member in enumerate(members or ("mediator_tangxia",)):
            key, role = member if isinstance(member, tuple) else (member, "lead" if i == 0 else "member")
            rows.append({"expert_id": self.experts[key], "role": role})
        self.act(confirm_panel, now=now, members=rows)
        return self

    def scheduled(
        self,
        when: datetime,
        *,
        location: str = "第一调解室",
        duration_minutes: int = 120,
        now: datetime | None = None,
    ) -> Scenario:
        from flows.sessions import schedule_session

        ms = self.act(
            schedule_session, now=now, scheduled_at=when, location=location, duration_minutes=duration_minutes
        )
        self.session = ms.id
        self.sessions.append(ms.id)
        return self

    def held(
        self,
        held_at: datetime,
        *,
        outcome: str,
        attendees: list[str],
        notes: str | None,
        consent_to_continue: bool = False,
        now: datetime | None = None,
        session_id: int | None = None,
        by: int | None = None,
        **extra: Any,
    ) -> Scenario:
        """The last scheduled session (or `session_id`) recorded as held at `held_at` (recorded two
        hours later unless `now`, by the clerk unless `by`)."""
        from flows.sessions import record_session

        self.act(
            record_session,
            now=now if now is not None else held_at + 2 * HOUR,
            by=by,
            session_id=session_id if session_id is not None else self.session,
            held_at=held_at,
            attendees=attendees,
            notes=notes,
            outcome=outcome,
            consent_to_continue=consent_to_continue,
            **extra,
        )
        return self

    def agreed(
        self, held_at: datetime, *, attendees: list[str], notes: str = "双方达成一致。", **kw: Any
    ) -> Scenario:
        return self.held(held_at, outcome="agreed", attendees=attendees, notes=notes, **kw)

    def issued(
        self,
        terms: list[dict],
        *,
        now: datetime | None = None,
        method: str = "银行转账",
        place: str = "瑞安市",
        **extra: Any,
    ) -> Scenario:
        """The written agreement issued, its flows drained."""
        from flows.agreement import issue_agreement
        from runtime.relay import drain

        data = {"terms": terms, "performance_method": method, "performance_place": place} | extra
        self.act(issue_agreement, now=now, data=data)
        drain(self.engine)
        _wait_for_agreement_document(self.engine, self.case)  # a live server's relay may take the run
        return self

    def signed(self, *, now: datetime | None = None) -> Scenario:
        from flows.agreement import sign_agreement
        from runtime.relay import drain

        when = self._clock(now)
        self.act(sign_agreement, now=when, signed_at=when)
        drain(self.engine)
        return self


def neighbor_case_with_panel(engine: Engine) -> dict[str, Any]:
    """A neighbour case registered Mon 2 Nov 2026 09:00 (China time) by 蔡受理 (login "clerk"), accepted
    at 10:00, its panel confirmed at 11:00: 李调解 presiding (an appointed 人民调解员) and 陈乡贤 (not
    appointed)."""
    s = Scenario(engine).registered().accepted().panel("mediator_tangxia", "elder_tangxia")
    return {"clerk": s.clerk, "case": s.case, "experts": s.experts}


def drive_to_signed(
    engine: Engine,
    body: dict,
    *,
    actor_id: int,
    lead_expert_id: int,
    start: datetime,
    terms: list[dict],
    attendees: list[str],
    agreement_extra: dict | None = None,
    sign: bool = True,
) -> int:
    """A case registered at `start`, accepted and given its panel the same day, mediated the next day
    (agreed), its agreement issued and (by default) signed that day. Returns the case id."""
    held = start + timedelta(days=1)
    s = Scenario(engine, clerk=actor_id, experts={"lead": lead_expert_id}, start=start)
    s.registered(body).accepted().panel("lead").scheduled(held, now=start + 3 * HOUR)
    s.agreed(held, attendees=attendees).issued(terms, now=held + 3 * HOUR, **(agreement_extra or {}))
    if sign:
        s.signed()
    return s.case


def _wait_for_agreement_document(engine: Engine, case_id: int, timeout: float = 120) -> None:
    import time as _time

    from sqlmodel import Session, select

    from models.agreement import Agreement

    deadline = _time.monotonic() + timeout
    while _time.monotonic() < deadline:
        with Session(engine) as session:
            agreement = session.exec(select(Agreement).where(Agreement.case_id == case_id)).one()
            if agreement.document_id is not None:
                return
        _time.sleep(0.5)
    raise AssertionError(f"the agreement of case {case_id} was not issued within {timeout} s")
