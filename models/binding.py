"""Who is bound by an agreement (issue 18 point 2): whom a term may name, and who was validly present.

A term's 义务人 and 权利人 name a party of the case; the name of that party's 委托代理人 or 法定代表人
resolves to the party itself (the agreement binds the party, not its agent). Free text ("杨兴国等17人")
or a misspelt name names nobody.

A party named by a term is bound only if it took part in a held session (models.mediation_session
`present`): in person; or through its 委托代理人 holding 特别授权 (an agent with 一般授权 may attend and
speak, not agree to terms: 民诉法 第62条; 民诉解释 第351条 asks each party in person or through such an
agent); or, for an organisation, through its 法定代表人; or through the representative the group elected
(劳动争议调解仲裁法 第7条; 信访工作条例 第20条第三款), who was validly present in one of those ways.
Plain functions on plain data: the actions load the rows (flows/agreement.py, flows/parties.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from models.enums import PartyKind
from models.law import cite_together


class PartyLike(Protocol):
    name: str
    kind: str
    legal_representative: str | None
    agent_name: str | None
    agent_special_authority: bool
    is_representative: bool
    represented_by: str | None


class Member(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def is_representative(self) -> bool: ...


BINDING_BASIS = ("cpl_interp_351", "labor_7", "petition_20_3")


def basis() -> str:
    """《民诉解释》第三百五十一条，《劳动争议调解仲裁法》第七条，《信访工作条例》第二十条第三款"""
    return cite_together(*BINDING_BASIS)


def term_aliases(parties: Sequence[PartyLike]) -> dict[str, PartyLike | None]:
    """Every name a term may use → the party it means (None: the name is ambiguous, e.g. one lawyer
    acting for three workers, or two parties of one name). A party's own name wins over an agent's."""
    own: dict[str, list[PartyLike]] = {}
    for p in parties:
        own.setdefault(p.name, []).append(p)
    acting: dict[str, list[PartyLike]] = {}
    for p in parties:
        for name in (p.agent_name, p.legal_representative):
            if name and name not in own:
                acting.setdefault(name, []).append(p)
    out: dict[str, PartyLike | None] = {}
    for table in (acting, own):
        for name, group in table.items():
            unique = {id(p): p for p in group}
            out[name] = next(iter(unique.values())) if len(unique) == 1 else None
    return out


def resolve_term_party(name: str | None, parties: Sequence[PartyLike]) -> PartyLike | None:
    """The party a term's 义务人/权利人 names, or None when it names no one party of the case."""
    if not name:
        return None
    return term_aliases(parties).get(name.strip())


def nameable(parties: Sequence[PartyLike]) -> str:
    """Who a term may name, as an answer lists them: 陈阿大、林小二（或其代理人、法定代表人的姓名）."""
    return "、".join(dict.fromkeys(p.name for p in parties))


def term_party_problem(
    term: dict[str, Any], parties: Sequence[PartyLike], *, seq: int
) -> tuple[str, str] | None:
    """(field, Chinese reason) when the term's 义务人 or 权利人 names no party of the case, else None."""
    aliases = term_aliases(parties)
    for field, label in (("obligor", "义务人"), ("obligee", "权利人")):
        value = (term.get(field) or "").strip()
        if not value:
            continue  # a missing part is term_problem's to answer
        if value in aliases and aliases[value] is None:
            return field, (
                f"第{seq}项：{label}“{value}”同时是多名当事人的名称或代理人，请直接填写当事人姓名或名称："
                f"{nameable(parties)}"
            )
        if value not in aliases:
            return field, (
                f"第{seq}项：{label}“{value}”不是本案当事人（或其委托代理人、法定代表人），"
                f"请从本案当事人中选择：{nameable(parties)}"
            )
    return None


def present_names(present_lists: Iterable[Sequence[dict[str, Any]]]) -> set[str]:
    """Names of the people present at the held sessions, panel members left out (a mediator sitting on
    the panel binds no party even if named like one)."""
    return {
        (entry.get("name") or "").strip()
        for present in present_lists
        for entry in present
        if entry.get("kind") != "panel"
    }


def _by_own_means(party: PartyLike, present: set[str]) -> bool:
    if party.name in present:
        return True
    if party.agent_name and party.agent_special_authority and party.agent_name in present:
        return True
    return (
        party.kind == PartyKind.organization
        and bool(party.legal_representative)
        and party.legal_representative in present
    )


def validly_present(party: PartyLike, parties: Sequence[PartyLike], present: set[str]) -> bool:
    """In person, through an agent with 特别授权, an organisation through its 法定代表人, or a group
    member through the elected representative who was present (in one of the other ways)."""
    if _by_own_means(party, present):
        return True
    if not party.represented_by:
        return False
    representative = next(
        (p for p in parties if p.name == party.represented_by and p.is_representative and p is not party),
        None,
    )
    return representative is not None and _by_own_means(representative, present)


def unbound_parties(
    parties: Sequence[PartyLike], named: Iterable[str | None], present: set[str]
) -> list[PartyLike]:
    """The parties a term names (as obligor or obligee) who were not validly present, in the parties'
    order (each once)."""
    wanted = {id(p) for n in named if (p := resolve_term_party(n, parties)) is not None}
    return [p for p in parties if id(p) in wanted and not validly_present(p, parties, present)]


def _agent_note(party: PartyLike, present: set[str]) -> str | None:
    if party.agent_name and party.agent_name in present and not party.agent_special_authority:
        return f"{party.name}的委托代理人{party.agent_name}到场但无特别授权"
    return None


def unbound_message(unbound: Sequence[PartyLike], present: set[str]) -> str:
    """杨某某、李某某未到场，也未委托有特别授权的代理人或推举代表 …"""
    names = "、".join(p.name for p in unbound)
    notes = [n for p in unbound if (n := _agent_note(p, present))]
    extra = f"（{'；'.join(notes)}）" if notes else ""
    return (
        f"{names}未到场，也未委托有特别授权的代理人或推举代表{extra}，协议对其不发生约束力，不能登记签署"
        f"：请在调解会上由其本人、有特别授权的代理人、法定代表人或推选的代表到场确认（{basis()}）"
    )


def represented_by_problem(
    party_name: str, represented_by: str | None, is_representative: bool, parties: Sequence[Member]
) -> str | None:
    """Chinese reason `represented_by` cannot stand, else None: it names a representative of the case."""
    if not represented_by:
        return None
    if is_representative or represented_by == party_name:
        return "推选的代表本人无需填写“由谁代表”"
    for p in parties:
        if p.name == represented_by:
            if not p.is_representative:
                return f"{represented_by}不是本案推选的代表：请先将其登记为代表，或选择已推选的代表"
            return None
    representatives = "、".join(p.name for p in parties if p.is_representative) or "（本案尚未推选代表）"
    return f"“{represented_by}”不是本案当事人，请从推选的代表中选择：{representatives}"
