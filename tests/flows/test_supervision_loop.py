"""The 督办 loop with an explicit clock: 签收 → 批示 → 催办 → 承办反馈 → resolved when the case has left the
stalled stage; an overdue reply climbs like a stalled stage, once per reply deadline. On SQLite and, when
configured, PostgreSQL (the `engine` fixture); the JSON routes of CONTRACT v1.1 on the same data.

Dates (November 2026 has no holiday or 调休 day): registered Mon 2 Nov 09:00, the registration stage
allows 3 working days (Tue 3, Wed 4, Thu 5), so the sweep at Fri 6 Nov 01:00 makes the first 督办."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import Session, select

from flows import intake, supervision
from flows.escalation import run_sweep
from models.backlog import backlog_summary
from models.case import Case
from models.case_queries import EscalationFilters, find_escalations
from models.escalation import Escalation, EscalationEvent
from models.lifecycle import Forbidden, InvalidInput, TransitionNotAllowed
from models.notification import Notification
from models.user import User
from tests.factories import add_user, load_case, neighbor_case
from tests.support.clock import CHINA, at
from tests.support.pdf import pdf_compact
from tests.support.scenario import Scenario

YUHAI = "玉海街道"


@pytest.fixture
def people(engine):
    return {
        "clerk": add_user(engine, "clerk", "staff", display_name="小陈"),
        "director": add_user(engine, "director", "leader", level=1, display_name="王主任"),
        "yuhai": add_user(engine, "yuhai", "leader", level=2, town=YUHAI, display_name="李镇长"),
        "tangxia": add_user(engine, "tangxia", "leader", level=2, town="塘下镇", display_name="赵书记"),
        "city": add_user(engine, "city", "leader", level=3, display_name="周市长"),
    }


def escalations_of(engine, case_id: int) -> list[Escalation]:
    with Session(engine) as s:
        return list(s.exec(select(Escalation).where(Escalation.case_id == case_id).order_by(Escalation.id)))


def history(engine, escalation_id: int) -> list[tuple[str, int | None, str | None]]:
    with Session(engine) as s:
        rows = s.exec(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id == escalation_id)
            .order_by(EscalationEvent.id)
        )
        return [(e.kind, e.actor_id, e.text) for e in rows]


def notifications_to(engine, user_id: int) -> list[str]:
    with Session(engine) as s:
        return [n.text for n in s.exec(select(Notification).where(Notification.user_id == user_id))]


def open_list(engine, user_id: int, *, mine: bool = True) -> list[int]:
    with Session(engine) as s:
        user = s.get(User, user_id)
        rows, _ = find_escalations(s, user, EscalationFilters(open=True, mine=mine), limit=100)
        return [e.id for e, _ in rows]


def supervised_by_level(engine, user_id: int) -> dict[str, int]:
    with Session(engine) as s:
        user = s.get(User, user_id)
        town = user.town if user.level == 2 else None
        return backlog_summary(s, now=at(2026, 11, 6, 12), town=town)["escalated"]


def first_escalation(engine, people, town: str = YUHAI) -> tuple[Scenario, int]:
    """A neighbour case in `town` registered Mon 2 Nov 2026 09:00 and left there: the sweep of Fri 6 Nov
    01:00 escalates it to the director. Returns the case and the escalation's id."""
    case = Scenario(engine, clerk=people["clerk"], experts={}, start=at(2026, 11, 2, 9))
    cid = case.registered(neighbor_case(town=town)).case
    assert [(e["case_id"], e["to_level"]) for e in run_sweep(engine, now=at(2026, 11, 6, 1))] == [(cid, 1)]
    (esc,) = escalations_of(engine, cid)
    assert esc.assignee_id == people["director"] and esc.status == "assigned"
    return case, esc.id


def instruct(case: Scenario, leader: int, eid: int, now: datetime, text: str, reply_by: date) -> None:
    """A 批示 on the escalation `eid`, written by `leader` (a user id) at `now`."""
    case.act(supervision.instruct, now=now, by=leader, escalation_id=eid, text=text, reply_by=reply_by)


