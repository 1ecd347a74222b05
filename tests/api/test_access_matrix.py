"""Role × route × own/other/recused: who may call what, on every JSON route, page, export and document.

The routes are read from the app itself (`app.routes`): a route added without an expectation here fails
`test_every_route_has_an_expectation`, so nothing new ships unchecked. The expectations are written from
the roles of DESIGN.md and CONTRACT.md ("403 for a role that may not act, 404 for a case the user may not
see"), by hand, not read from models/access.py:

- staff and admin work every case; the center's director (level 1) and the city (level 3) read every
  case; the 玉海街道 leader (level 2) reads only 玉海街道's (case A), never 塘下镇's (case B);
- a lawyer reads only the case whose panel they sit on (A); a lawyer on no panel reads none; a lawyer
  recused from A reads nothing of it, adds no opinion and downloads none of its documents;
- the application form and the agreement print full ID numbers and phones: only those who see them
  unmasked on the pages (staff, admin, the panel's lawyer) download them; a leader gets a Chinese 403;
- a report (积案报表) is downloaded by whoever ordered it, and the admin; nobody else even learns it exists.

Built once per backend (one test per backend walks every route for every role), on SQLite and PostgreSQL.
Refusals are 401/403/404 (or, on a page form whose rule lives in the flow, a redirect with an error
message), carry nothing of the case, and change nothing: the audit log is counted before and after.
Every answer a role may read is checked for what it may not see: the other case's number and party names,
and, for leaders, any full ID number or phone."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.routing import Mount

from flows.towns import replace_towns
from models.audit import AuditEvent
from models.case import Case, CaseLink
from models.db import session_scope, utcnow
from models.delivery import Delivery
from models.document import Document
from models.escalation import Escalation
from models.job import Job
from models.notification import Notification
from models.party import Party
from models.party_access import party_code
from models.town import TownsIn
from runtime.relay import drain
from tests.factories import PASSWORD, add_expert, add_user, expert_bank, person_id, png_bytes
from tests.pages.conftest import csrf_of, login
from tests.support.pdf import pdf_text
from tests.support.scenario import people

YUHAI, TANGXIA = "玉海街道", "塘下镇"
ROLES = (
    "anon",
    "admin",
    "staff",
    "lawyer_on",
    "lawyer_off",
    "lawyer_recused",
    "leader1",
    "leader2",
    "leader3",
    "reviewer_county",
    "reviewer_yuhai",
)
LOGINS = {
    "admin": "admin",
    "staff": "clerk",
    "lawyer_on": "zhoulawyer",
    "lawyer_off": "otherlawyer",
    "lawyer_recused": "qianlawyer",
    "leader1": "director",
    "leader2": "yuhai",
    "leader3": "city",
    "reviewer_county": "county",
    "reviewer_yuhai": "yuhai_sfs",
}
# Which of the two cases each role may read (A: 玉海街道, B: 塘下镇), by hand from the roles above.
SEES: dict[str, set[str]] = {
    "anon": set(),
    "admin": {"A", "B"},
    "staff": {"A", "B"},
    "leader1": {"A", "B"},
    "leader3": {"A", "B"},
    "leader2": {"A"},
    "lawyer_on": {"A"},
    "lawyer_off": set(),
    "lawyer_recused": set(),
    # The justice bureau: the 司法局's reviewer reads the county, the 玉海街道 司法所's its town.
    "reviewer_county": {"A", "B"},
    "reviewer_yuhai": {"A"},
}
# Who sees full ID numbers and phones on the pages; everyone else reads them masked.
SEES_PERSONAL = {"admin", "staff", "lawyer_on"}
# Kinds printing parties' full ID numbers and phones (checked below by reading each PDF back).
PERSONAL_KINDS = {"application", "agreement"}

EVERYONE = set(ROLES) - {"anon"}
STAFF = {"staff", "admin"}
ADMIN = {"admin"}
LEADERS = {"leader1", "leader2", "leader3", "admin"}
BACKLOG = {"staff", "leader1", "leader2", "leader3", "admin"}
LAWYERS = {"lawyer_on", "lawyer_off", "lawyer_recused", "admin"}
PUBLIC = set(ROLES)
REVIEWERS = {"reviewer_county", "reviewer_yuhai"}
# Who reads reviews, subsidies and the statistics (each within their scope): the center and the bureau.
BUREAU = STAFF | {"leader1", "leader2", "leader3"} | REVIEWERS


def _iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


# --- The expectations ------------------------------------------------------------------------------


@dataclass
class World:
    """Ids of what the routes act on, and what each role must never read."""

    case: dict[str, int] = field(default_factory=dict)  # "A", "B" → case id
    case_no: dict[str, str] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)  # party names only that case has
    session: dict[str, int] = field(default_factory=dict)
    party: dict[str, int] = field(default_factory=dict)  # one party of each case (its edit routes)
    delivery: dict[str, int] = field(default_factory=dict)  # one delivery record of each case
    escalation: dict[str, int] = field(default_factory=dict)
    attachment: dict[str, int] = field(default_factory=dict)  # an ID copy uploaded to each case
    docs: dict[int, tuple[str | None, str]] = field(default_factory=dict)  # id → (case key | None, kind)
    report_of: dict[int, str] = field(default_factory=dict)  # report doc id → role who ordered it
    personal: set[str] = field(default_factory=set)  # full ID numbers and phones of every party
    notification: int = 0  # the director's
    job: int = 0  # the 玉海街道 leader's backlog job
    spare_user: int = 0
    expert: int = 0
    verify_code: str = ""
    code: str = ""  # 一案一码 of case A's first party
    moment: str = ""  # `now` of the reports asked for in the walk


def _case_scoped(roles: set[str]) -> Callable[[str, str, World], bool]:
    return lambda role, target, w: role in roles and target in SEES[role]


def _roles(roles: set[str]) -> Callable[[str, str, World], bool]:
    return lambda role, target, w: role in roles


def _acknowledge(role: str, target: str, w: World) -> bool:
    # A's escalation (level 1) is assigned to the director; B's (level 2) to nobody: 塘下镇 has no leader,
    # so a level-2 leader who may see B could take it, and the only level-2 leader may not see B.
    return target == "A" and role == "leader1"


def _instruct(role: str, target: str, w: World) -> bool:
    level = {"leader1": 1, "leader2": 2, "leader3": 3}.get(role, 0)
    return target in SEES[role] and level >= {"A": 1, "B": 2}[target]


def _urge(role: str, target: str, w: World) -> bool:
    return role in {"leader1", "leader2", "leader3"} and target in SEES[role]


def _closer(role: str, target: str, w: World) -> bool:
    # 结案: staff decide; the director may close over a missing 卷宗 item (issue 22).
    return (role in STAFF or role == "leader1") and target in SEES[role]


def _personal_file(role: str, target: str, w: World) -> bool:
    # An uploaded file (an ID copy) is personal data: whoever works the case, not those who see it masked.
    return role in SEES_PERSONAL and target in SEES[role]


def _approve(role: str, target: str, w: World) -> bool:
    return role in {"leader1", "admin"}


@dataclass
class Expect:
    allowed: Callable[[str, str, World], bool]
    targets: tuple[str, ...] = ("-",)  # "-": no case; "A"/"B": the case the path names
    deny_body: Any = None  # a valid body: a refusal then cannot be a validation error
    allow_body: Any = None  # a body that passes the gate without harm (often invalid: 422)
    form: dict[str, str] | None = None  # pages: extra form fields (the CSRF token is added)


CASE = ("A", "B")
OPINION = {"body": "建议分期支付并约定违约责任。"}

# (method, path) → expectation. Paths as FastAPI declares them.
API: dict[tuple[str, str], Expect] = {
    ("GET", "/healthz"): Expect(_roles(PUBLIC)),
    ("GET", "/verify/{value}"): Expect(_roles(PUBLIC)),
    ("GET", "/verify"): Expect(_roles(PUBLIC)),  # the page asking for a code
    ("POST", "/verify"): Expect(_roles(PUBLIC)),  # the page's upload of a PDF
    ("POST", "/api/v1/verify"): Expect(_roles(PUBLIC)),
    ("POST", "/api/v1/public/applications"): Expect(_roles(PUBLIC)),
    ("POST", "/api/v1/auth/token"): Expect(_roles(PUBLIC)),
    ("POST", "/api/v1/auth/password"): Expect(_roles(PUBLIC)),
    ("GET", "/api/v1/auth/me"): Expect(_roles(EVERYONE)),
    # 一案一码: staff ask for a party's code; the portal's routes answer only the party's own token.
    ("GET", "/api/v1/cases/{case_id}/parties/{party_id}/access"): Expect(_case_scoped(STAFF), CASE),
    ("POST", "/api/v1/cases/{case_id}/agreement/presiding-signature"): Expect(
        _case_scoped(STAFF),
        CASE,
        deny_body={"image_png_base64": "eA=="},
        allow_body={"image_png_base64": "eA=="},
    ),
    ("POST", "/api/v1/portal/{code}/login"): Expect(_roles(PUBLIC)),
    ("GET", "/api/v1/portal/me"): Expect(_roles(set())),
    ("GET", "/api/v1/portal/documents/{doc_id}/pdf"): Expect(_roles(set())),
    ("POST", "/api/v1/portal/deliveries/{delivery_id}/confirm"): Expect(_roles(set()), deny_body={}),
    ("POST", "/api/v1/portal/deliveries/{delivery_id}/paper"): Expect(_roles(set())),
    ("POST", "/api/v1/portal/satisfaction"): Expect(_roles(set()), deny_body={"rating": 4}),
    ("POST", "/api/v1/portal/signatures/request"): Expect(_roles(set())),
    ("POST", "/api/v1/portal/signatures"): Expect(
        _roles(set()), deny_body={"otp": "123456", "image_png_base64": "eA=="}
    ),
    ("POST", "/api/v1/auth/logout"): Expect(_roles(EVERYONE)),
    ("GET", "/api/v1/meta/enums"): Expect(_roles(EVERYONE)),
    ("GET", "/api/v1/clocks/due"): Expect(_roles(EVERYONE)),
    ("GET", "/api/v1/towns"): Expect(_roles(EVERYONE)),
    ("PUT", "/api/v1/towns"): Expect(_roles(ADMIN), allow_body={"items": "x"}),
    ("GET", "/api/v1/committees"): Expect(_roles(EVERYONE)),
    ("PUT", "/api/v1/committees"): Expect(_roles(ADMIN), allow_body={"items": "x"}),
    ("GET", "/api/v1/settings"): Expect(_roles(EVERYONE)),
    ("PUT", "/api/v1/settings/{key}"): Expect(_roles(ADMIN), allow_body={}),
    ("GET", "/api/v1/holidays"): Expect(_roles(EVERYONE)),
    ("PUT", "/api/v1/holidays/{year}"): Expect(_roles(ADMIN), allow_body={}),
    ("GET", "/api/v1/users"): Expect(_roles(ADMIN)),
    ("PATCH", "/api/v1/users/{user_id}"): Expect(_roles(ADMIN), allow_body={"display_name": "备用账号"}),
    ("POST", "/api/v1/users/{user_id}/password-reset"): Expect(_roles(ADMIN)),
    ("GET", "/api/v1/experts"): Expect(_roles(EVERYONE)),
    ("GET", "/api/v1/experts/{expert_id}"): Expect(_roles(EVERYONE)),
    ("POST", "/api/v1/experts"): Expect(_roles(ADMIN), allow_body={}),
    ("PATCH", "/api/v1/experts/{expert_id}"): Expect(_roles(ADMIN), allow_body={"max_active_cases": 0}),
    ("GET", "/api/v1/dashboard"): Expect(_roles(BACKLOG)),
    ("GET", "/api/v1/ledger"): Expect(_roles(EVERYONE)),
    ("GET", "/api/v1/reports/backlog"): Expect(_roles(LEADERS)),
    ("GET", "/api/v1/notifications"): Expect(_roles(EVERYONE)),
    ("POST", "/api/v1/notifications/{notification_id}/read"): Expect(lambda r, t, w: r == "leader1"),
    ("GET", "/api/v1/escalations"): Expect(_roles(EVERYONE)),
    ("POST", "/api/v1/escalations/sweep"): Expect(_roles(ADMIN), allow_body={"now": "x"}),
    ("POST", "/api/v1/escalations/{escalation_id}/acknowledge"): Expect(_acknowledge, CASE, {}, {}),
    ("POST", "/api/v1/escalations/{escalation_id}/instructions"): Expect(
        _instruct, CASE, {"text": "请尽快化解。", "reply_by": "2099-01-01"}, {}
    ),
    ("POST", "/api/v1/escalations/{escalation_id}/urge"): Expect(_urge, CASE, {"note": "请加快办理。"}),
    ("POST", "/api/v1/escalations/{escalation_id}/feedback"): Expect(
        _case_scoped(STAFF), CASE, {"text": "已约谈双方。"}, {}
    ),
    ("POST", "/api/v1/cases"): Expect(_roles(STAFF), allow_body={}),
    ("GET", "/api/v1/cases"): Expect(_roles(EVERYONE)),
    ("GET", "/api/v1/cases/{case_id}"): Expect(_case_scoped(EVERYONE), CASE),
    ("GET", "/api/v1/cases/{case_id}/documents"): Expect(_case_scoped(EVERYONE), CASE),
    ("GET", "/api/v1/cases/{case_id}/deliveries"): Expect(_case_scoped(EVERYONE), CASE),
    ("POST", "/api/v1/cases/{case_id}/deliveries/{delivery_id}"): Expect(
        _case_scoped(STAFF), CASE, {}, {"x": 1}
    ),
    ("POST", "/api/v1/cases/{case_id}/opinions"): Expect(_case_scoped(LAWYERS), CASE, OPINION),
    ("POST", "/api/v1/cases/{case_id}/close/approve"): Expect(_approve, CASE, {}, {}),
    ("POST", "/api/v1/cases/{case_id}/close"): Expect(_closer, CASE, {}, {"x": 1}),
    # Enforcement (issue 20): the case's staff only.
    **{
        ("POST", f"/api/v1/cases/{{case_id}}/{action}"): Expect(_case_scoped(STAFF), CASE, {}, {"x": 1})
        for action in ("judicial-confirmation", "payment-orders", "enforcement-steps")
    },
    ("GET", "/api/v1/cases/{case_id}/attachments"): Expect(_case_scoped(EVERYONE), CASE),
    ("POST", "/api/v1/cases/{case_id}/attachments"): Expect(_case_scoped(STAFF), CASE, {}, {"x": 1}),
    ("GET", "/api/v1/cases/{case_id}/attachments/{attachment_id}/file"): Expect(_personal_file, CASE),
    ("GET", "/api/v1/cases/{case_id}/dossier/checklist"): Expect(_case_scoped(EVERYONE), CASE),
    # Built (立卷) by staff; the refused roles are asked before any is built (404 "尚未立卷", 403 masked).
    ("GET", "/api/v1/cases/{case_id}/dossier"): Expect(_case_scoped(STAFF), CASE),
    **{
        ("POST", f"/api/v1/cases/{{case_id}}/{action}"): Expect(_case_scoped(STAFF), CASE, {}, {"x": 1})
        for action in (
            "accept",
            "reject",
            "respondent-answer",
            "panel/proposal",
            "recusals",
            "sessions",
            "agreement",
            "agreement/signed",
            "follow-ups",
            "clock/extend",
            "clock/pause",
            "clock/resume",
            "flows/retry",
            "sessions/{sid}/cancel",
            "sessions/{sid}/record",
            "oral-agreement/performance",
            "oral-agreement/written",
        )
    },
    ("PUT", "/api/v1/cases/{case_id}/panel"): Expect(_case_scoped(STAFF), CASE, {}, {"x": 1}),
    ("PATCH", "/api/v1/cases/{case_id}/sessions/{sid}"): Expect(_case_scoped(STAFF), CASE, {}, {"x": 1}),
    ("PATCH", "/api/v1/cases/{case_id}/parties/{pid}"): Expect(_case_scoped(STAFF), CASE, {}, {"x": 1}),
    ("GET", "/api/v1/documents/{doc_id}/pdf"): Expect(_roles(set())),  # per document, below
    # The justice bureau's side. The world has no closed case, so no review, finding or subsidy: a
    # refusal is the role's 403; an allowed role's empty body is a 422 past the gate. The approval levels
    # themselves are walked in tests/api/test_bureau.py.
    ("POST", "/api/v1/reviews/samples"): Expect(_roles(REVIEWERS), allow_body={}),
    ("POST", "/api/v1/reviews/{review_id}/scores"): Expect(_roles(REVIEWERS), allow_body={}),
    ("GET", "/api/v1/reviews"): Expect(_roles(BUREAU)),
    ("POST", "/api/v1/cases/{case_id}/review-findings/{finding_id}/answer"): Expect(
        _case_scoped(STAFF), CASE, {"answer": "已整改。"}, {}
    ),
    ("PUT", "/api/v1/cases/{case_id}/subsidy"): Expect(_case_scoped(STAFF), CASE, {}, {"grade": "x"}),
    # No subsidy exists: every role is refused (403 by role, or the 404 of a subsidy that does not exist).
    ("POST", "/api/v1/subsidies/{subsidy_id}/approve"): Expect(_roles(set())),
    ("GET", "/api/v1/subsidies"): Expect(_roles(BUREAU)),
    ("GET", "/api/v1/subsidies.xlsx"): Expect(_roles(BUREAU)),
    ("GET", "/api/v1/subsidies/rules"): Expect(_roles(BUREAU)),
    ("PUT", "/api/v1/subsidies/rules"): Expect(_roles(ADMIN), allow_body={}),
    ("GET", "/api/v1/reports/statistics"): Expect(_roles(BUREAU)),
}

PAGES: dict[tuple[str, str], Expect] = {
    ("GET", "/"): Expect(_roles(PUBLIC)),
    ("GET", "/apply"): Expect(_roles(PUBLIC)),
    ("POST", "/apply"): Expect(_roles(PUBLIC)),
    ("GET", "/login"): Expect(_roles(PUBLIC)),
    ("POST", "/login"): Expect(_roles(PUBLIC)),
    ("POST", "/logout"): Expect(_roles(EVERYONE)),
    ("GET", "/password"): Expect(_roles(PUBLIC)),
    ("POST", "/password"): Expect(_roles(PUBLIC)),
    ("GET", "/workbench"): Expect(_roles(STAFF)),
    ("POST", "/workbench/reminders/read"): Expect(_roles(STAFF)),
    ("GET", "/cases"): Expect(_roles(EVERYONE)),
    ("GET", "/cases/new"): Expect(_roles(STAFF)),
    ("POST", "/cases/new"): Expect(_roles(STAFF)),
    ("GET", "/cases/{case_id}"): Expect(_case_scoped(EVERYONE), CASE),
    ("GET", "/cases/{case_id}/panel"): Expect(_case_scoped(STAFF), CASE),
    ("GET", "/cases/{case_id}/agreement"): Expect(_case_scoped(STAFF), CASE),
    ("GET", "/cases/{case_id}/parties/{pid}/edit"): Expect(_case_scoped(STAFF), CASE),
    ("GET", "/cases/{case_id}/sessions/{sid}/record"): Expect(_case_scoped(STAFF), CASE),
    ("POST", "/cases/{case_id}/deliveries/{delivery_id}"): Expect(_case_scoped(STAFF), CASE),
    ("POST", "/cases/{case_id}/opinions"): Expect(_case_scoped(LAWYERS), CASE, form={"body": "法律意见。"}),
    ("POST", "/cases/{case_id}/close/approve"): Expect(_approve, CASE),
    ("POST", "/cases/{case_id}/agreement/presiding-signature"): Expect(_case_scoped(STAFF), CASE),
    # The party's own page (一案一码): its secret form is public; what it opens needs the party's own
    # cookie, which no staff role holds (tests/api/test_portal.py: a code opens one party of one case).
    ("GET", "/p/{code}"): Expect(_roles(PUBLIC)),
    ("POST", "/p/{code}"): Expect(_roles(PUBLIC)),
    ("GET", "/p/{code}/documents/{doc_id}"): Expect(_roles(set())),
    **{
        ("POST", f"/p/{{code}}/{action}"): Expect(_roles(set()))
        for action in (
            "deliveries/{delivery_id}/confirm",
            "deliveries/{delivery_id}/paper",
            "satisfaction",
            "signatures/request",
            "signatures",
            "logout",
        )
    },
    ("POST", "/cases/{case_id}/close"): Expect(_closer, CASE),
    # Enforcement (issue 20): the case's staff only; an API body that passes the gate is still invalid.
    **{
        ("POST", f"/cases/{{case_id}}/{action}"): Expect(_case_scoped(STAFF), CASE)
        for action in ("judicial-confirmation", "payment-orders", "enforcement-steps")
    },
    ("POST", "/cases/{case_id}/attachments"): Expect(_case_scoped(STAFF), CASE),
    ("GET", "/cases/{case_id}/attachments/{attachment_id}/file"): Expect(_personal_file, CASE),
    ("GET", "/cases/{case_id}/dossier"): Expect(_case_scoped(STAFF), CASE),
    **{
        ("POST", f"/cases/{{case_id}}/{action}"): Expect(_case_scoped(STAFF), CASE)
        for action in (
            "accept",
            "reject",
            "respondent-answer",
            "panel",
            "recusals",
            "sessions",
            "agreement",
            "agreement/signed",
            "follow-ups",
            "clock/{what}",
            "sessions/{sid}/record",
            "sessions/{sid}/reschedule",
            "sessions/{sid}/cancel",
            "oral-agreement/performance",
            "oral-agreement/written",
            "parties/{pid}/edit",
        )
    },
    ("GET", "/documents/{doc_id}/pdf"): Expect(_roles(set())),  # per document, below
    ("GET", "/dashboard"): Expect(_roles(LEADERS)),
    ("GET", "/reviews"): Expect(_roles(BUREAU)),
    ("POST", "/reviews/samples"): Expect(_roles(REVIEWERS)),
    # No review exists (see the API's): nobody opens one; a reviewer's empty form is sent back.
    ("GET", "/reviews/{review_id}"): Expect(_roles(set())),
    ("POST", "/reviews/{review_id}/scores"): Expect(_roles(set())),
    ("POST", "/cases/{case_id}/review-findings/{finding_id}/answer"): Expect(_case_scoped(STAFF), CASE),
    ("POST", "/cases/{case_id}/subsidy"): Expect(_case_scoped(STAFF), CASE),
    ("GET", "/subsidies"): Expect(_roles(BUREAU)),
    ("GET", "/subsidies.xlsx"): Expect(_roles(BUREAU)),
    ("POST", "/subsidies/{subsidy_id}/approve"): Expect(_roles(BUREAU)),
    ("POST", "/subsidies/rules"): Expect(_roles(ADMIN)),
    ("GET", "/statistics"): Expect(_roles(BUREAU)),
    ("GET", "/statistics.xlsx"): Expect(_roles(BUREAU)),
    ("GET", "/holding"): Expect(_roles(LEADERS)),
    ("POST", "/escalations/{escalation_id}/acknowledge"): Expect(_acknowledge, CASE),
    ("POST", "/escalations/{escalation_id}/instructions"): Expect(
        _instruct, CASE, form={"text": "请尽快化解。", "reply_by": "2099-01-01"}
    ),
    ("POST", "/escalations/{escalation_id}/urge"): Expect(_urge, CASE, form={"note": "请加快办理。"}),
    ("POST", "/escalations/{escalation_id}/feedback"): Expect(
        _case_scoped(STAFF), CASE, form={"text": "已约谈双方。"}
    ),
    ("POST", "/jobs/ledger-export"): Expect(_roles(BACKLOG)),
    ("POST", "/jobs/backlog-report"): Expect(_roles(LEADERS)),
    # Only whoever started the job; everyone else gets the 404 of a job that does not exist.
    ("GET", "/jobs/{job_id}"): Expect(lambda r, t, w: r == "leader2"),
    ("GET", "/jobs/{job_id}/status"): Expect(lambda r, t, w: r == "leader2"),
    ("GET", "/jobs/{job_id}/download"): Expect(lambda r, t, w: r == "leader2"),
    # The API's viewers (their description, /openapi.json, is public: CONTRACT).
    ("GET", "/docs"): Expect(_roles(ADMIN)),
    ("GET", "/redoc"): Expect(_roles(ADMIN)),
    **{
        (method, f"/admin{path}"): Expect(_roles(ADMIN))
        for method, path in (
            ("GET", "/users"),
            ("POST", "/users"),
            ("GET", "/users/{user_id}"),
            ("POST", "/users/{user_id}"),
            ("POST", "/users/{user_id}/active"),
            ("POST", "/users/{user_id}/password-reset"),
            ("GET", "/experts"),
            ("GET", "/experts/new"),
            ("POST", "/experts/new"),
            ("GET", "/experts/{expert_id}"),
            ("POST", "/experts/{expert_id}"),
            ("POST", "/experts-import"),
            ("GET", "/settings"),
            ("POST", "/settings/tunables"),
            ("POST", "/settings/holidays"),
            ("GET", "/towns"),
            ("POST", "/towns"),
            ("GET", "/committees"),
            ("POST", "/committees"),
        )
    },
}
# Served outside the routes' own checks: static files and the API description.
NOT_ROUTES = {"/static", "/openapi.json"}


def _declared(app) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers (FastAPI ≥ 0.150 keeps included routers as
    `_IncludedRouter`s that list their routes, with the full path, through `effective_route_contexts`)."""
    out = set()
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for ctx in contexts:
            if ctx.path in NOT_ROUTES:
                continue
            for method in (ctx.methods or set()) - {"HEAD", "OPTIONS"}:
                out.add((method, ctx.path))
    return out


