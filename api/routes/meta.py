"""Enums with their Chinese labels."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser
from models.enums import ENUMS_BY_NAME

router = APIRouter(prefix="/meta", tags=["meta"])


@router.get("/enums", summary="所有代码及其中文名称")
def enums(user: CurrentUser) -> dict[str, list[dict[str, str]]]:
    return {name: [{"code": m.value, "label": m.label} for m in enum] for name, enum in ENUMS_BY_NAME.items()}
