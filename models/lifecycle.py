"""Stages and the transitions allowed between them, declared once.

registered ─accept─► accepted ─panel─► panel_formed ─first session─► in_mediation ─┬─agreed─►
     └─reject─► rejected                                                          ├─failed──► failed
                                                                                  └─withdrawn► withdrawn
agreed ─signed─► follow_up ─performed─► closed;  failed ──► closed;  withdrawn ──► closed

结案 is a decision with its kind (CLOSE_KIND_SOURCES: which kind from which stage); where the center
requires it (setting `close_requires_approval`) the director approves it first (flows/closing.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from models.enums import CloseKind, Role, Stage
from models.roles import STAFF


class DomainError(Exception):
    """A rule of the process was broken; `message` is shown to the user (Chinese)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TransitionNotAllowed(DomainError):
    """The action is not allowed in the case's current stage (HTTP 409)."""


class StaleVersion(DomainError):
    """Someone else changed the record since the user loaded it (HTTP 409)."""


class InvalidInput(DomainError):
    """Input that fails a domain rule (HTTP 422 naming the field)."""


@dataclass(frozen=True)
class FieldProblem:
    """One bad input: where (a dotted path into the request body, e.g. `statements.2.speaker`) and why."""

    field: str | None
    message: str


class InvalidInputs(InvalidInput):
    """Several bad inputs found together, so the user fixes them all in one go (HTTP 422 listing each).
    An InvalidInput too: callers that catch one error still work, seeing all messages joined."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(
            "；".join(p.message for p in problems), field=problems[0].field if problems else None
        )
        self.problems = problems


def problems_of(exc: InvalidInput) -> list[FieldProblem]:
    if isinstance(exc, InvalidInputs):
        return list(exc.problems)
    return [FieldProblem(exc.field, exc.message)]


class Problems:
    """Collects the bad inputs of one request instead of stopping at the first; `check()` raises them
    together (before anything is changed)."""

    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, message: str, *, field: str | None = None) -> None:
        self.items.append(FieldProblem(field, message))

    @contextmanager
    def gather(self) -> Iterator[None]:
        """Run a check that raises InvalidInput; keep its problems and go on."""
        try:
            yield
        except InvalidInput as exc:
            self.items.extend(problems_of(exc))

    def __bool__(self) -> bool:
        return bool(self.items)

    def check(self) -> None:
        if self.items:
            raise InvalidInputs(self.items)


class Forbidden(DomainError):
    """The user's role may not take this action (HTTP 403)."""


class NotFound(DomainError):
    """A record named in the request does not exist or belongs to another case (HTTP 404)."""


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: frozenset[Stage]
    target: Stage
    roles: frozenset[Role]


_STAFF = frozenset(STAFF)

