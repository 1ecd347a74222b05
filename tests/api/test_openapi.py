"""The published API description tells the truth.

`/openapi.json` declares a typed body for every JSON answer; the contract's field names are in those
schemas; and real answers, walked through the process on the real app and database, validate against
the schemas they were declared with (a declared model that lies fails here). Every 4xx is one Chinese
`{"detail": ...}` shape."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator, FormatChecker

from models.public import CasePublic
from runtime.relay import drain
from tests.factories import neighbor_case, png_bytes, wage_case

JSON = "application/json"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# Operations whose success body is not JSON, with the media type they must declare instead.
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY_OPERATIONS = {
    ("get", "/api/v1/documents/{doc_id}/pdf"): "application/pdf",
    ("get", "/api/v1/ledger"): XLSX_TYPE,
    ("get", "/api/v1/reports/backlog"): "application/pdf",
    ("get", "/api/v1/subsidies.xlsx"): XLSX_TYPE,
    ("get", "/api/v1/reports/statistics"): XLSX_TYPE,
    ("get", "/api/v1/portal/documents/{doc_id}/pdf"): "application/pdf",
    ("get", "/api/v1/cases/{case_id}/dossier"): "application/pdf",
    # An uploaded file is a PDF, a JPEG or a PNG, as its content was judged.
    (
        "get",
        "/api/v1/cases/{case_id}/attachments/{attachment_id}/file",
    ): "application/pdf image/jpeg image/png",
}
OUTSIDE_API = ("/healthz", "/verify/{value}")
# The operations the walk below must answer with a 2xx (a route added later joins this list with a step).
WALKED = {
    ("get", "/api/v1/cases/{case_id}/dossier/checklist"),
    ("post", "/api/v1/cases/{case_id}/attachments"),
    ("get", "/api/v1/cases/{case_id}/attachments"),
    ("get", "/api/v1/cases/{case_id}/attachments/{attachment_id}/file"),
    ("get", "/api/v1/cases/{case_id}/dossier"),
    ("get", "/healthz"),
    ("get", "/verify/{value}"),
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/meta/enums"),
    ("get", "/api/v1/clocks/due"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{case_id}"),
    ("post", "/api/v1/cases/{case_id}/accept"),
    ("post", "/api/v1/cases/{case_id}/reject"),
    ("post", "/api/v1/cases/{case_id}/panel/proposal"),
    ("put", "/api/v1/cases/{case_id}/panel"),
    ("post", "/api/v1/cases/{case_id}/recusals"),
    ("post", "/api/v1/cases/{case_id}/sessions"),
    ("post", "/api/v1/cases/{case_id}/sessions/{sid}/record"),
    ("post", "/api/v1/cases/{case_id}/agreement"),
    ("post", "/api/v1/cases/{case_id}/agreement/signed"),
    ("post", "/api/v1/cases/{case_id}/follow-ups"),
    ("post", "/api/v1/cases/{case_id}/clock/extend"),
    ("post", "/api/v1/cases/{case_id}/clock/pause"),
    ("post", "/api/v1/cases/{case_id}/clock/resume"),
    ("get", "/api/v1/cases/{case_id}/documents"),
    ("post", "/api/v1/cases/{case_id}/flows/retry"),
    ("post", "/api/v1/cases/{case_id}/opinions"),
    ("get", "/api/v1/documents/{doc_id}/pdf"),
    ("get", "/api/v1/experts"),
    ("post", "/api/v1/experts"),
    ("get", "/api/v1/experts/{expert_id}"),
    ("patch", "/api/v1/experts/{expert_id}"),
    ("post", "/api/v1/escalations/sweep"),
    ("get", "/api/v1/escalations"),
    ("get", "/api/v1/dashboard"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/{notification_id}/read"),
    ("get", "/api/v1/settings"),
    ("put", "/api/v1/settings/{key}"),
    ("get", "/api/v1/holidays"),
    ("put", "/api/v1/holidays/{year}"),
}

# Hand-copied from CONTRACT.md ("Case (as returned)" and the route table), not from our models.
CASE_FIELDS = {
    "id": "integer",
    "case_no": "string",
    "stage": "string",
    "category": "string",
    "channel": "string",
    "town": "string",
    "village": "string",
    "summary": "string",
    "headcount": "integer",
    "is_mass": "boolean",
    "risk_level": "string",
    "escalation_level": "integer",
    "stage_due_at": "string",
    "overdue": "boolean",
    "created_at": "string",
    "updated_at": "string",
    "version": "integer",
}
CASE_DETAIL_FIELDS = {
    "parties",
    "panel",
    "sessions",
    "agreement",
    "escalations",
    "documents",
    "timeline",
    "performance",
}
EXPERT_FIELDS = {
    "id": "integer",
    "name": "string",
    "kind": "string",
    "organization": "string",
    "towns": "array",
    "specialties": "array",
    "max_active_cases": "integer",
    "id_number": "string",
    "declared_relations": "array",
    "active": "boolean",
    "active_cases": "integer",
}
CONTRACT_SCHEMAS: dict[tuple[str, str, str], set[str]] = {
    # (method, path, status) → fields the contract names in that answer
    ("post", "/api/v1/auth/token", "200"): {"access_token", "token_type"},
    ("get", "/api/v1/cases", "200"): {"items", "total", "limit", "offset"},
    ("get", "/api/v1/experts", "200"): {"items", "total", "limit", "offset"},
    ("get", "/api/v1/escalations", "200"): {"items", "total", "limit", "offset"},
    ("post", "/api/v1/cases/{case_id}/panel/proposal", "200"): {"candidates", "excluded"},
    ("post", "/api/v1/escalations/sweep", "200"): {"escalated"},
    ("get", "/api/v1/clocks/due", "200"): {"clock", "start", "due", "basis", "estimated", "note"},
    ("get", "/api/v1/meta/enums", "200"): {
        "stage",
        "channel",
        "category",
        "party_role",
        "party_kind",
        "expert_kind",
        "escalation_level",
        "clock",
        "document_kind",
    },
    ("get", "/verify/{value}", "200"): {"kind", "case_no", "issued_on"},
}


# --- Reading the spec ---------------------------------------------------------------------------


def _operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if path.startswith("/api/v1/") or path in OUTSIDE_API
    ]


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _success_schema(spec: dict, method: str, path: str) -> tuple[str, dict]:
    op = spec["paths"][path][method]
    status = next(s for s in op["responses"] if s.startswith("2"))
    return status, op["responses"][status]["content"][JSON]["schema"]


def _properties(spec: dict, schema: dict) -> dict:
    return _resolve(spec, schema).get("properties", {})


def _json_type(spec: dict, prop: dict) -> set[str]:
    """The JSON types a property may take (through $ref, enum and nullable anyOf)."""
    prop = _resolve(spec, prop)
    if "anyOf" in prop:
        return set().union(*(_json_type(spec, p) for p in prop["anyOf"]))
    return {prop["type"]} if "type" in prop else set()


@pytest.fixture
def spec(client: TestClient) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_operation_declares_a_typed_success_body(spec: dict) -> None:
    operations = _operations(spec)
    assert len(operations) >= 35  # the whole API, not a part of it
    untyped = []
    for method, path, op in operations:
        success = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert success, f"{method.upper()} {path} declares no 2xx answer"
        ((status, response),) = success.items()
        content = response.get("content", {})
        if (method, path) in BINARY_OPERATIONS:
            assert set(content) == set(BINARY_OPERATIONS[method, path].split()), (method, path, content)
            continue
        schema = content.get(JSON, {}).get("schema", {})
        typed = "$ref" in schema or "properties" in schema or "$ref" in schema.get("items", {})
        if not typed or not _properties(spec, schema.get("items", schema)):
            untyped.append(f"{method.upper()} {path} {status}: {schema}")
    assert not untyped, "answers without a typed schema:\n" + "\n".join(untyped)


def test_every_api_operation_documents_the_chinese_error_shape(spec: dict) -> None:
    error = spec["components"]["schemas"]["ErrorPublic"]
    # v1.2 adds the optional `errors` (every problem a rule found, listed at once); `detail` stays.
    assert set(error["properties"]) == {"detail", "errors"} and error["required"] == ["detail"]
    for method, path, op in _operations(spec):
        if not path.startswith("/api/v1/"):
            continue
        for status in ("401", "404", "422"):
            declared = op["responses"].get(status, {}).get("content", {}).get(JSON, {}).get("schema")
            assert declared == {"$ref": "#/components/schemas/ErrorPublic"}, (method, path, status)


def _keys(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _keys(value, f"{path}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _keys(value, f"{path}/{n}")


@pytest.mark.postgres  # issue 24: on both databases
def test_bounds_are_json_schema_keywords(spec: dict) -> None:
    """Pydantic's `ge` / `le` / `gt` / `lt` mean nothing to a JSON Schema client: every bound is
    `minimum` / `maximum` (or the exclusive ones), where a generated client reads it."""
    raw = [f"{path}: {key}={value}" for path, key, value in _keys(spec) if key in ("ge", "le", "gt", "lt")]
    assert not raw, "bounds clients cannot see:\n" + "\n".join(raw)
    schemas = spec["components"]["schemas"]
    expert_id = schemas["PanelMemberIn"]["properties"]["expert_id"]
    assert (expert_id["minimum"], expert_id["maximum"]) == (1, 2_147_483_647)
    (size, _null) = schemas["PanelProposalRequest"]["properties"]["size"]["anyOf"]
    assert (size["minimum"], size["maximum"]) == (1, 9)
    (version, _null) = schemas["CaseAction"]["properties"]["version"]["anyOf"]
    assert version["minimum"] == 0
    (amount, _null) = schemas["TermIn"]["properties"]["amount"]["anyOf"]
    (_text, number) = amount["anyOf"]  # models.money: text to the bound, or a number below 10^13
    assert (number["minimum"], number["exclusiveMaximum"]) == (0, 10**13)
    (level, _null) = schemas["UserUpdate"]["properties"]["level"]["anyOf"]
    assert (level["minimum"], level["maximum"]) == (1, 3)


def test_contract_field_names_are_in_the_schemas(spec: dict) -> None:
    _, case_schema = _success_schema(spec, "post", "/api/v1/cases")
    case = _properties(spec, case_schema)
    for name, json_type in CASE_FIELDS.items():
        assert name in case, name
        assert json_type in _json_type(spec, case[name]), (name, case[name])
    required = set(_resolve(spec, case_schema)["required"])
    assert set(CASE_FIELDS) <= required
    assert _resolve(spec, case["stage"])["enum"][:2] == ["registered", "accepted"]

    _, detail_schema = _success_schema(spec, "get", "/api/v1/cases/{case_id}")
    detail = _properties(spec, detail_schema)
    assert set(CASE_FIELDS) | CASE_DETAIL_FIELDS <= set(detail)

    _, listed = _success_schema(spec, "get", "/api/v1/cases")
    item = _properties(spec, _properties(spec, listed)["items"]["items"])
    assert set(CASE_FIELDS) <= set(item)

    _, documents = _success_schema(spec, "get", "/api/v1/cases/{case_id}/documents")
    assert documents["type"] == "array"
    assert {"id", "kind", "sha256", "created_at", "url"} <= set(_properties(spec, documents["items"]))

    _, expert_schema = _success_schema(spec, "post", "/api/v1/experts")
    expert = _properties(spec, expert_schema)
    for name, json_type in EXPERT_FIELDS.items():
        assert json_type in _json_type(spec, expert[name]), (name, expert[name])
    relation = _properties(spec, expert["declared_relations"]["items"])
    assert {"name", "id_number", "org_code", "relation"} <= set(relation)

    for (method, path, status), fields in CONTRACT_SCHEMAS.items():
        declared, schema = _success_schema(spec, method, path)
        assert declared == status, (method, path)
        assert fields <= set(_properties(spec, schema)), (
            method,
            path,
            fields - set(_properties(spec, schema)),
        )

    _, proposal = _success_schema(spec, "post", "/api/v1/cases/{case_id}/panel/proposal")
    candidate = _properties(spec, _properties(spec, proposal)["candidates"]["items"])
    assert {"expert_id", "name", "score", "reasons"} <= set(candidate)
    excluded = _properties(spec, _properties(spec, proposal)["excluded"]["items"])
    assert {"expert_id", "reason"} <= set(excluded)
    _, sweep = _success_schema(spec, "post", "/api/v1/escalations/sweep")
    swept = _properties(spec, _properties(spec, sweep)["escalated"]["items"])
    assert {"case_id", "from_level", "to_level", "reason"} <= set(swept)

    # The public verification answer has no field that could carry personal data.
    _, verification = _success_schema(spec, "get", "/verify/{value}")
    assert not {"name", "id_number", "phone", "address", "parties"} & set(_properties(spec, verification))


# --- Checking real answers against what the spec declares -------------------------------------------


class SpecChecker:
    """Validates every answer of the API against the schema its operation declares for that status."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.format_checker = FormatChecker()

        @self.format_checker.checks("date-time", raises=ValueError)
        def _aware_timestamp(value: object) -> bool:  # RFC 3339 requires the offset
            return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None

        @self.format_checker.checks("date", raises=ValueError)
        def _day(value: object) -> bool:
            return not isinstance(value, str) or bool(date.fromisoformat(value))

        self.routes = sorted(
            (
                (path.count("{"), method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
                for method, path, _ in _operations(spec)
            ),
            key=lambda r: r[0],
        )
        self.seen: set[tuple[str, str, str]] = set()
        self.problems: list[str] = []

    def operation(self, method: str, url_path: str) -> str | None:
        for _, route_method, pattern, path in self.routes:
            if route_method == method and pattern.match(url_path):
                return path
        return None

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        method, url_path = response.request.method.lower(), response.request.url.path
        path = self.operation(method, url_path)
        if path is None:
            if url_path.startswith("/api/v1/"):
                self._check_error(f"{method.upper()} {url_path}", response)
            return
        where = f"{method.upper()} {url_path} → {response.status_code}"
        status = str(response.status_code)
        self.seen.add((method, path, status))
        declared = self.spec["paths"][path][method]["responses"].get(status)
        if declared is None:
            self.problems.append(f"{where}: status not declared ({response.text[:200]})")
            return
        media_type = response.headers.get("content-type", "").split(";")[0]
        if media_type not in declared.get("content", {}):
            self.problems.append(f"{where}: {media_type} not declared")
            return
        if media_type == JSON:
            schema = {**declared["content"][JSON]["schema"], "components": self.spec["components"]}
            validator = Draft202012Validator(schema, format_checker=self.format_checker)
            for error in validator.iter_errors(response.json()):
                self.problems.append(f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
        if response.status_code >= 400:
            self._check_error(where, response)

    def _check_error(self, where: str, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.problems.append(f"{where}: server error {response.text[:300]}")
            return
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
        messages = [d.get("msg", "") for d in detail] if isinstance(detail, list) else [detail]
        if not messages or not all(isinstance(m, str) and CHINESE.search(m) for m in messages):
            self.problems.append(f"{where}: error without a Chinese detail: {body}")


@pytest.fixture
def checked(client: TestClient, spec: dict) -> SpecChecker:
    checker = SpecChecker(spec)
    client.event_hooks = {"request": [], "response": [checker]}
    return checker


def _iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_real_answers_match_their_declared_schemas(engine, client, as_user, experts, checked) -> None:
    staff, admin, lawyer, director = (as_user(n) for n in ("clerk", "admin", "zhoulawyer", "director"))
    _ok(client.get("/healthz"))
    _ok(staff.get("/auth/me"))
    _ok(staff.get("/meta/enums"))
    _ok(staff.get("/clocks/due", params={"clock": "labor", "start": "2026-09-20"}))

    # A mass wage dispute through the whole process.
    cid = _ok(staff.post("/cases", wage_case()), 201)["id"]
    drain(engine)
    _ok(staff.get("/cases", params={"overdue": False, "limit": 5}))
    _ok(staff.get(f"/cases/{cid}"))
    _ok(staff.post(f"/cases/{cid}/accept", {}))
    _ok(staff.post(f"/cases/{cid}/panel/proposal", {}))
    members = [
        {"expert_id": experts["mediator_yuhai"], "role": "lead"},
        {"expert_id": experts["lawyer"], "role": "legal_advisor"},
        {"expert_id": experts["department"], "role": "member"},
    ]
    _ok(staff.put(f"/cases/{cid}/panel", {"members": members}))
    drain(engine)
    _ok(staff.post(f"/cases/{cid}/clock/pause", {"note": "等待工资核算"}))
    _ok(staff.post(f"/cases/{cid}/clock/resume", {"note": "核算完成"}))
    _ok(staff.post(f"/cases/{cid}/clock/extend", {"days": 10, "consent_note": "双方同意延长"}))
    _ok(lawyer.post(f"/cases/{cid}/opinions", {"body": "建议分期支付并约定违约责任。"}), 201)
    notes = _ok(lawyer.get("/notifications"))
    assert notes["items"], "the lawyer was told about the panel"
    _ok(lawyer.post(f"/notifications/{notes['items'][0]['id']}/read"))
    first = _ok(
        staff.post(
            f"/cases/{cid}/sessions", {"scheduled_at": _iso(timedelta(days=1)), "location": "第一调解室"}
        ),
        201,
    )
    _ok(
        staff.post(
            f"/cases/{cid}/sessions/{first['id']}/record",
            {
                "held_at": _iso(),
                "attendees": ["工人00", "瑞安市某建设有限公司"],
                "notes": "初步沟通。",
                "outcome": "continue",
            },
        )
    )
    _ok(
        staff.post(
            f"/cases/{cid}/recusals", {"expert_id": experts["lawyer"], "reason": "曾担任被申请人法律顾问"}
        )
    )
    second = _ok(
        staff.post(
            f"/cases/{cid}/sessions", {"scheduled_at": _iso(timedelta(days=2)), "location": "第一调解室"}
        ),
        201,
    )
    _ok(
        staff.post(
            f"/cases/{cid}/sessions/{second['id']}/record",
            {
                "held_at": _iso(),
                "attendees": ["工人00", "瑞安市某建设有限公司"],
                "notes": "达成一致。",
                "outcome": "agreed",
            },
        )
    )
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    terms = [
        {
            "obligor": "瑞安市某建设有限公司",
            "obligee": "工人00",
            "obligation": "支付拖欠工资",
            "amount": "320000.00",
            "due_date": due,
        }
    ]
    _ok(
        staff.post(
            f"/cases/{cid}/agreement",
            {"terms": terms, "performance_method": "银行转账", "performance_place": "瑞安市"},
        ),
        201,
    )
    drain(engine)
    _ok(staff.post(f"/cases/{cid}/agreement/signed", {"signed_at": _iso()}))
    visit = _ok(staff.post(f"/cases/{cid}/follow-ups", {"performed": True, "notes": "已全部支付"}), 201)
    assert visit["case"]["stage"] == "follow_up"
    # The 卷宗 (issue 22): an ID copy per worker not seen at a session, filed through the route.
    missing = [
        i for i in _ok(staff.get(f"/cases/{cid}/dossier/checklist")) if i["required"] and not i["present"]
    ]
    assert [i["code"] for i in missing] == ["identity"]
    seen = {"工人00", "瑞安市某建设有限公司"}
    for party in _ok(staff.get(f"/cases/{cid}"))["parties"]:
        if party["name"] not in seen:
            upload = staff.client.post(
                f"/api/v1/cases/{cid}/attachments",
                headers=staff.headers,
                data={"kind": "id_copy", "party_id": str(party["id"])},
                files={"file": ("身份证.png", png_bytes(), "image/png")},
            )
            _ok(upload, 201)
    files = _ok(staff.get(f"/cases/{cid}/attachments"))
    assert len(files) == 16
    copy = staff.get(files[0]["url"].removeprefix("/api/v1"))
    assert copy.status_code == 200 and copy.content == png_bytes()
    closed = _ok(staff.post(f"/cases/{cid}/close", {"kind": "performed", "note": "协议全部履行"}))
    assert closed["stage"] == "closed"
    drain(engine)
    binder = staff.get(f"/cases/{cid}/dossier")
    assert binder.status_code == 200 and binder.content.startswith(b"%PDF")
    detail = _ok(staff.get(f"/cases/{cid}"))
    assert detail["agreement"]["judicial_confirmation"] and detail["opinions"] and detail["recusals"]
    documents = _ok(staff.get(f"/cases/{cid}/documents"))
    pdf = staff.get(documents[0]["url"].removeprefix("/api/v1"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    _ok(client.get(f"/verify/{documents[0]['sha256']}"))
    assert client.get("/verify/" + "0" * 64).status_code == 404
    _ok(staff.post(f"/cases/{cid}/flows/retry"))

    # A rejection, and an open case the sweep escalates.
    rejected = _ok(staff.post("/cases", neighbor_case()), 201)["id"]
    _ok(staff.post(f"/cases/{rejected}/reject", {"reason": "该纠纷已由人民法院受理"}))
    _ok(staff.post("/cases", neighbor_case(summary="相邻排水纠纷，久拖未决。")), 201)
    sweep = _ok(admin.post("/escalations/sweep", {"now": _iso(timedelta(days=200))}))
    assert sweep["escalated"]
    drain(engine)
    _ok(director.get("/escalations", params={"open": True}))
    _ok(director.get("/dashboard"))
    _ok(staff.get("/cases", params={"q": "排水"}))

    # The expert bank and the admin settings.
    _ok(staff.get("/experts"))
    _ok(staff.get(f"/experts/{experts['lawyer']}"))
    new = _ok(
        admin.post(
            "/experts",
            {
                "name": "林心理",
                "kind": "psychologist",
                "specialties": ["marriage_family"],
                "declared_relations": [{"name": "林某", "relation": "亲属"}],
            },
        ),
        201,
    )
    _ok(admin.patch(f"/experts/{new['id']}", {"max_active_cases": 3, "version": new["version"]}))
    _ok(admin.get("/settings"))
    _ok(admin.put("/settings/mass_headcount", {"value": 10}))
    _ok(admin.put("/holidays/2030", {"text": "2030-01-01 holiday 元旦"}))
    _ok(admin.get("/holidays"))

    # Refusals: each a declared status with the one Chinese error shape.
    assert client.get("/api/v1/cases").status_code == 401
    assert director.post("/cases", neighbor_case()).status_code == 403
    assert staff.get("/cases/999999").status_code == 404
    assert staff.post(f"/cases/{rejected}/accept", {}).status_code == 409
    assert staff.post("/cases", {**neighbor_case(), "category": "weather"}).status_code == 422
    assert staff.get("/cases", params={"limit": 0}).status_code == 422
    assert staff.get("/clocks/due", params={"clock": "nope", "start": "2026-09-20"}).status_code == 422
    assert staff.get("/experts/999999").status_code == 404
    assert staff.get("/no-such-thing").status_code == 404
    assert client.delete("/api/v1/cases", headers=staff.headers).status_code == 405

    assert not checked.problems, "answers that break their declared schema:\n" + "\n".join(checked.problems)
    answered = {(m, p) for m, p, s in checked.seen if s.startswith("2")}
    missing = WALKED - answered
    assert not missing, f"operations not exercised here: {sorted(missing)}"


def test_the_checker_catches_a_lie(spec: dict) -> None:
    """The checker is not vacuous: a body missing a declared field or with a wrong type fails it."""
    checker = SpecChecker(spec)
    request = httpx.Request("POST", "http://testserver/api/v1/cases/1/accept")
    checker(httpx.Response(200, json={"id": 1, "stage": "registered"}, request=request))
    assert any("'case_no' is a required property" in p for p in checker.problems)
    checker.problems.clear()
    checker(httpx.Response(401, json={"detail": "Not authenticated"}, request=request))
    assert any("Chinese" in p for p in checker.problems)


def test_a_route_answering_off_its_model_is_a_chinese_500(app) -> None:
    router = APIRouter()

    @router.get("/api/v1/_lying", response_model=CasePublic)
    def lying() -> dict:
        return {"id": 1, "case_no": 17, "stage": "nowhere"}

    app.include_router(router)
    with TestClient(app) as client:
        response = client.get("/api/v1/_lying")
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert "接口声明" in detail and "response.stage" in detail and "nowhere" not in detail


def test_unknown_paths_and_methods_answer_in_chinese(client: TestClient) -> None:
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json() == {"detail": "请求的地址不存在"}
    wrong = client.put("/healthz")
    assert wrong.status_code == 405 and wrong.json() == {"detail": "不支持该请求方法"}


def test_every_money_field_states_the_bound(spec: dict) -> None:
    """Request and answer schemas of every amount say 0 to 99,999,999,999,999.99 (models.money), to the 分:
    a client validating against /openapi.json refuses what the API refuses."""

    money = {
        (name, field): prop
        for name, schema in spec["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if field in ("amount", "amount_involved", "paid_amount", "paid", "outstanding")
        and name != "ClockRulePublic"
    }
    requests = {
        *(("CaseCreate", "amount_involved"), ("TermIn", "amount"), ("OralTermIn", "amount")),
        ("TermStateIn", "paid_amount"),
    }
    answers = {("CasePublic", "amount_involved"), ("TermPublic", "amount"), ("OralTermPublic", "amount")}
    answers |= {("FollowUpTermPublic", "paid_amount")}
    # A money term's performance always has all three figures.
    always = {("TermPerformancePublic", f) for f in ("amount", "paid", "outstanding")}
    always |= {("LedgerRowPublic", f) for f in ("paid", "outstanding")}  # issue 20: the 履行台账
    # A subsidy always has its grade's amount, and a mediator's payable sum (v1.2, 以案定补).
    always |= {("SubsidyPublic", "amount"), ("MediatorSubsidyPublic", "amount")}
    assert requests | answers | always <= set(money), sorted(money)
    for key, prop in money.items():
        valid = Draft202012Validator(prop).is_valid
        assert valid("99999999999999.99") and valid("0.01") and valid("320000"), key
        assert valid(None) is (key not in always), key
        for bad in ("100000000000000.00", "100000000000000", "1.001", "-1", "1,000"):
            assert not valid(bad), (key, bad)
        # Numbers: requests take them below 10^13 元 (a float is exact to 15 digits); answers send text.
        assert valid(9999999999999.99) is (key in requests), key
        assert not valid(10000000000000) and not valid(-1), key


@pytest.mark.postgres  # issue 24: on both databases
def test_a_wrong_method_names_every_method_of_its_path(app, client: TestClient) -> None:
    """For every path of the route table, a method it does not answer is a Chinese 405 whose `Allow`
    names exactly the methods of every route matching that path (Starlette names the first route's)."""
    routes = [
        (ctx.path_regex, ctx.methods, ctx.path) for ctx in iter_route_contexts(app.routes) if ctx.methods
    ]
    paths = {re.sub(r"\{[^}]+\}", "1", path) for _, _, path in routes}
    assert len(paths) >= 80  # every API path and page, not a part of them
    for path in sorted(paths):
        expected = set().union(*(methods for regex, methods, _ in routes if regex.match(path)))
        method = next(m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m not in expected)
        response = client.request(method, path)
        assert response.status_code == 405, (method, path, response.status_code)
        assert set(response.headers["allow"].split(", ")) == expected, (method, path)
        assert response.json() == {"detail": "不支持该请求方法"}
    static = client.post("/static/app.js")
    assert static.status_code == 405 and set(static.headers["allow"].split(", ")) == {"GET", "HEAD"}
