"""The town dictionary through the contract's routes (GET/PUT /towns), and the refusals it brings to
intake, the expert bank and user accounts, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, select

from models.case import Case
from models.db import session_scope
from models.expert import Expert
from models.lifecycle import InvalidInput
from models.user import User
from models.users import create_user
from tests.factories import PASSWORD, add_expert, add_user, neighbor_case, register, wage_case

DICTIONARY = {
    "items": [
        {"name": "玉海街道", "villages": ["滨江社区", "西山社区"]},
        {"name": "塘下镇", "villages": ["罗凤村"]},
        {"name": "东山街道", "villages": []},
    ],
    "total": 3,
}


def _load(as_user) -> None:
    r = as_user("admin").put("/towns", DICTIONARY)
    assert r.status_code == 200, r.text


def _messages(response) -> str:
    detail = response.json()["detail"]
    return "；".join(d["msg"] for d in detail) if isinstance(detail, list) else detail


def test_put_then_get_round_trip(engine, as_user) -> None:
    admin, staff = as_user("admin"), as_user("clerk")
    assert staff.get("/towns").json() == {"items": [], "total": 0}
    r = admin.put("/towns", DICTIONARY)
    assert r.status_code == 200, r.text
    assert r.json() == DICTIONARY  # exactly the contract's shape, in the admin's order
    assert staff.get("/towns").json() == DICTIONARY
    assert as_user("yuhai").get("/towns").json() == DICTIONARY

    # Replacing is replacing: the old entries are gone, the new order kept; `total` may be left out.
    smaller = {"items": [{"name": "塘下镇", "villages": []}, {"name": "玉海街道", "villages": ["滨江社区"]}]}
    assert admin.put("/towns", smaller).json() == {**smaller, "total": 2}
    assert staff.get("/towns").json() == {**smaller, "total": 2}


def test_only_the_admin_replaces_and_bad_bodies_are_refused_in_chinese(engine, as_user) -> None:
    admin = as_user("admin")
    for who in ("clerk", "director", "yuhai", "zhoulawyer"):
        assert as_user(who).put("/towns", DICTIONARY).status_code == 403, who
    assert as_user("clerk").get("/towns").json()["total"] == 0

    twice = {"items": [{"name": "玉海街道", "villages": []}, {"name": "玉海街道 ", "villages": []}]}
    r = admin.put("/towns", twice)
    assert r.status_code == 422 and "镇街“玉海街道”重复" in _messages(r)
    r = admin.put("/towns", {"items": [{"name": "玉海街道", "villages": ["滨江社区", "滨江社区"]}]})
    assert r.status_code == 422 and "滨江社区" in _messages(r) and "重复" in _messages(r)
    r = admin.put("/towns", {"items": [{"name": "  ", "villages": []}]})
    assert r.status_code == 422 and "名称不能为空" in _messages(r)
    r = admin.put("/towns", {**DICTIONARY, "total": 5})
    assert r.status_code == 422 and "不符" in _messages(r)
    assert as_user("clerk").get("/towns").json()["total"] == 0  # nothing half-stored


def test_intake_refuses_a_town_outside_the_dictionary_and_names_the_closest(engine, as_user) -> None:
    _load(as_user)
    staff = as_user("clerk")
    r = staff.post("/cases", wage_case(town="玉海"))
    assert r.status_code == 422, r.text
    [issue] = r.json()["detail"]
    assert issue["loc"] == ["body", "town"]
    assert "玉海街道" in issue["msg"] and "字典" in issue["msg"]

    # A typo: the suggestion comes from similarity, not containment.
    r = staff.post("/cases", neighbor_case(town="塘夏镇", village=None))
    assert r.status_code == 422 and "“塘下镇”" in _messages(r)

    # A village outside the town's list: refused, with that town's closest village.
    r = staff.post("/cases", wage_case(village="滨江"))
    assert r.status_code == 422
    [issue] = r.json()["detail"]
    assert issue["loc"] == ["body", "village"] and "滨江社区" in issue["msg"]
    # Another town's village is not this town's.
    assert staff.post("/cases", wage_case(village="罗凤村")).status_code == 422

    # Right names pass; a town that lists no villages takes any village.
    assert staff.post("/cases", wage_case()).status_code == 201
    r = staff.post("/cases", neighbor_case(town="东山街道", village="任何社区"))
    assert r.status_code == 201, r.text
    assert (r.json()["town"], r.json()["village"]) == ("东山街道", "任何社区")
    with Session(engine) as session:
        assert sorted(session.exec(select(Case.town)).all()) == ["东山街道", "玉海街道"]


def test_an_empty_dictionary_accepts_any_town(engine, as_user) -> None:
    r = as_user("clerk").post("/cases", neighbor_case(town="某某镇", village="某村"))
    assert r.status_code == 201, r.text
    assert r.json()["town"] == "某某镇"


def test_experts_towns_come_from_the_dictionary(engine, as_user) -> None:
    _load(as_user)
    admin = as_user("admin")
    body = {
        "name": "新调解员",
        "kind": "mediator",
        "towns": ["玉海街道", "塘下"],
        "specialties": ["neighbor"],
    }
    r = admin.post("/experts", body)
    assert r.status_code == 422 and "塘下镇" in _messages(r)
    assert r.json()["detail"][0]["loc"] == ["body", "towns"]
    r = admin.post("/experts", {**body, "towns": ["玉海街道", "塘下镇"]})
    assert r.status_code == 201, r.text
    expert_id = r.json()["id"]
    r = admin.patch(f"/experts/{expert_id}", {"towns": ["东山"]})
    assert r.status_code == 422 and "东山街道" in _messages(r)
    assert admin.get(f"/experts/{expert_id}").json()["towns"] == ["玉海街道", "塘下镇"]


def test_users_town_from_the_dictionary_and_a_town_leader_needs_one(engine, as_user) -> None:
    def make(username: str, **kwargs) -> None:
        with session_scope(engine, write=True) as session:
            create_user(session=session, username=username, password=PASSWORD, role="leader", **kwargs)

    # Refused even while the dictionary is empty: a town leader without a town would see no town.
    try:
        make("notown", level=2)
        raise AssertionError("a level-2 leader without a town was created")
    except InvalidInput as exc:
        assert exc.field == "town" and "镇街领导" in exc.message and "所属镇街" in exc.message
    _load(as_user)
    try:
        make("wrongtown", level=2, town="玉海")
        raise AssertionError("a town outside the dictionary was accepted")
    except InvalidInput as exc:
        assert exc.field == "town" and "玉海街道" in exc.message
    make("dongshan", level=2, town="东山街道")
    add_user(engine, "center", "leader", level=1)  # other levels need no town
    with Session(engine) as session:
        names = set(session.exec(select(User.username)).all())
    assert "dongshan" in names and "center" in names and not {"notown", "wrongtown"} & names


def test_replacing_the_dictionary_maps_stored_free_text(engine, as_user, users) -> None:
    """Typed before there was a dictionary: “玉海” becomes 玉海街道 (one candidate); “街道” is ambiguous
    and “某某镇” unknown: both are left as they were."""
    from datetime import UTC, datetime

    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    ids = {
        town: register(engine, neighbor_case(town=town), actor_id=users["clerk"], now=now)
        for town in ("玉海", "瑞安市塘下镇", "街道", "某某镇")
    }
    expert = add_expert(engine, name="甲", towns=["玉海", "东山街道", "玉海街道"])
    with session_scope(engine, write=True) as session:
        leader = create_user(
            session=session, username="ts", password=PASSWORD, role="leader", level=2, town="塘下"
        )
        leader_id = leader.id
    _load(as_user)
    with Session(engine) as session:
        towns = {name: session.get(Case, cid).town for name, cid in ids.items()}
        assert towns == {"玉海": "玉海街道", "瑞安市塘下镇": "塘下镇", "街道": "街道", "某某镇": "某某镇"}
        assert session.get(Expert, expert).towns == ["玉海街道", "东山街道"]
        assert session.get(User, leader_id).town == "塘下镇"