def instructed(engine, people) -> tuple[Scenario, int]:
    """The first escalation's case accepted Fri 6 Nov 09:00; at 10:00 the director's 批示 asks for
    feedback by Mon 9 Nov."""
    case, eid = first_escalation(engine, people)
    case.accepted(now=at(2026, 11, 6, 9))
    instruct(case, people["director"], eid, at(2026, 11, 6, 10), "请于周一前反馈进展", date(2026, 11, 9))
    return case, eid


def test_loop_resolves_when_stage_left_and_feedback_in(engine, people) -> None:
    case, eid = first_escalation(engine, people)
    cid = case.case

    # 签收: only the assigned leader (the director); another leader or staff is refused (403).
    for other in ("yuhai", "city", "clerk"):
        with pytest.raises(Forbidden):
            case.act(supervision.acknowledge, now=at(2026, 11, 6, 8), by=people[other], escalation_id=eid)
    case.act(supervision.acknowledge, now=at(2026, 11, 6, 8, 30), by=people["director"], escalation_id=eid)
    with pytest.raises(TransitionNotAllowed):  # once
        case.act(supervision.acknowledge, now=at(2026, 11, 6, 9), by=people["director"], escalation_id=eid)
    (esc,) = escalations_of(engine, cid)
    assert esc.status == "acknowledged" and esc.acknowledged_by == people["director"]
    assert esc.acknowledged_at == at(2026, 11, 6, 8, 30)

    # 批示: the reply deadline may not be before today (China date 6 Nov), and only leaders write one.
    with pytest.raises(InvalidInput) as bad:
        instruct(case, people["director"], eid, at(2026, 11, 6, 9), "请尽快受理", date(2026, 11, 5))
    assert bad.value.field == "reply_by" and "不能早于今天" in bad.value.message
    with pytest.raises(Forbidden):
        instruct(case, people["clerk"], eid, at(2026, 11, 6, 9), "自己批示", date(2026, 11, 9))
    with pytest.raises(InvalidInput):  # empty text
        instruct(case, people["director"], eid, at(2026, 11, 6, 9), "  ", date(2026, 11, 9))
    instruct(
        case, people["director"], eid, at(2026, 11, 6, 9), "请于三日内作出受理决定", date(2026, 11, 6)
    )  # today itself is allowed
    (esc,) = escalations_of(engine, cid)
    assert esc.status == "instructed" and esc.reply_by == date(2026, 11, 6)
    # The staff who registered the case are told of the 批示.
    case_no = load_case(engine, cid).case_no
    assert notifications_to(engine, people["clerk"]) == [
        f"王主任批示（{case_no}）：请于三日内作出受理决定；请于2026-11-06前反馈"
    ]

    # 催办 by another leader: recorded, notified to the handler and to the assigned leader.
    case.act(supervision.urge, now=at(2026, 11, 6, 10), by=people["city"], escalation_id=eid, note="抓紧")
    assert sum("周市长催办" in t for t in notifications_to(engine, people["clerk"])) == 1
    assert sum("周市长催办" in t for t in notifications_to(engine, people["director"])) == 1
    with pytest.raises(Forbidden):
        case.act(supervision.urge, now=at(2026, 11, 6, 10), escalation_id=eid)

    # 承办反馈 by staff only. The case is still in the stalled stage: the 督办 stays open.
    with pytest.raises(Forbidden):
        case.act(
            supervision.feedback,
            now=at(2026, 11, 6, 11),
            by=people["director"],
            escalation_id=eid,
            text="领导自己反馈",
        )
    case.act(
        supervision.feedback, now=at(2026, 11, 6, 11), escalation_id=eid, text="已联系双方，拟于周一受理"
    )
    (esc,) = escalations_of(engine, cid)
    assert esc.status == "answered" and esc.resolved_at is None and esc.stage_left_at is None
    # 督办中 everywhere: the director's list, the dashboard's figure at level 1.
    assert open_list(engine, people["director"]) == [eid]
    assert supervised_by_level(engine, people["director"]) == {"1": 1, "2": 0, "3": 0}

    # The case leaves the stalled stage: stage fulfilled + feedback in = resolved, at that moment.
    case.accepted(now=at(2026, 11, 6, 14))
    (esc,) = escalations_of(engine, cid)
    assert esc.status == "resolved"
    assert esc.stage_left_at == at(2026, 11, 6, 14) and esc.resolved_at == at(2026, 11, 6, 14)
    assert [(k, a) for k, a, _ in history(engine, eid)] == [
        ("ack", people["director"]),
        ("instruct", people["director"]),
        ("urge", people["city"]),
        ("feedback", people["clerk"]),
        ("resolve", None),
    ]
    assert open_list(engine, people["director"]) == []
    assert supervised_by_level(engine, people["director"]) == {"1": 0, "2": 0, "3": 0}
    with pytest.raises(TransitionNotAllowed):  # nothing more to do on a resolved 督办
        case.act(supervision.urge, now=at(2026, 11, 6, 15), by=people["director"], escalation_id=eid)