# --- The data ------------------------------------------------------------------------------------


def _person(name: str, seq: int, phone: str) -> dict:
    return {
        "role": "respondent",
        "kind": "person",
        "name": name,
        "id_number": person_id(seq),
        "phone": phone,
        "address": f"{name}家住址",
    }


def _build(engine: Engine, client: TestClient, tokens: dict[str, dict], experts: dict[str, int]) -> World:
    """Two cases through the real routes and flows: A in 玉海街道 (mass, so escalated to the director; the
    lawyer 周律师 on its panel; 钱律师 seated, then recused; agreed, with its agreement issued) and B in
    塘下镇 (a threat, so escalated to level 2; its panel without lawyers). The same applicant came to B
    first, so A is linked to B as a related case."""
    w = World()
    shared = {
        "role": "applicant",
        "kind": "person",
        "name": "共同来访人",
        "id_number": person_id(901),
        "phone": "13905770901",
        "address": "瑞安市某路1号",
    }

    def call(method: str, path: str, body: Any = None, who: str = "staff", status: int = 200) -> Any:
        r = client.request(method, f"/api/v1{path}", json=body, headers=tokens[who])
        assert r.status_code == status, (path, r.text)
        return r.json()

    b_body = {
        "channel": "walk_in",
        "category": "neighbor",
        "town": TANGXIA,
        "village": "罗凤村",
        "summary": "邻里争执，一方扬言持刀报复。",
        "claims": "请求对方停止侵害。",
        "parties": [shared, _person("塘下乙方", 902, "13905770902")],
    }
    w.case["B"] = call("POST", "/cases", b_body, status=201)["id"]
    workers = [
        {
            "role": "applicant",
            "kind": "person",
            "name": f"玉海工人{i}",
            "id_number": person_id(910 + i),
            "phone": f"1390577091{i}",
            "address": "瑞安市玉海街道滨江社区",
        }
        for i in range(5)
    ]
    a_body = {
        "channel": "walk_in",
        "category": "labor",
        "town": YUHAI,
        "village": "滨江社区",
        "summary": "工人反映某公司拖欠工资。",
        "claims": "请求支付拖欠工资50000元。",
        "amount_involved": "50000.00",
        "headcount": 6,
        "parties": [shared, *workers, _person("玉海甲方", 920, "13905770920")],
    }
    w.case["A"] = call("POST", "/cases", a_body, status=201)["id"]
    drain(engine)

    qian = experts["qian"]
    w.expert = experts["mediator_yuhai"]
    a, b = w.case["A"], w.case["B"]
    call("POST", f"/cases/{a}/accept", {})
    members = [
        {"expert_id": experts["mediator_yuhai"], "role": "lead"},
        {"expert_id": experts["lawyer"], "role": "legal_advisor"},
        {"expert_id": qian, "role": "member"},
    ]
    call("PUT", f"/cases/{a}/panel", {"members": members})
    call("POST", f"/cases/{a}/recusals", {"expert_id": qian, "reason": "曾担任一方当事人的代理人"})
    sid = call(
        "POST",
        f"/cases/{a}/sessions",
        {"scheduled_at": _iso(timedelta(hours=2)), "location": "一室"},
        status=201,
    )
    w.session["A"] = sid["id"]
    record = {
        "held_at": _iso(),
        "attendees": ["共同来访人", "玉海甲方"],
        "notes": "达成协议。",
        "outcome": "agreed",
    }
    call("POST", f"/cases/{a}/sessions/{w.session['A']}/record", record)
    term = {
        "obligor": "玉海甲方",
        "obligee": "共同来访人",
        "obligation": "支付拖欠工资",
        "amount": "10000.00",
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
    }
    call(
        "POST",
        f"/cases/{a}/agreement",
        {"terms": [term], "performance_method": "银行转账", "performance_place": "瑞安市"},
        status=201,
    )

    call("POST", f"/cases/{b}/accept", {})
    members = [
        {"expert_id": experts["mediator_tangxia"], "role": "lead"},
        {"expert_id": experts["elder_tangxia"], "role": "member"},
    ]
    call("PUT", f"/cases/{b}/panel", {"members": members})
    sid = call(
        "POST",
        f"/cases/{b}/sessions",
        {"scheduled_at": _iso(timedelta(days=1)), "location": "二室"},
        status=201,
    )
    w.session["B"] = sid["id"]
    drain(engine)

    # Reports: the director's through the API, the 玉海街道 leader's through a page job.
    w.moment = utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    r = client.get("/api/v1/reports/backlog", params={"now": w.moment}, headers=tokens["leader1"])
    assert r.status_code == 200, r.text
    with Session(engine) as session:
        w.report_of[session.exec(select(func.max(Document.id))).one()] = "leader1"

    with Session(engine) as session:
        for key, cid in w.case.items():
            case = session.get(Case, cid)
            w.case_no[key] = case.case_no
            parties = session.exec(select(Party).where(Party.case_id == cid)).all()
            w.names[key] = {p.name for p in parties} - {"共同来访人"}
            w.party[key] = min(p.id for p in parties if p.id is not None)
            w.personal |= {v for p in parties for v in (p.id_number, p.phone) if v}
            w.escalation[key] = session.exec(select(Escalation.id).where(Escalation.case_id == cid)).first()
            w.delivery[key] = session.exec(select(Delivery.id).where(Delivery.case_id == cid)).first()
        assert session.exec(select(CaseLink.related_case_id).where(CaseLink.case_id == a)).all() == [b]
        w.notification = _director_notification(session)
        w.verify_code = session.exec(select(Document.verify_code).where(Document.case_id == a)).first()
    for key in w.case:
        assert w.escalation[key], f"case {key} was escalated at intake"
    w.spare_user = add_user(engine, "spare", "staff", display_name="备用账号")
    for key, cid in w.case.items():  # an ID copy on each case: the download routes' subject
        r = client.post(
            f"/api/v1/cases/{cid}/attachments",
            headers=tokens["staff"],
            data={"kind": "id_copy", "party_id": str(w.party[key])},
            files={"file": ("身份证.png", png_bytes(), "image/png")},
        )
        assert r.status_code == 201, r.text
        w.attachment[key] = r.json()["id"]
    return w


