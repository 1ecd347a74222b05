"""The loop back to the referring court (特邀调解规定 第19、21条; issue 20 point 3).

A 委派 (court_pre_filing) case whose agreement is signed files it with the court (备案函, the agreement
referenced by number, code and fingerprint: 第19条第一款); a 委派 or 委托 case that fails or is withdrawn
returns the court's materials with a 移交函 listing them (第21条). Both are issued once per case (subject
keys `court_filing:{case}`, `court_return:{case}`); the referral reference is on every document
(documents.context._base)."""

from __future__ import annotations

from flows import tasks
from models.case import Case
from models.enums import ReferralKind


def _referral_kind(case_id: int) -> str | None:
    with tasks.write_session() as session:
        case = session.get(Case, case_id)
        return case.referral_kind if case else None


def file_agreement_with_court(case_id: int) -> int | None:
    """备案函 for a 委派 case's signed agreement; None for any other case."""
    if _referral_kind(case_id) != ReferralKind.court_pre_filing:
        return None
    return tasks.issue_document(case_id, "court_filing", f"court_filing:{case_id}")


def return_materials_to_court(case_id: int) -> int | None:
    """移交函 for a failed or withdrawn 委派 or 委托 case; None for any other case."""
    if _referral_kind(case_id) not in (ReferralKind.court_pre_filing, ReferralKind.court_post_filing):
        return None
    return tasks.issue_document(case_id, "court_return", f"court_return:{case_id}")
