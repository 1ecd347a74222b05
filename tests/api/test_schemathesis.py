"""Schemathesis over the app's own /openapi.json (issue 12's "done when"): every operation, as admin,
staff, lawyer and leader, on a seeded SQLite database; valid and invalid requests alike. No answer may
be a 5xx, and every answer must be one the operation declares, in its declared shape and content type.

Bounded: a fixed number of examples per operation and role, derandomised (the same requests every
run), ≈ 1–2 min. A wider run: TIAOJIE_SCHEMATHESIS_EXAMPLES=50 .venv/bin/pytest tests/api/test_schemathesis.py
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine

from tests.factories import neighbor_case, wage_case

EXAMPLES = int(os.environ.get("TIAOJIE_SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Requests that would end the run's own access rather than test anything: logging the caller out,
# and an admin disabling or resetting the run's accounts. They run last (see `_order`), so everything
# before them is tried with working tokens.
_LAST = (
    "POST /api/v1/auth/logout",
    "PATCH /api/v1/users/{user_id}",
    "POST /api/v1/users/{user_id}/password-reset",
)
# The token endpoint and the password change answer 429 after a few wrong passwords, by design
# (tests/api/test_sessions_login.py); they are fuzzed once, as the anonymous caller they serve.
_ANONYMOUS = ("POST /api/v1/auth/token", "POST /api/v1/auth/password")


def _seed(as_user: Any, experts: dict[str, int]) -> None:
    """Cases at several stages, with a panel, sessions, documents, escalations and notifications, so
    generated ids (small numbers first) reach real rows, not only 404s."""
    staff = as_user("clerk")
    admin = as_user("admin")
    wage = staff.post("/cases", wage_case()).json()["id"]
    neighbor = staff.post("/cases", neighbor_case()).json()["id"]
    staff.post("/cases", neighbor_case(summary="另一起相邻关系纠纷。")).json()
    for case_id in (wage, neighbor):
        staff.post(f"/cases/{case_id}/accept", {})
    staff.put(
        f"/cases/{wage}/panel",
        {
            "members": [
                {"expert_id": experts["mediator_yuhai"], "role": "lead"},
                {"expert_id": experts["lawyer"], "role": "legal_advisor"},
            ]
        },
    )
    staff.post(
        f"/cases/{wage}/sessions", {"scheduled_at": "2026-12-01T09:30:00+08:00", "location": "玉海调解室"}
    )
    admin.post("/escalations/sweep", {"now": "2027-06-01T09:00:00+08:00"})


def _key(op: Any) -> str:
    return f"{op.method.upper()} {op.path}"


def _order(op: Any) -> tuple[int, str]:
    return (1 if _key(op) in _LAST else 0, _key(op))


def _fuzz(op: Any, headers: dict[str, str], mode: GenerationMode, examples: int) -> None:
    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


@pytest.fixture
def seeded(engine: Engine, as_user: Any, experts: dict[str, int]) -> Any:
    if engine.dialect.name != "sqlite":
        pytest.skip("bounded run on SQLite (the PostgreSQL paths are covered by tests/api/test_bad_input.py)")
    _seed(as_user, experts)
    return as_user


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(app: Any, seeded: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) >= 50
    roles = {
        "director": seeded("director").headers,  # a leader
        "zhoulawyer": seeded("zhoulawyer").headers,
        "clerk": seeded("clerk").headers,
        "admin": seeded("admin").headers,  # last: the admin's own account survives the others' runs
    }
    failures: list[str] = []
    for op in operations:
        if _key(op) in _ANONYMOUS:
            callers: dict[str, dict[str, str]] = {"anonymous": {}}
        else:
            callers = roles
        for role, headers in callers.items():
            for mode, examples in ((GenerationMode.POSITIVE, EXAMPLES), (GenerationMode.NEGATIVE, EXAMPLES)):
                try:
                    _fuzz(op, headers, mode, examples)
                except Unsatisfiable:
                    pass  # nothing to make invalid: an operation without parameters or body
                except (Exception, BaseExceptionGroup) as exc:  # FailureGroup is a BaseExceptionGroup
                    # Every operation runs; all failures are reported together.
                    failures.append(f"{_key(op)} as {role} ({mode.value}):\n{str(exc)[:3000]}")
    assert not failures, "\n\n".join(failures)