def test_stage_left_without_feedback_stays_open_until_feedback(engine, people) -> None:
    case, eid = first_escalation(engine, people)
    cid = case.case
    case.accepted(now=at(2026, 11, 6, 9))
    (esc,) = escalations_of(engine, cid)
    assert esc.stage_left_at == at(2026, 11, 6, 9) and esc.resolved_at is None and esc.status == "assigned"
    # Still 督办中, in the list and in the dashboard's figure alike.
    assert open_list(engine, people["director"]) == [eid]
    assert supervised_by_level(engine, people["director"]) == {"1": 1, "2": 0, "3": 0}
    case.act(supervision.feedback, now=at(2026, 11, 6, 10), escalation_id=eid, text="已受理，专班组建中")
    (esc,) = escalations_of(engine, cid)
    assert esc.status == "resolved" and esc.resolved_at == at(2026, 11, 6, 10)
    assert open_list(engine, people["director"]) == []


def test_case_that_ends_resolves_its_escalations(engine, people) -> None:
    case, eid = first_escalation(engine, people)
    cid = case.case
    case.act(intake.reject_case, now=at(2026, 11, 6, 9), reason="已向法院起诉")
    (esc,) = escalations_of(engine, cid)
    assert esc.status == "resolved" and esc.resolved_at == at(2026, 11, 6, 9)
    assert [k for k, _, _ in history(engine, eid)] == ["resolve"]


def test_overdue_reply_climbs_one_level_once_per_deadline(engine, people) -> None:
    # Accepted Fri 6 Nov: the accepted stage allows Mon 9, Tue 10, Wed 11, so the stage itself is not late
    # before Thu 12 Nov 00:00; every climb below comes from the reply deadlines.
    case, eid = instructed(engine, people)
    cid = case.case
    assert run_sweep(engine, now=at(2026, 11, 9, 23, 59)) == []  # the whole reply day is allowed
    climbed = run_sweep(engine, now=at(2026, 11, 10, 0, 30))
    assert [(e["case_id"], e["from_level"], e["to_level"]) for e in climbed] == [(cid, 1, 2)]
    assert "2026年11月9日前反馈，逾期未反馈" in climbed[0]["reason"]
    assert run_sweep(engine, now=at(2026, 11, 10, 2)) == []  # once per deadline
    assert run_sweep(engine, now=at(2026, 11, 10, 23)) == []
    first, second = escalations_of(engine, cid)
    assert first.reply_climbed_on == date(2026, 11, 9) and first.resolved_at is None
    assert second.to_level == 2 and second.assignee_id == people["yuhai"]  # the case's own town leader
    assert load_case(engine, cid).escalation_level == 2

    # A new 批示 with a new deadline, missed too: one more climb, and only one.
    instruct(case, people["director"], eid, at(2026, 11, 10, 9), "务必于明日前反馈", date(2026, 11, 10))
    climbed = run_sweep(engine, now=at(2026, 11, 11, 0, 30))
    assert [(e["from_level"], e["to_level"]) for e in climbed] == [(2, 3)]
    assert run_sweep(engine, now=at(2026, 11, 11, 1)) == []
    assert [e.to_level for e in escalations_of(engine, cid)] == [1, 2, 3]


