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
    """The command `action` takes, from keyword fields as a script or a test writes them; the row
    a command is about (`session_id`, `party_id`, `delivery_id`) comes apart from its body, as from
    an address."""
    command_type = get_type_hints(action)["cmd"]
    rows = ("session_id", "party_id", "delivery_id")
    command = command_type.model_validate({k: v for k, v in fields.items() if k not in rows})
    row = next((fields[k] for k in rows if k in fields), None)
    return command if row is None else command.about(row)
