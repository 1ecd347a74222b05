"""Session pages: scheduling and rescheduling (warnings shown before saving), and the 人民调解记录 form.

The record form is one compact table however many parties there are (one row per party, its
representatives under it); statements are rows with the speaker picked from a list. On any error the
form comes back with every message beside its field and everything typed kept. The rules are the
flows' (flows/sessions.py) and models' (models/scheduling.py); this module only reads the form and
shows the answers.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from api.actions import CaseNotFound, command_from_form, perform
from api.deps import IdPath
from api.errors import chinese_message
from api.html import engine_of, not_found, redirect, render
from api.pages.actions import load_visible_case
from api.pages.cases import local_datetime
from api.pages.common import STAFF, PageRoute, form_of, require
from flows import sessions
from models.case import Case
from models.db import utcnow
from models.enums import OralPerformance, SessionOutcome
from models.lifecycle import DomainError, InvalidInput, problems_of
from models.mediation_session import MediationSession
from models.public import CaseDetailPublic
from models.schemas import SessionCreate, SessionRecord, SessionReschedule
from models.tz import CHINA
from models.user import User

router = APIRouter(route_class=PageRoute)

TERM_FIELDS = ("obligor", "obligee", "obligation", "amount", "due_date")
# Blank rows offered for what can grow: statements, other participants, oral terms. Without
# JavaScript, "增加空行" re-shows the form with more (nothing is saved); with it, a row is cloned.
STATEMENT_ROWS = 6
OTHER_ROWS = 2
ORAL_ROWS = 3
MORE_ROWS = 5
# The answer most parties give to the rights told (offered as a one-click fill, never assumed).
DEFAULT_ANSWER = "清楚，无异议"


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _local_input(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


class _SchedulePage(TypedDict):
    """What the scheduling and rescheduling forms share: where they post, their title, the values typed."""

    action: str
    title: str
    values: dict[str, str]


class _Unconfirmed(Exception):
    """The booking is valid but has warnings the user has not confirmed: roll back, ask first."""

    def __init__(self, warnings: list[str]) -> None:
        super().__init__("；".join(warnings))
        self.warnings = warnings


def _validation_errors(exc: ValidationError, key_of: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        path = ".".join(str(p) for p in error.get("loc", ()))
        errors.setdefault(key_of(path), chinese_message(error))
    return errors


# --- Scheduling and rescheduling -----------------------------------------------------------------


def _schedule_page(
    request: Request,
    user: User,
    case_id: int,
    *,
    action: str,
    title: str,
    values: dict[str, str],
    errors: dict[str, str],
    warnings: list[str],
    status: int,
) -> Response:
    with Session(engine_of(request)) as session:
        case = load_visible_case(session, user, case_id)
        detail = CaseDetailPublic.from_case(session, case, user, utcnow()).model_dump(mode="json")
    context = {
        "c": detail,
        "action": action,
        "title": title,
        "v": values,
        "errors": errors,
        "warnings": warnings,
        "rescheduling": action.endswith("/reschedule"),
    }
    return render(request, "session_schedule.html", context, status=status)


def _book(
    request: Request,
    user: User,
    case_id: int,
    *,
    action: str,
    title: str,
    values: dict[str, str],
    cmd: SessionCreate | SessionReschedule,
    run: Any,
    done: str,
    back: str,
    confirmed: bool,
) -> Response:
    """Book (or move) the session; with warnings not yet confirmed for this very time, roll back and
    show them with a "仍然安排" button. Errors come first (a refused time is not worth a warning)."""
    page: _SchedulePage = {"action": action, "title": title, "values": values}

    def ask_first(session: Session, case: Case, _booked: MediationSession) -> None:
        warnings = sessions.schedule_warnings(session, case, cmd.scheduled_at)
        if warnings and not confirmed:
            raise _Unconfirmed(warnings)

    try:
        perform(request, user, case_id, cmd, run, render=ask_first)
    except CaseNotFound:
        raise not_found() from None
    except _Unconfirmed as exc:
        return _schedule_page(request, user, case_id, **page, errors={}, warnings=exc.warnings, status=200)
    except InvalidInput as exc:
        errors: dict[str, str] = {}
        for p in problems_of(exc):
            key = p.field if p.field in values else "_form"
            errors[key] = f"{errors[key]}；{p.message}" if key in errors else p.message
        return _schedule_page(request, user, case_id, **page, errors=errors, warnings=[], status=422)
    except DomainError as exc:
        return redirect(back, flash=exc.message, kind="error")
    except StaleDataError:
        return redirect(back, flash="记录已被他人修改，请刷新页面后重试", kind="error")
    return redirect(back, flash=done)


def _confirmed(form: Any) -> bool:
    # Confirmed for the time the warnings were shown for: a time changed on the confirmation page is
    # checked again.
    return bool(form.get("confirm_warnings")) and _text(form, "warned_for") == _text(form, "scheduled_at")


@router.post("/cases/{case_id}/sessions", include_in_schema=False)
async def schedule(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    values = {k: _text(form, k) for k in SessionCreate.model_fields}
    page: _SchedulePage = {"action": f"/cases/{case_id}/sessions", "title": "安排调解", "values": values}
    try:
        cmd = command_from_form(SessionCreate, form)
    except ValidationError as exc:
        errors = _validation_errors(exc, lambda path: path if path in values else "_form")
        return _schedule_page(request, user, case_id, **page, errors=errors, warnings=[], status=422)

    return _book(
        request,
        user,
        case_id,
        **page,
        cmd=cmd,
        run=sessions.schedule_session,
        done="调解已安排",
        back=f"/cases/{case_id}",
        confirmed=_confirmed(form),
    )


@router.post("/cases/{case_id}/sessions/{sid}/reschedule", include_in_schema=False)
async def reschedule_session(case_id: IdPath, sid: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    values = {k: _text(form, k) for k in SessionReschedule.model_fields}
    page: _SchedulePage = {
        "action": f"/cases/{case_id}/sessions/{sid}/reschedule",
        "title": "调解改期",
        "values": values,
    }
    try:
        cmd = command_from_form(SessionReschedule, form).about(sid)
    except ValidationError as exc:
        errors = _validation_errors(exc, lambda path: path if path in values else "_form")
        return _schedule_page(request, user, case_id, **page, errors=errors, warnings=[], status=422)

    return _book(
        request,
        user,
        case_id,
        **page,
        cmd=cmd,
        run=sessions.reschedule_session,
        done="调解已改期",
        back=f"/cases/{case_id}#sessions",
        confirmed=_confirmed(form),
    )


# --- The record (人民调解记录) -------------------------------------------------------------------


def _indexed(form: Any, prefix: str) -> list[int]:
    return sorted({int(m.group(1)) for k in form if (m := re.fullmatch(rf"{prefix}-(\d+)-\w+", k))})


_SPLIT = re.compile(r"\s*[:：]\s*")


class RecordForm:
    """The posted record form: what the flow gets, what the page shows again, and where each of the
    flow's field paths (statements.2.speaker) is on the page (statement-2)."""

    def __init__(self, form: Any) -> None:
        self.values: dict[str, Any] = {
            k: _text(form, k)
            for k in ("held_at", "recorder", "notes", "outcome", "oral_performance", "oral_note")
        }
        for flag in ("rights_told", "consent_to_continue", "oral"):
            self.values[flag] = bool(form.get(flag))
        # v1.0 form and other clients: names typed in one field ("、" or new lines between them).
        typed = [a for a in re.split(r"[\n,，、;；]+", _text(form, "attendees")) if a.strip()]
        self.present = list(dict.fromkeys([str(p).strip() for p in form.getlist("present")] + typed))
        self.present = [p for p in self.present if p]
        self.answers = {
            i: {
                "party": _text(form, f"answer-{i}-party"),
                "text": _text(form, f"answer-{i}-text"),
                "recusal": bool(form.get(f"answer-{i}-recusal")),
                "against": _text(form, f"answer-{i}-against"),
                "reason": _text(form, f"answer-{i}-reason"),
            }
            for i in _indexed(form, "answer")
        }
        rows = [
            {"name": _text(form, f"other-{i}-name"), "capacity": _text(form, f"other-{i}-capacity")}
            for i in _indexed(form, "other")
        ]
        rows += [
            self._line(line, ("name", "capacity"))
            for line in _text(form, "participants").splitlines()
            if line.strip()
        ]
        self.others = rows
        rows = [
            {"speaker": _text(form, f"statement-{i}-speaker"), "text": _text(form, f"statement-{i}-text")}
            for i in _indexed(form, "statement")
        ]
        rows += [
            self._line(line, ("speaker", "text"))
            for line in _text(form, "statements").splitlines()
            if line.strip()
        ]
        self.statements = rows
        self.terms = [{f: _text(form, f"oral-{i}-{f}") for f in TERM_FIELDS} for i in _indexed(form, "oral")]
        self.consents = {
            i: {
                "party": _text(form, f"consent-{i}-party"),
                "agrees": bool(form.get(f"consent-{i}-agrees")),
                "words": _text(form, f"consent-{i}-words"),
            }
            for i in _indexed(form, "consent")
        }
        # Which posted row each item sent to the flow came from (blank rows are not sent).
        self.sent_statements = [n for n, r in enumerate(self.statements) if r["speaker"] or r["text"]]
        self.sent_others = [n for n, r in enumerate(self.others) if r["name"] or r["capacity"]]
        self.sent_answers = [i for i, a in self.answers.items() if a["text"] or a["recusal"]]
        self.sent_terms = [n for n, t in enumerate(self.terms) if any(t.values())]

    @staticmethod
    def _line(line: str, keys: tuple[str, str]) -> dict[str, str]:
        """One line of the v1.0 form's text fields, "姓名：内容" (a line without "：" keeps its text
        in the first part, and the schema names what is missing)."""
        parts = _SPLIT.split(line.strip(), maxsplit=1)
        if len(parts) != 2:
            parts = [parts[0], ""]
        return dict(zip(keys, parts, strict=True))

    def payload(self) -> dict[str, Any]:
        """The SessionRecord body, as the JSON API would get it."""
        body: dict[str, Any] = {
            "held_at": local_datetime(self.values["held_at"]) or self.values["held_at"],
            "attendees": self.present,
            "notes": self.values["notes"] or None,
            "outcome": self.values["outcome"],
            "consent_to_continue": self.values["consent_to_continue"],
            "participants": [self.others[n] for n in self.sent_others],
            "recorder": self.values["recorder"] or None,
            "statements": [self.statements[n] for n in self.sent_statements],
            "rights_told": self.values["rights_told"],
            "party_answers": [
                {
                    "party": self.answers[i]["party"],
                    "answer": self.answers[i]["text"],
                    "recusal": self.answers[i]["recusal"],
                    "recusal_against": self.answers[i]["against"] or None,
                    "recusal_reason": self.answers[i]["reason"] or None,
                }
                for i in self.sent_answers
            ],
        }
        if self.values["oral"]:
            body["oral_agreement"] = {
                "terms": [{k: v for k, v in self.terms[n].items() if v} for n in self.sent_terms],
                "consents": list(self.consents.values()),
                "performance": self.values["oral_performance"],
                "performance_note": self.values["oral_note"] or None,
            }
        return body

    def key_of(self, path: str | None) -> str:
        """The page's place for a field path of the flow or the schema."""
        if not path:
            return "_form"
        bits = path.split(".")
        head = bits[0]
        index = int(bits[1]) if len(bits) > 1 and bits[1].isdigit() else None
        rest = bits[2] if len(bits) > 2 else None
        if head == "statements" and index is not None and index < len(self.sent_statements):
            return f"statement-{self.sent_statements[index]}"
        if head == "participants" and index is not None and index < len(self.sent_others):
            return f"other-{self.sent_others[index]}"
        if head == "party_answers" and index is not None and index < len(self.sent_answers):
            row = self.sent_answers[index]
            suffix = {"answer": "-text", "recusal_against": "-against", "recusal_reason": "-reason"}
            return f"answer-{row}{suffix.get(rest or '', '')}"
        if head == "attendees":
            return "present"
        if head == "oral_agreement":
            if (
                len(bits) > 3
                and bits[1] == "terms"
                and bits[2].isdigit()
                and int(bits[2]) < len(self.sent_terms)
            ):
                return f"oral-{self.sent_terms[int(bits[2])]}"
            return {
                "consents": "oral-consents",
                "performance": "oral_performance",
                "terms": "oral-terms",
            }.get(bits[1] if len(bits) > 1 else "", "oral")
        if head in ("held_at", "recorder", "notes", "outcome", "rights_told", "consent_to_continue"):
            return head
        if head == "statements":
            return "statements"
        return "_form"


