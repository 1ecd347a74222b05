"""The case list, once: its filters and the caller's scope, for the JSON list, the pages, the ledger
export and the reports alike (so an export can never see more, or other, cases than the list)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, and_, func, literal, or_
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from models.access import case_filter, user_cases
from models.case import Case
from models.deadlines import due_soon_sql, not_overdue_sql, open_sql, overdue_sql, start_of_day_utc
from models.escalation import Escalation
from models.expert import PanelMember
from models.party import Party
from models.party_lookup import HASHED_FIELDS, digest, match_note, query_kind
from models.user import User


@dataclass(frozen=True)
class CaseFilters:
    stage: str | None = None
    category: str | None = None
    channel: str | None = None
    town: str | None = None
    overdue: bool | None = None
    escalation_level: int | None = None
    q: str | None = None
    flagged: bool | None = None
    mine: bool = False
    open_only: bool = False
    due_within_days: int | None = None
    registered_from: date | None = None  # China dates, inclusive
    registered_to: date | None = None


def registered_between(date_from: date | None, date_to: date | None) -> list[ColumnElement[bool]]:
    """Registered on China dates `date_from` … `date_to`, both inclusive (either may be open)."""
    conditions: list[ColumnElement[bool]] = []
    if date_from is not None:
        conditions.append(col(Case.created_at) >= start_of_day_utc(date_from))
    if date_to is not None:
        conditions.append(col(Case.created_at) < start_of_day_utc(date_to + timedelta(days=1)))
    return conditions


def case_conditions(
    user: User, filters: CaseFilters, now: datetime, session: Session | None = None
) -> list[ColumnElement[bool]]:
    """WHERE clauses for what `user` may see, narrowed by `filters`, as of `now`. The session, when
    given, lets the search read matching parties first (see `search_sql`)."""
    conditions: list[ColumnElement[bool]] = [case_filter(user)]
    if filters.stage:
        conditions.append(col(Case.stage) == filters.stage)
    if filters.category:
        conditions.append(col(Case.category) == filters.category)
    if filters.channel:
        conditions.append(col(Case.channel) == filters.channel)
    if filters.town:
        conditions.append(col(Case.town) == filters.town)
    if filters.escalation_level is not None:
        conditions.append(col(Case.escalation_level) == filters.escalation_level)
    if filters.flagged is not None:
        conditions.append(col(Case.flagged).is_(filters.flagged))
    if filters.mine:
        conditions.append(user_cases(user))
    if filters.open_only:
        conditions.append(open_sql())
    if filters.overdue is True:
        conditions.append(overdue_sql(now))
    elif filters.overdue is False:
        conditions.append(not_overdue_sql(now))
    if filters.due_within_days is not None:
        conditions.append(due_soon_sql(now, filters.due_within_days))
    conditions += registered_between(filters.registered_from, filters.registered_to)
    if filters.q and filters.q.strip():
        conditions.append(search_sql(filters.q.strip(), session))
    return conditions


# A case number as people type it: "17", "00017", "瑞调〔2026〕00017号" (the prefix is the center's), the
# year in the brackets the keyboard gave: 〔〕, ASCII or full-width () (NFKC makes them ASCII), [], 【】.
CASE_NUMBER_QUERY = re.compile(r"^(?:[^\s\d()\[\]〔〕【】]*[(\[〔【](\d{4})[)\]〕】])?0*(\d{1,9})号?$")
# Party names matched ahead of the case query (an id list the planner can combine with an index);
# more matches than this and the name search stays a subquery.
PARTY_MATCH_CAP = 2000


def number_query(q: str) -> tuple[int | None, int] | None:
    """(year or None, sequence number) when `q` is a case number, else None."""
    m = CASE_NUMBER_QUERY.match(re.sub(r"\s+", "", unicodedata.normalize("NFKC", q)))
    if not m:
        return None
    return (int(m.group(1)) if m.group(1) else None, int(m.group(2)))


def _text_match(column: Any, q: str, dialect: str) -> ColumnElement[bool]:
    """`column` contains `q` literally (% and _ are not wildcards). On PostgreSQL a two-character
    window search (`tj_bigrams`, migration 0017) lets a GIN index find rare words: trigram indexes
    cannot serve two-character Chinese words, the most common query (a surname and a given name,
    工资, 借款)."""
    contains = column.contains(q, autoescape=True)
    if dialect != "postgresql" or len(q) < 2:
        return contains
    grams = func.tj_bigrams(column).op("@>", return_type=Boolean)(func.tj_bigrams(literal(q)))
    return and_(contains, grams)


def parties_by_number(kind: str, number: str) -> Any:
    """Case ids of the parties holding this whole ID number or phone: an indexed equality on its
    keyed hash in each column of that kind (models/party_lookup.py)."""
    hashed = digest(kind, number)
    matches = [getattr(Party, h.column) == hashed for h in HASHED_FIELDS if h.kind == kind]
    return select(Party.case_id).where(or_(*matches))


def search_sql(q: str, session: Session | None = None) -> ColumnElement[bool]:
    """The search box: a whole ID number or phone finds the cases of the parties holding it (exactly,
    by its keyed hash); a case number finds that number (of any year unless the year is given); any
    other text is looked for in the summary and the parties' names. With a session, the matching
    parties are read first so that both halves can use their indexes."""
    identity = query_kind(q)
    if identity is not None:
        by_number = parties_by_number(*identity)
        if session is None:
            return col(Case.id).in_(by_number)
        return col(Case.id).in_(list(session.exec(by_number.distinct()).all()))
    number = number_query(q)
    if number is not None:
        year, seq = number
        by_number = col(Case.case_seq) == seq
        return and_(by_number, col(Case.case_year) == year) if year is not None else by_number
    dialect = session.get_bind().dialect.name if session is not None else "sqlite"
    by_party = select(Party.case_id).where(_text_match(col(Party.name), q, dialect))
    party_match: ColumnElement[bool] = col(Case.id).in_(by_party)
    in_summary = _text_match(col(Case.summary), q, dialect)
    if session is not None:
        ids = list(session.exec(by_party.distinct().limit(PARTY_MATCH_CAP + 1)).all())
        if not ids:
            return in_summary
        if len(ids) <= PARTY_MATCH_CAP:
            party_match = col(Case.id).in_(ids)
    return or_(in_summary, party_match)


def supervised_sql() -> ColumnElement[bool]:
    """督办中: an open case with a 督办 not yet fulfilled; its level is the case's escalation level.
    The dashboard's figures by level, its 督办 list and the leaders' lists all use this."""
    unresolved = select(Escalation.case_id).where(col(Escalation.resolved_at).is_(None))
    return and_(open_sql(), col(Case.escalation_level) >= 1, col(Case.id).in_(unresolved))


@dataclass
class CasePage:
    rows: list[Case]
    total: int
    more: bool = False  # more than `total` match (a capped count)
    # Found by a whole ID number or phone: what each row says matched, masked ("身份证号 330381…1234 匹配").
    match: str | None = None


def find_cases(
    session: Session,
    user: User,
    filters: CaseFilters,
    *,
    now: datetime,
    limit: int,
    offset: int = 0,
    order: str = "newest",
    count_cap: int | None = None,
) -> CasePage:
    """One page of the case list and its total. `order`: "newest" first or "due" (earliest deadline first).
    `count_cap`: count at most this many + 1 (the pages say "more than N"): counting every one of a
    million matches costs more than the page itself, and nobody pages through them."""
    conditions = case_conditions(user, filters, now, session)
    matching = sa_select(literal(1)).select_from(Case).where(*conditions)
    if count_cap is not None:
        matching = matching.limit(count_cap + 1)
    total = session.execute(sa_select(func.count()).select_from(matching.subquery())).scalar_one()
    ordering: list[Any] = (
        [col(Case.stage_due_at).asc().nulls_last(), Case.id] if order == "due" else [col(Case.id).desc()]
    )
    rows = session.exec(select(Case).where(*conditions).order_by(*ordering).offset(offset).limit(limit)).all()
    match = match_note(filters.q) if filters.q else None
    if count_cap is not None and total > count_cap:
        return CasePage(rows=list(rows), total=count_cap, more=True, match=match)
    return CasePage(rows=list(rows), total=total, match=match)


@dataclass(frozen=True)
class EscalationFilters:
    level: int | None = None
    open: bool | None = None
    mine: bool = False
    # Ended ones only since this moment (the leaders' page keeps recently ended 督办 in sight).
    resolved_since: datetime | None = None


def find_escalations(
    session: Session,
    user: User,
    filters: EscalationFilters,
    *,
    limit: int,
    offset: int = 0,
) -> tuple[list[tuple[Escalation, Case]], int]:
    """督办 records the user may see (their scope), highest level first; `mine`: assigned to the user.
    The leaders' 督办 page and `GET /escalations` both read this."""
    conditions: list[ColumnElement[bool]] = [case_filter(user)]
    if filters.level is not None:
        conditions.append(col(Escalation.to_level) == filters.level)
    if filters.open is True:
        # As `supervised_sql`: unresolved, on an open case (an ended case resolves its 督办 anyway).
        conditions += [col(Escalation.resolved_at).is_(None), open_sql()]
    elif filters.open is False:
        conditions.append(col(Escalation.resolved_at).is_not(None))
    if filters.mine:
        conditions.append(col(Escalation.assignee_id) == user.id)
    if filters.resolved_since is not None:
        conditions.append(col(Escalation.resolved_at) >= filters.resolved_since)
    joined = sa_select(func.count()).select_from(Escalation).join(Case, col(Case.id) == Escalation.case_id)
    total = session.execute(joined.where(*conditions)).scalar_one()
    rows = session.exec(
        select(Escalation, Case)
        .join(Case, col(Case.id) == Escalation.case_id)
        .where(*conditions)
        .order_by(col(Escalation.to_level).desc(), col(Escalation.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [(e, c) for e, c in rows], total


def active_case_counts(session: Session, expert_ids: list[int] | None = None) -> dict[int, int]:
    """How many open cases each expert sits on (the expert bank shows it beside their limit)."""
    query = (
        sa_select(col(PanelMember.expert_id), func.count())
        .join(Case, col(Case.id) == col(PanelMember.case_id))
        .where(col(PanelMember.active), open_sql())
    )
    if expert_ids is not None:
        query = query.where(col(PanelMember.expert_id).in_(expert_ids))
    return dict(session.execute(query.group_by(col(PanelMember.expert_id))).all())
