"""Enums with their Chinese labels."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser
from api.errors import ERROR_RESPONSES
from models.enums import ENUMS_BY_NAME
from models.public import EnumsPublic

router = APIRouter(prefix="/meta", tags=["meta"], responses=ERROR_RESPONSES)


@router.get("/enums", response_model=EnumsPublic, summary="所有代码及其中文名称")
def enums(user: CurrentUser) -> dict[str, list[dict[str, str]]]:
    return {name: [{"code": m.value, "label": m.label} for m in enum] for name, enum in ENUMS_BY_NAME.items()}