def _record_context(
    session: Session, user: User, case_id: int, sid: int
) -> tuple[dict, MediationSession] | None:
    case = load_visible_case(session, user, case_id)
    ms = session.get(MediationSession, sid)
    if ms is None or ms.case_id != case.id or ms.recorded_at is not None or ms.cancelled_at is not None:
        return None
    detail = CaseDetailPublic.from_case(session, case, user, utcnow()).model_dump(mode="json")
    held_before = session.exec(
        select(MediationSession.id).where(
            MediationSession.case_id == case.id, col(MediationSession.recorded_at).is_not(None)
        )
    ).first()
    detail["first_session"] = held_before is None
    return detail, ms


def _record_page(
    request: Request,
    user: User,
    case_id: int,
    sid: int,
    *,
    form: RecordForm | None,
    errors: dict[str, str],
    extra_rows: int = 0,
    status: int = 200,
) -> Response:
    with Session(engine_of(request)) as session:
        found = _record_context(session, user, case_id, sid)
    if found is None:
        return redirect(f"/cases/{case_id}#sessions", flash="该次调解已记录或已取消", kind="error")
    detail, ms = found
    parties = detail["parties"]
    if form is None:  # first showing: the defaults
        values: dict[str, Any] = {
            "held_at": _local_input(min(ms.scheduled_at, utcnow())),
            "recorder": user.display_name,
            "outcome": SessionOutcome.continue_.value,
            "oral_performance": OralPerformance.on_the_spot.value,
        }
        present = {m["name"] for m in detail["panel"]}  # the panel is there unless unticked
        answers: dict[int, dict] = {}
        others: list[dict] = []
        statements: list[dict] = []
        terms: list[dict] = []
        consents: dict[int, dict] = {}
    else:
        values, present, answers = form.values, set(form.present), form.answers
        others, statements, terms, consents = form.others, form.statements, form.terms, form.consents
    # Each party's row keeps its answer by the party's name (the rows are the case's parties, in order).
    by_party = {a["party"]: a for a in answers.values()}
    consent_by_party = {c["party"]: c for c in consents.values()}
    rows = []
    for i, p in enumerate(parties):
        reps = [
            (name, label)
            for name, label in (
                (p.get("legal_representative"), "法定代表人"),
                (p.get("agent_name"), "委托代理人"),
            )
            if name
        ]
        rows.append(
            {
                "i": i,
                "p": p,
                "reps": reps,
                "a": by_party.get(p["name"], {}),
                "consent": consent_by_party.get(p["name"], {}),
            }
        )
    panel = detail["panel"]
    # Who may speak: the parties and those who act for them, the panel (each while marked present),
    # the recorder, the other participants named. (name, capacity, needs to be marked present)
    speakers: list[tuple[str, str, bool]] = []
    for r in rows:
        speakers.append((r["p"]["name"], r["p"]["role_label"], True))
        speakers += [(name, f"{r['p']['name']}的{label}", True) for name, label in r["reps"]]
    speakers += [(m["name"], m["role_label"], True) for m in panel]
    speakers += [(o["name"], o["capacity"] or "参加人", False) for o in others if o["name"]]
    recorder = values.get("recorder") or user.display_name
    speakers.append((recorder, "记录人", False))
    known = {name for name, _, _ in speakers}
    # A typed name (older form, other clients) that is no longer in the lists stays visible.
    speakers += [
        (st["speaker"], "", False) for st in statements if st["speaker"] and st["speaker"] not in known
    ]
    unique: dict[str, tuple[str, str, bool]] = {}
    for sp in speakers:
        unique.setdefault(sp[0], sp)
    speakers = list(unique.values())
    context = {
        "c": detail,
        "s": {"id": ms.id, "seq": ms.seq, "scheduled_at": ms.scheduled_at, "location": ms.location},
        "v": values,
        "present": present,
        "rows": rows,
        "panel": panel,
        "speakers": speakers,
        "others": others + [{"name": "", "capacity": ""}] * (OTHER_ROWS if not others else 1),
        "statements": statements
        + [{"speaker": "", "text": ""}] * max(STATEMENT_ROWS - len(statements), 1 + extra_rows),
        "terms": terms + [dict.fromkeys(TERM_FIELDS, "")] * max(ORAL_ROWS - len(terms), 0),
        "errors": errors,
        "outcomes": list(SessionOutcome),
        "oral_performances": list(OralPerformance),
        "default_answer": DEFAULT_ANSWER,
        "more_rows": MORE_ROWS,
    }
    return render(request, "session_record.html", context, status=status)