# Which 结案 kind may close a case from which stage (the "close" transition's sources are their union).
CLOSE_KIND_SOURCES: dict[CloseKind, frozenset[Stage]] = {
    # 履行完毕: after the follow-up, every term performed (models.closing.close_refusal).
    CloseKind.performed: frozenset({Stage.follow_up}),
    # An agreement not fully performed leaves by the route that fits (models.closing.AFTER_DEFAULT).
    CloseKind.partly_performed: frozenset({Stage.follow_up}),
    CloseKind.judicial_confirm: frozenset({Stage.follow_up}),
    CloseKind.payment_order: frozenset({Stage.follow_up}),
    CloseKind.litigation: frozenset({Stage.follow_up}),
    CloseKind.arbitration: frozenset({Stage.follow_up}),
    # 调解不成 / 撤回: after the session that ended it, or decided directly while mediating.
    CloseKind.failed: frozenset({Stage.failed, Stage.panel_formed, Stage.in_mediation}),
    CloseKind.withdrawn: frozenset(
        {Stage.withdrawn, Stage.accepted, Stage.panel_formed, Stage.in_mediation, Stage.agreed}
    ),
    # 人民调解法 第28条: an oral agreement, recorded in the session record (调解笔录), performed at once.
    CloseKind.oral_performed: frozenset({Stage.in_mediation, Stage.agreed}),
    # 转其他途径 (诉讼、仲裁、行政处理): the dispute leaves mediation for another route.
    CloseKind.transferred: frozenset(
        {Stage.accepted, Stage.panel_formed, Stage.in_mediation, Stage.agreed, Stage.failed}
    ),
}
_CLOSE_SOURCES: frozenset[Stage] = frozenset().union(*CLOSE_KIND_SOURCES.values())
_SYSTEM = frozenset({Role.staff, Role.admin, Role.leader})

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition("accept", "受理", frozenset({Stage.registered}), Stage.accepted, _STAFF),
        Transition("reject", "不予受理", frozenset({Stage.registered}), Stage.rejected, _STAFF),
        Transition("form_panel", "组建专班", frozenset({Stage.accepted}), Stage.panel_formed, _STAFF),
        Transition(
            "start_mediation", "开始调解", frozenset({Stage.panel_formed}), Stage.in_mediation, _STAFF
        ),
        Transition(
            "agree", "达成协议", frozenset({Stage.panel_formed, Stage.in_mediation}), Stage.agreed, _STAFF
        ),
        Transition(
            "fail", "调解不成", frozenset({Stage.panel_formed, Stage.in_mediation}), Stage.failed, _STAFF
        ),
        Transition(
            "withdraw",
            "撤回",
            frozenset({Stage.accepted, Stage.panel_formed, Stage.in_mediation, Stage.agreed}),
            Stage.withdrawn,
            _STAFF,
        ),
        Transition("sign", "协议签署", frozenset({Stage.agreed}), Stage.follow_up, _STAFF),
        # 人民调解法 第17条: a party that clearly refuses cannot be mediated; it ends before any session.
        Transition(
            "respondent_refuses",
            "被申请人拒绝调解",
            frozenset({Stage.accepted, Stage.panel_formed}),
            Stage.closed,
            _STAFF,
        ),
        Transition(
            "close",
            "结案",
            _CLOSE_SOURCES,
            Stage.closed,
            _SYSTEM,
        ),
    ]
}

OPEN_STAGES: frozenset[Stage] = frozenset(
    {Stage.registered, Stage.accepted, Stage.panel_formed, Stage.in_mediation, Stage.agreed, Stage.follow_up}
)
TERMINAL_STAGES: frozenset[Stage] = frozenset({Stage.rejected, Stage.closed})
# Stages in which a panel exists and may change (recusal, replacement).
PANEL_STAGES: frozenset[Stage] = frozenset({Stage.panel_formed, Stage.in_mediation})


def check_still_open(stage: str, what: str) -> None:
    """A case that was closed or not accepted is a finished file: nothing is added to it (409)."""
    if Stage(stage) in TERMINAL_STAGES:
        raise TransitionNotAllowed(f"案件已{'结案' if stage == Stage.closed else '不予受理'}，不能再{what}")


def check_transition(current: str, name: str, role: str | None = None) -> Transition:
    """Return the transition if allowed from `current`, else raise with the current stage named."""
    transition = TRANSITIONS[name]
    if role is not None and Role(role) not in transition.roles:
        raise Forbidden(f"当前角色无权执行“{transition.label}”")
    if Stage(current) not in transition.sources:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(current).label}”，不能执行“{transition.label}”")
    return transition


def close_kinds_from(current: str) -> list[CloseKind]:
    """The 结案 kinds open to a case in stage `current`, in the order of the CloseKind enum."""
    return [k for k in CloseKind if Stage(current) in CLOSE_KIND_SOURCES[k]]


def check_close_kind(current: str, kind: CloseKind) -> None:
    if Stage(current) not in CLOSE_KIND_SOURCES[kind]:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(current).label}”，不能以“{kind.label}”结案")


def allowed_actions(current: str) -> list[str]:
    return [t.name for t in TRANSITIONS.values() if Stage(current) in t.sources]
