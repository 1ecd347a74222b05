"""What every human action runs in: the transaction, the case it acts on, who acts, and when."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_type_hints

from pydantic import BaseModel
from sqlmodel import Session

from models.case import Case
from models.user import User


@dataclass(frozen=True)
class ActionContext:
    """The second argument of every action `action(cmd, ctx)`: the command says what, this says
    where and by whom, so that an action's input is its command alone."""

    session: Session
    case: Case
    actor: User
    now: datetime


def takes_command(action: Callable[..., Any]) -> bool:
    return "cmd" in inspect.signature(action).parameters


def command_for(action: Callable[..., Any], fields: dict[str, Any]) -> BaseModel:
    """The command `action` takes, from keyword fields as a script or a test writes them; the row a
    command is about (`session_id`, `party_id`) comes apart from its body, as from an address."""
    command_type = get_type_hints(action)["cmd"]
    body = {k: v for k, v in fields.items() if k not in ("session_id", "party_id")}
    command = command_type.model_validate(body)
    if "session_id" in fields:
        command = command.of_session(fields["session_id"])
    if "party_id" in fields:
        command = command.of_party(fields["party_id"])
    return command