@router.get("/cases/{case_id}/sessions/{sid}/record", include_in_schema=False)
def record_form(case_id: IdPath, sid: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    return _record_page(request, user, case_id, sid, form=None, errors={})


@router.post("/cases/{case_id}/sessions/{sid}/record", include_in_schema=False)
async def record_session(case_id: IdPath, sid: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form_data = await form_of(request)
    posted = RecordForm(form_data)
    if form_data.get("more_rows"):  # no JavaScript: more blank rows, nothing saved
        return _record_page(request, user, case_id, sid, form=posted, errors={}, extra_rows=MORE_ROWS)
    try:
        body = SessionRecord.model_validate(posted.payload())
    except ValidationError as exc:
        errors = _validation_errors(exc, posted.key_of)
        return _record_page(request, user, case_id, sid, form=posted, errors=errors, status=422)
    outcome = SessionOutcome(body.outcome).label
    try:
        perform(request, user, case_id, body.about(sid), sessions.record_session)
    except CaseNotFound:
        raise not_found() from None
    except InvalidInput as exc:
        errors = {}
        for p in problems_of(exc):
            key = posted.key_of(p.field)
            errors[key] = f"{errors[key]}；{p.message}" if key in errors else p.message
        return _record_page(request, user, case_id, sid, form=posted, errors=errors, status=422)
    except DomainError as exc:
        return redirect(f"/cases/{case_id}#sessions", flash=exc.message, kind="error")
    except StaleDataError:
        return redirect(
            f"/cases/{case_id}#sessions", flash="记录已被他人修改，请刷新页面后重试", kind="error"
        )
    return redirect(f"/cases/{case_id}#sessions", flash=f"调解笔录已记录（{outcome}）")
