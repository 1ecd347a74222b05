"""The admin's action on the town dictionary (镇街/村社字典): replace it, from the API's JSON, a pasted
list or a spreadsheet (CSV or XLSX).

Replacing the dictionary also maps the towns already stored on cases, experts and users onto it where
that is unambiguous (“玉海” → “玉海街道”), so a leader's scope and the statistics stop splitting;
what cannot be mapped is left as it was and reported."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert
from sqlmodel import Session

from documents.spreadsheets import _FileProblem, _norm_header, _read_rows
from models.audit import record
from models.db import table_of
from models.lifecycle import InvalidInput
from models.town import (
    MappingReport,
    Town,
    TownsIn,
    dictionary_public,
    map_existing_towns,
    normalise_name,
    town_dictionary,
)
from models.user import User
from models.validation import ValidationError as TextError
from models.validation import clean_lines, clean_text

# Headings of the two columns, as people write them (normalised like the expert import's).
TOWN_HEADINGS = frozenset({"镇街", "所属镇街", "镇街道", "乡镇街道", "乡镇", "街道", "镇", "town", "name"})
VILLAGE_HEADINGS = frozenset(
    {"村社", "村社区", "村居", "村", "社区", "村居委会", "行政村", "村名称", "village", "villages"}
)
_SPLIT = re.compile(r"[;；、,，\n]+")
_HEADER_SCAN_ROWS = 5


@dataclass(frozen=True)
class TownsReplaced:
    dictionary: dict  # CONTRACT v1.1 shape: {"items": [{"name", "villages"}], "total"}
    mapping: MappingReport


def replace_towns(*, session: Session, data: TownsIn, actor: User | None, now: datetime) -> TownsReplaced:
    """Replace the whole dictionary with `data` (in its order), then map stored free-text towns."""
    before = [t.name for t in town_dictionary(session)]
    towns = table_of(Town)
    session.execute(delete(towns))
    if data.items:
        session.execute(
            insert(towns),
            [{"name": t.name, "position": i, "villages": list(t.villages)} for i, t in enumerate(data.items)],
        )
    mapping = map_existing_towns(session)
    record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "cli",
        action="towns.replace",
        entity="town",
        entity_id=None,
        before={"towns": before},
        after={
            "towns": [t.name for t in data.items],
            "villages": sum(len(t.villages) for t in data.items),
            "mapped": mapping.mapped,
            "unmapped": mapping.unknown,
            "rows_changed": mapping.rows,
        },
        at=now,
    )
    return TownsReplaced(dictionary=dictionary_public(session), mapping=mapping)


# --- Reading a dictionary the admin pastes or uploads ------------------------------------------


def _towns_in(entries: dict[str, list[str]]) -> TownsIn:
    try:
        return TownsIn.model_validate(
            {"items": [{"name": name, "villages": villages} for name, villages in entries.items()]}
        )
    except ValidationError as exc:
        reason = str(exc.errors()[0].get("msg", "")).removeprefix("Value error, ")
        raise InvalidInput(f"字典内容有误：{reason}", field="towns") from None


def _add(entries: dict[str, list[str]], town: str, villages: list[str]) -> None:
    # Spelled as the dictionary stores it, so “玉海 街道” on one line and “玉海街道” on the next are one.
    known = entries.setdefault(normalise_name(town), [])
    for village in map(normalise_name, villages):
        if village and village not in known:
            known.append(village)


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return [part.strip() for part in _SPLIT.split(str(value)) if part.strip()]


def _clean_row(line: int, values: list[Any]) -> None:
    # The text rule of every request body, checked here so that the refusal names the row.
    for value in values:
        if isinstance(value, str):
            try:
                clean_text(value)
            except TextError as exc:
                raise InvalidInput(f"第{line}行：{exc.message}", field="file") from None


def parse_towns_text(text: str) -> TownsIn:
    """One town per line, its villages after a colon or a tab: “玉海街道：滨江社区、西山社区”.
    A town may appear on several lines (its villages are added up); lines starting with # are notes."""
    try:
        clean_lines(text)
    except TextError as exc:
        raise InvalidInput(exc.message, field="towns") from None
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"([^:：\t]*)[:：\t](.*)", line)
        town, rest = (match.group(1), match.group(2)) if match else (line, "")
        town = town.strip()
        if not town:
            raise InvalidInput(f"“{line}”缺少镇街名称", field="towns")
        _add(entries, town, _split(rest))
    return _towns_in(entries)


def read_towns_file(path: Path) -> TownsIn:
    """A dictionary from CSV (UTF-8 or GBK) or XLSX: a header row naming the town column (镇街) and,
    optionally, the village column (村社); one row per village (the town repeated) or one row per
    town with its villages separated by 、 or ；."""
    try:
        rows = _read_rows(Path(path))
        town_col = village_col = None
        for _line, values in rows:
            headings = [_norm_header(v) for v in values]
            town_col = next((i for i, h in enumerate(headings) if h in TOWN_HEADINGS), None)
            if town_col is not None:
                village_col = next((i for i, h in enumerate(headings) if h in VILLAGE_HEADINGS), None)
                break
            if _line >= _HEADER_SCAN_ROWS:
                break
        if town_col is None:
            raise InvalidInput(
                "未找到表头：第一行应有“镇街”列（可另有“村社”列，每行一个村社或以、分隔）", field="file"
            )
        entries: dict[str, list[str]] = {}
        for line, values in rows:
            _clean_row(line, values)
            town = values[town_col] if town_col < len(values) else None
            villages = (
                _split(values[village_col]) if village_col is not None and village_col < len(values) else []
            )
            if town is None or not str(town).strip():
                if villages:
                    raise InvalidInput(f"第{line}行有村社但没有镇街", field="file")
                continue
            _add(entries, str(town).strip(), villages)
    except _FileProblem as exc:
        raise InvalidInput(str(exc.args[0]), field="file") from None
    if not entries:
        raise InvalidInput("文件中没有镇街", field="file")
    return _towns_in(entries)