def test_feedback_in_time_does_not_climb(engine, people) -> None:
    case, eid = instructed(engine, people)
    cid = case.case
    case.act(supervision.feedback, now=at(2026, 11, 9, 17), escalation_id=eid, text="专班已组建")
    assert run_sweep(engine, now=at(2026, 11, 10, 0, 30)) == []
    (esc,) = escalations_of(engine, cid)
    assert esc.status == "resolved"  # the stage was left on 6 Nov, the feedback came on 9 Nov


def test_supervision_text_takes_the_one_text_rule(engine, people) -> None:
    """The leaders' pages hand the form's text to these flows as typed: the flows refuse what every
    request body refuses (issue 24), naming the field, and store nothing."""
    case, eid = first_escalation(engine, people)
    case.act(supervision.acknowledge, now=at(2026, 11, 6, 8), by=people["director"], escalation_id=eid)
    before = (history(engine, eid), notifications_to(engine, people["clerk"]))
    for fn, who, kwargs, field, code in (
        (
            supervision.instruct,
            "director",
            {"text": "请\ufffe尽快", "reply_by": date(2026, 11, 9)},
            "text",
            "U+FFFE",
        ),
        (supervision.urge, "yuhai", {"note": "请\x00加快"}, "note", "U+0000"),
        (supervision.urge, "yuhai", {"note": "请\ufdd0加快"}, "note", "U+FDD0"),
        (supervision.feedback, "clerk", {"text": "已\U0010ffff联系"}, "text", "U+10FFFF"),
        (supervision.feedback, "clerk", {"text": "已联系\x0b双方"}, "text", "U+000B"),
    ):
        with pytest.raises(InvalidInput) as bad:
            case.act(fn, now=at(2026, 11, 6, 9), by=people[who], escalation_id=eid, **kwargs)
        assert bad.value.field == field and code in bad.value.message, bad.value.message
    assert (history(engine, eid), notifications_to(engine, people["clerk"])) == before
    # Tabs and line breaks are text: a two-line feedback is taken.
    case.act(
        supervision.feedback, now=at(2026, 11, 6, 9), escalation_id=eid, text="已电话联系双方\r\n约定周一调解"
    )
    assert history(engine, eid)[-1] == ("feedback", people["clerk"], "已电话联系双方\n约定周一调解")