def _director_notification(session: Session) -> int:
    from models.user import User

    director = session.exec(select(User.id).where(User.username == "director")).one()
    note = session.exec(select(Notification.id).where(Notification.user_id == director)).first()
    assert note, "the director was told of A's 督办"
    return note


# --- Walking the routes ----------------------------------------------------------------------------


_PDF_TEXT: dict[str, str] = {}


def _text_of(response) -> str:
    """What a reader gets out of an answer: the text of a PDF or a spreadsheet, else the body."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/pdf"):
        # The same archived PDF comes to several roles: read each file once.
        digest = hashlib.sha256(response.content).hexdigest()
        if digest not in _PDF_TEXT:
            _PDF_TEXT[digest] = pdf_text(response.content)
        return _PDF_TEXT[digest]
    if "spreadsheetml" in kind:
        rows = load_workbook(io.BytesIO(response.content), read_only=True).active.iter_rows(values_only=True)
        return "\n".join(str(v) for row in rows for v in row if v is not None)
    return response.text


def _flash(response) -> str:
    raw = response.cookies.get("tiaojie_flash") or ""
    return unquote(raw.strip('"'))


@dataclass
class Call:
    method: str
    route: str  # as declared
    url: str
    role: str
    target: str
    allowed: bool
    json: Any = None
    form: dict[str, str] | None = None


def _url(route: str, target: str, w: World, role: str) -> str:
    key = target if target in ("A", "B") else "A"
    values = {
        "case_id": w.case[key],
        "sid": w.session[key],
        "pid": w.party[key],
        "party_id": w.party[key],
        "code": w.code,
        "doc_id": min(w.docs),
        "delivery_id": w.delivery[key],
        "escalation_id": w.escalation[key],
        "attachment_id": w.attachment[key],
        "notification_id": w.notification,
        "job_id": w.job,
        "user_id": w.spare_user,
        "expert_id": w.expert,
        "key": "mass_headcount",
        "year": 2030,
        "what": "pause",
        "value": w.verify_code,
        "review_id": 1,
        "finding_id": 1,
        "subsidy_id": 1,
    }
    url = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), route)
    if route == "/api/v1/reports/backlog":
        # One moment for every role: a scope's report is issued once and then served from the archive.
        return f"{url}?now={w.moment}"
    return url + QUERIES.get(route, "")


def _calls(w: World) -> list[Call]:
    calls: list[Call] = []
    for table, is_page in ((API, False), (PAGES, True)):
        for (method, route), expect in table.items():
            if route.endswith("/documents/{doc_id}/pdf"):
                continue
            for role in ROLES:
                for target in expect.targets:
                    allowed = expect.allowed(role, target, w)
                    call = Call(method, route, _url(route, target, w, role), role, target, allowed)
                    if is_page:
                        call.form = dict(expect.form or {}) if method == "POST" else None
                    elif method != "GET":
                        body = expect.allow_body if allowed else expect.deny_body
                        call.json = body if body is not None else expect.deny_body
                    calls.append(call)
            # Documents: each issued one, through the API and the page.
    for doc_id, (case_key, kind) in w.docs.items():
        for role in ROLES:
            if case_key is None:
                allowed = role == "admin" or w.report_of.get(doc_id) == role
            else:
                allowed = case_key in SEES[role] and (kind not in PERSONAL_KINDS or role in SEES_PERSONAL)
            for route in ("/api/v1/documents/{doc_id}/pdf", "/documents/{doc_id}/pdf"):
                url = route.replace("{doc_id}", str(doc_id))
                calls.append(Call("GET", route, url, role, case_key or "-", allowed))
    return calls


# Where a case number may be read without seeing the case: the public verification page says which
# case a printed document belongs to (CONTRACT: kind, case number, date, nothing personal). A recused
# lawyer's old notifications name the case no longer (they go with the case).
CASE_NO_SHOWN = {"/verify/{value}"}


# Figures by town: a town leader's name no other town (the dictionary and the expert bank do, rightly).
BY_TOWN = {"/api/v1/reports/backlog", "/jobs/{job_id}/download", "/api/v1/dashboard", "/dashboard"}


def _forbidden_strings(role: str, w: World, route: str = "") -> set[str]:
    out: set[str] = {TANGXIA} if role == "leader2" and route in BY_TOWN else set()
    for key in ("A", "B"):
        if key not in SEES[role]:
            out |= set(w.names[key]) if route in CASE_NO_SHOWN else {w.case_no[key], *w.names[key]}
    if role not in SEES_PERSONAL:
        out |= w.personal
    return out


QUERIES = {
    "/api/v1/clocks/due": "?clock=labor&start=2026-09-21",
    "/api/v1/subsidies": "?month=2026-12",
    "/api/v1/subsidies.xlsx": "?month=2026-12",
    "/api/v1/reports/statistics": "?from=2026-01-01&to=2030-12-31",
}
# Anyone may post these (logging in, changing one's password): only a server error would be wrong.
PUBLIC_POSTS = {
    ("POST", "/verify"),
    ("POST", "/api/v1/verify"),
    ("POST", "/api/v1/public/applications"),
    ("POST", "/apply"),
    ("POST", "/api/v1/portal/{code}/login"),
    ("POST", "/p/{code}"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/password"),
    ("POST", "/login"),
    ("POST", "/password"),
}
# Routes the walk leaves alone for signed-in roles (they would end or replace the role's session);
# their anonymous answers are still checked.
SKIP_SIGNED_IN = {
    ("POST", "/api/v1/auth/password"),
    ("POST", "/password"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/api/v1/auth/logout"),
}


def _walk(engine: Engine, app, tmp_path: Path) -> None:
    clients: dict[str, TestClient] = {}
    tokens: dict[str, dict] = {}
    experts = _make_users(engine)
    for role in ROLES:
        clients[role] = TestClient(app)
        if role != "anon":
            assert login(clients[role], LOGINS[role]).status_code == 303
            r = clients[role].post(
                "/api/v1/auth/token", data={"username": LOGINS[role], "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            tokens[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        else:
            tokens[role] = {}
    try:
        w = _build(engine, clients["staff"], tokens, experts)
        _order_job(engine, clients["leader2"], w)
        with Session(engine) as session:
            for doc in session.exec(select(Document)).all():
                key = next((k for k, cid in w.case.items() if cid == doc.case_id), None)
                w.docs[doc.id] = (key, doc.kind)
        with Session(engine) as session:
            first = session.get(Party, w.party["A"])
            assert first is not None
            w.code = party_code(session, first)
        kinds = {kind for key, kind in w.docs.values() if key == "A"}
        assert {"application", "agreement", "session_record", "supervision_order"} <= kinds, kinds
        csrf = {role: csrf_of(clients[role].get("/cases").text) for role in ROLES if role != "anon"}
        calls = _calls(w)
        denied = [c for c in calls if not c.allowed]
        allowed = [c for c in calls if c.allowed]
        failures: list[str] = []

        def send(call: Call):
            client = clients[call.role]
            if call.form is not None:
                data = {**call.form, "csrf_token": csrf.get(call.role, "")}
                return client.request(call.method, call.url, data=data, follow_redirects=False)
            headers = tokens[call.role] if call.url.startswith("/api/") else {}
            return client.request(
                call.method, call.url, json=call.json, headers=headers, follow_redirects=False
            )

        with Session(engine) as session:
            audit_before = session.exec(select(func.count()).select_from(AuditEvent)).one()
        for call in denied:
            r = send(call)
            page = not call.url.startswith("/api/")
            ok_status = {401, 403, 404} if not page else {403, 404}
            refused = r.status_code in ok_status
            if page and call.role == "anon" and r.status_code == 303:
                refused = "/login" in r.headers.get("location", "")
            if page and r.status_code == 303 and _flash(r).startswith("error|"):
                refused = True  # a rule of the flow (e.g. only the assigned leader signs): nothing done
            if not refused:
                failures.append(f"{call.role} {call.method} {call.url}: {r.status_code} (should be refused)")
                continue
            leaked = [s for s in _forbidden_strings(call.role, w) | set(w.case_no.values()) if s in r.text]
            if leaked and r.status_code != 303:
                failures.append(f"{call.role} {call.method} {call.url}: refusal shows {leaked}")
            if r.status_code in (403, 404) and not re.search(r"[\u4e00-\u9fff]", r.text):
                failures.append(f"{call.role} {call.method} {call.url}: refusal not in Chinese")
        with Session(engine) as session:
            audit_after = session.exec(select(func.count()).select_from(AuditEvent)).one()
        if audit_after != audit_before:
            failures.append(f"refused requests wrote {audit_after - audit_before} audit events")

        for call in allowed:
            if call.role != "anon" and (call.method, call.route) in SKIP_SIGNED_IN:
                continue
            r = send(call)
            if (call.method, call.route) in PUBLIC_POSTS:
                assert r.status_code < 500, (call, r.text)
                continue
            if r.status_code >= 500 or r.status_code in (401, 403, 404):
                why = f"{r.status_code} (should be allowed) {r.text[:200]}"
                failures.append(f"{call.role} {call.method} {call.url}: {why}")
                continue
            moved_on = r.status_code == 303 and "/login" not in r.headers.get("location", "")
            if call.method == "GET" and r.status_code != 200 and not moved_on and call.role != "anon":
                failures.append(f"{call.role} GET {call.url}: {r.status_code}")
                continue
            text = _text_of(r) if r.status_code == 200 else r.text
            leaked = [s for s in _forbidden_strings(call.role, w, call.route) if s in text]
            if leaked:
                failures.append(f"{call.role} {call.method} {call.url}: shows {sorted(leaked)[:4]}")
        assert not failures, f"{len(failures)} of {len(calls)} requests:\n" + "\n".join(failures)
    finally:
        for client in clients.values():
            client.close()


def _order_job(engine: Engine, client: TestClient, w: World) -> None:
    """The 玉海街道 leader orders the 积案报表 from the dashboard: a job, and its archived report."""
    token = csrf_of(client.get("/dashboard").text)
    started = client.post("/jobs/backlog-report", data={"csrf_token": token}, follow_redirects=False)
    assert started.status_code == 303, started.text
    drain(engine)
    with Session(engine) as session:
        job = session.exec(select(Job).order_by(Job.id.desc())).first()
        assert job is not None and job.state == "done" and job.document_id, job
        w.job = job.id
        w.report_of[job.document_id] = "leader2"


def _make_users(engine: Engine) -> dict[str, int]:
    """The towns, the expert bank (with a second lawyer, 钱律师) and one account per role; the lawyers'
    accounts are linked to their expert records (the panel seats them by those)."""
    with session_scope(engine, write=True) as session:
        items = [{"name": YUHAI, "villages": ["滨江社区"]}, {"name": TANGXIA, "villages": ["罗凤村"]}]
        replace_towns(
            session=session, data=TownsIn.model_validate({"items": items}), actor=None, now=utcnow()
        )
    experts = expert_bank(engine)
    experts["qian"] = add_expert(
        engine, name="钱律师", kind="lawyer", specialties=["labor"], max_active_cases=8
    )
    people(
        engine, "clerk", "admin", "zhoulawyer", "otherlawyer", "director", "yuhai", "city", experts=experts
    )
    add_user(engine, "qianlawyer", "lawyer", expert_id=experts["qian"])
    add_user(engine, "county", "reviewer", display_name="赵评查")
    add_user(engine, "yuhai_sfs", "reviewer", town=YUHAI, display_name="孙司法")
    return experts


# --- The tests -----------------------------------------------------------------------------------


def test_every_route_has_an_expectation(app) -> None:
    declared = _declared(app)
    expected = set(API) | set(PAGES)
    assert declared - expected == set(), "routes without an expectation in the access matrix"
    assert expected - declared == set(), "expectations for routes that no longer exist"


@pytest.mark.timeout(600)
@pytest.mark.slow
def test_role_by_route_matrix(engine, app, tmp_path) -> None:
    _walk(engine, app, tmp_path)