def test_json_routes_as_contract_v11(engine, people, client) -> None:
    from tests.api_clients import Api

    case, eid = first_escalation(engine, people)
    cid = case.case
    director, yuhai, clerk = (Api(client, u) for u in ("director", "yuhai", "clerk"))

    listed = director.get("/escalations", params={"mine": "true", "open": "true"}).json()
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert (item["id"], item["status"], item["leader"]) == (eid, "assigned", "王主任")
    assert item["instructions"] == [] and item["feedback"] == [] and item["events"] == []
    assert yuhai.get("/escalations", params={"mine": "true"}).json()["total"] == 0

    wrong = yuhai.post(f"/escalations/{eid}/acknowledge", json={})
    assert wrong.status_code == 403 and "签收" in wrong.json()["detail"]
    ok = director.post(f"/escalations/{eid}/acknowledge", json={})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "acknowledged" and ok.json()["acknowledged_by"] == "王主任"
    assert director.post(f"/escalations/{eid}/acknowledge", json={}).status_code == 409

    # Dates are real dates: the test's server clock is today, so yesterday must be refused.
    today = datetime.now(CHINA).date()
    late = director.post(
        f"/escalations/{eid}/instructions", json={"text": "请尽快", "reply_by": date(2020, 1, 1).isoformat()}
    )
    assert late.status_code == 422
    assert (
        late.json()["detail"][0]["loc"] == ["body", "reply_by"]
        and "不能早于今天" in late.json()["detail"][0]["msg"]
    )
    assert (
        director.post(f"/escalations/{eid}/instructions", json={"reply_by": today.isoformat()}).status_code
        == 422
    )
    given = director.post(
        f"/escalations/{eid}/instructions", json={"text": "请尽快受理", "reply_by": today.isoformat()}
    )
    assert given.status_code == 200, given.text
    body = given.json()
    assert body["status"] == "instructed" and body["reply_by"] == today.isoformat()
    assert [(i["text"], i["reply_by"], i["by"]) for i in body["instructions"]] == [
        ("请尽快受理", today.isoformat(), "王主任")
    ]

    urged = yuhai.post(f"/escalations/{eid}/urge", json={"note": "请加快"})
    assert urged.status_code == 200, urged.text
    assert [(e["kind"], e["actor"], e["text"]) for e in urged.json()["events"]][-1] == (
        "urge",
        "李镇长",
        "请加快",
    )
    assert clerk.post(f"/escalations/{eid}/urge", json={}).status_code == 403

    assert director.post(f"/escalations/{eid}/feedback", json={"text": "x"}).status_code == 403
    answered = clerk.post(f"/escalations/{eid}/feedback", json={"text": "已电话联系双方"})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["status"] == "answered" and [(f["text"], f["by"]) for f in body["feedback"]] == [
        ("已电话联系双方", "小陈")
    ]
    assert [e["kind"] for e in body["events"]] == ["ack", "instruct", "urge", "feedback"]

    assert clerk.post("/escalations/999999/feedback", json={"text": "x"}).status_code == 404
    assert clerk.post("/escalations/99999999999/feedback", json={"text": "x"}).status_code == 422
    detail = clerk.get(f"/cases/{cid}").json()
    assert detail["escalations"][0]["status"] == "answered"


def test_supervision_order_shows_the_loop_as_of_the_day_issued(engine, people, tmp_path) -> None:
    """The 督办单 printed on a given day: the steps up to then, in the name of the supervising level."""

    from documents.context import BUILDERS
    from documents.render import render_pdf

    case, eid = first_escalation(engine, people)
    cid = case.case
    case.act(supervision.acknowledge, now=at(2026, 11, 6, 8, 30), by=people["director"], escalation_id=eid)
    instruct(case, people["director"], eid, at(2026, 11, 6, 9), "请三日内受理", date(2026, 11, 9))
    case.act(supervision.feedback, now=at(2026, 11, 9, 10), escalation_id=eid, text="双方同意调解，已受理")

    def printed(now: datetime) -> str:
        with Session(engine) as s:
            context = BUILDERS["supervision_order"](s, s.get(Case, cid), f"escalation:{eid}", now)
        path = tmp_path / f"order-{now:%d%H}.pdf"
        path.write_bytes(render_pdf("supervision_order", context))
        return pdf_compact(path)

    before_feedback = printed(at(2026, 11, 8, 12))
    assert "签收人王主任" in before_feedback and "2026年11月6日8时30分" in before_feedback
    assert "请三日内受理（王主任，2026年11月6日；要求2026年11月9日前反馈）" in before_feedback
    assert "双方同意调解" not in before_feedback
    after = printed(at(2026, 11, 9, 12))
    assert "双方同意调解，已受理（小陈，2026年11月9日）" in after
    # Level 1 is the center's 督办: issued by the center, not under the mediation committee's seal.
    assert "瑞安市社会矛盾纠纷调处化解中心" in after and "人民调解委员会印章" not in after
    assert "督办单位盖章" in after
