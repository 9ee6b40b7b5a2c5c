"""The resource toolkit against a test-only model (own metadata, tables made per test) and real identity."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
import pytest
from advanced_alchemy.mixins import AuditColumns, UUIDv7PrimaryKey
from litestar.testing import AsyncTestClient
from sqlalchemy import ForeignKey, MetaData, String, UniqueConstraint, event, insert
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from keel.app import KeelApp, create_app
from keel.core.resources import Resource, ResourceHooks, partial_struct
from keel.settings import Settings

MANAGE = "users.manage"  # held by admin; stands in for an app permission such as gym.plans.manage
READ_ALL = "audit.read"


class LabBase(DeclarativeBase):
    metadata = MetaData()


class Plan(UUIDv7PrimaryKey, AuditColumns, LabBase):
    __tablename__ = "test_resource_plan"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="strength")
    weeks: Mapped[int] = mapped_column(default=4)
    notes: Mapped[str | None] = mapped_column(String(500))
    # lazy="raise": a response that forgot eager loading fails loudly instead of querying per row
    days: Mapped[list[Day]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", lazy="raise", order_by="Day.position"
    )


class Day(UUIDv7PrimaryKey, LabBase):
    __tablename__ = "test_resource_day"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("test_resource_plan.id", ondelete="CASCADE"))
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(100))
    plan: Mapped[Plan] = relationship(back_populates="days", lazy="raise")


class DayRead(msgspec.Struct, kw_only=True):
    position: int
    title: str


class PlanRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    owner_id: uuid.UUID | None
    name: str
    kind: str
    weeks: int
    notes: str | None
    days: list[DayRead]


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Kind = Annotated[str, msgspec.Meta(pattern="^(strength|cardio|mobility)$")]
Weeks = Annotated[int, msgspec.Meta(ge=1, le=52)]


class PlanCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    kind: Kind = "strength"
    weeks: Weeks = 4
    notes: str | None = None
    days: list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]] = []


class PlanUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    kind: Kind = "strength"
    weeks: Weeks = 4
    notes: str | None = None


def _with_days(_ctx: Any, values: dict[str, Any]) -> dict[str, Any]:
    titles = values.pop("days", [])
    values["days"] = [Day(position=i, title=t) for i, t in enumerate(titles, 1)]
    return values


plans = Resource(
    model=Plan,
    path="/api/v1/lab/plans",
    tag="lab",
    read=PlanRead,
    create=PlanCreate,
    update=PlanUpdate,
    owner_field="owner_id",
    public_filter=Plan.owner_id.is_(None),
    search_fields=("name", "notes"),
    sort_fields=("name", "weeks", "created_at"),
    default_sort="-created_at",
    filter_fields={"kind": str, "weeks": int},
    permissions={"update": MANAGE, "delete": MANAGE, "read": READ_ALL},
    load=(selectinload(Plan.days),),
    hooks=ResourceHooks(before_create=_with_days),
)
URL = "/api/v1/lab/plans"


@pytest.fixture
async def tables(settings: Settings) -> AsyncIterator[None]:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(LabBase.metadata.drop_all)
        await conn.run_sync(LabBase.metadata.create_all)
    yield
    async with engine.begin() as conn:
        await conn.run_sync(LabBase.metadata.drop_all)
    await engine.dispose()


@pytest.fixture
def app(settings: Settings, tables: None) -> KeelApp:
    return create_app(settings, extra_route_handlers=plans.handlers())


async def insert_public(settings: Settings, name: str, **values: Any) -> str:
    engine = create_async_engine(settings.database_url)
    row_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(insert(Plan.__table__).values(id=row_id, owner_id=None, name=name, **values))
    await engine.dispose()
    return str(row_id)


async def make_plan(client: AsyncTestClient[KeelApp], headers: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await client.post(URL, json={"name": "Plan", **body}, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def test_crud_round_trip(client: AsyncTestClient[KeelApp], user_factory: Any) -> None:
    alice = await user_factory()
    created = await make_plan(client, alice.headers, name="Push pull legs", days=["Push", "Pull", "Legs"])
    assert created["owner_id"] == alice.id
    assert [d["title"] for d in created["days"]] == ["Push", "Pull", "Legs"]
    assert created["weeks"] == 4

    item = f"{URL}/{created['id']}"
    got = await client.get(item, headers=alice.headers)
    assert got.status_code == 200 and got.json() == {"status": "success", "data": created}

    resp = await client.patch(item, json={"weeks": 8}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["weeks"] == 8 and resp.json()["data"]["name"] == "Push pull legs"

    resp = await client.put(item, json={"name": "Upper lower", "notes": "heavy"}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert (data["name"], data["weeks"], data["notes"], len(data["days"])) == ("Upper lower", 4, "heavy", 3)

    resp = await client.patch(item, json={"notes": None}, headers=alice.headers)
    assert resp.json()["data"]["notes"] is None

    resp = await client.delete(item, headers=alice.headers)
    assert resp.status_code == 204 and resp.content == b""
    assert (await client.get(item, headers=alice.headers)).status_code == 404


async def test_requires_authentication(client: AsyncTestClient[KeelApp]) -> None:
    for method, path in (("GET", URL), ("POST", URL), ("GET", f"{URL}/{uuid.uuid4()}")):
        resp = await client.request(method, path, json={"name": "x"} if method == "POST" else None)
        assert resp.status_code == 401, (method, resp.text)
        assert resp.json()["error"]["code"] == "UNAUTHORIZED"


async def test_owner_scoping_hides_other_users_rows(
    client: AsyncTestClient[KeelApp], user_factory: Any
) -> None:
    alice, bob = await user_factory(), await user_factory()
    plan = await make_plan(client, alice.headers, name="Alice only")
    item = f"{URL}/{plan['id']}"

    attempts = (("GET", None), ("PUT", {"name": "mine now"}), ("PATCH", {"weeks": 2}), ("DELETE", None))
    for method, body in attempts:
        resp = await client.request(method, item, json=body, headers=bob.headers)
        assert resp.status_code == 404, (method, resp.text)
        assert resp.json()["error"]["code"] == "NOT_FOUND"

    listed = (await client.get(URL, headers=bob.headers)).json()
    assert listed["data"] == [] and listed["meta"]["total"] == 0
    # bob may use the same name: uniqueness is per owner
    await make_plan(client, bob.headers, name="Alice only")
    assert (await client.get(item, headers=alice.headers)).json()["data"]["name"] == "Alice only"


async def test_public_rows_readable_not_writable_without_permission(
    client: AsyncTestClient[KeelApp], settings: Settings, user_factory: Any
) -> None:
    public_id = await insert_public(settings, "Starter plan", kind="cardio", weeks=6)
    alice = await user_factory()
    admin = await user_factory(roles=["admin"])
    item = f"{URL}/{public_id}"

    resp = await client.get(item, headers=alice.headers)
    assert resp.status_code == 200 and resp.json()["data"]["owner_id"] is None
    assert [p["id"] for p in (await client.get(URL, headers=alice.headers)).json()["data"]] == [public_id]

    for method, body in (("PATCH", {"weeks": 2}), ("PUT", {"name": "Mine"}), ("DELETE", None)):
        resp = await client.request(method, item, json=body, headers=alice.headers)
        assert resp.status_code == 403, (method, resp.text)
        assert resp.json()["error"]["code"] == "FORBIDDEN"

    resp = await client.patch(item, json={"weeks": 10}, headers=admin.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["weeks"] == 10 and resp.json()["data"]["owner_id"] is None
    assert (await client.delete(item, headers=admin.headers)).status_code == 204


async def test_read_permission_sees_every_row(client: AsyncTestClient[KeelApp], user_factory: Any) -> None:
    alice = await user_factory()
    admin = await user_factory(roles=["admin"])
    plan = await make_plan(client, alice.headers, name="Private")
    assert (await client.get(f"{URL}/{plan['id']}", headers=admin.headers)).status_code == 200
    assert (await client.get(URL, headers=admin.headers)).json()["meta"]["total"] == 1


async def test_list_pagination_meta_and_bounds(client: AsyncTestClient[KeelApp], user_factory: Any) -> None:
    alice = await user_factory()
    for i in range(25):
        await make_plan(client, alice.headers, name=f"Plan {i:02d}")
    body = (await client.get(URL, headers=alice.headers)).json()
    assert body["status"] == "success"
    assert body["meta"] == {"limit": 20, "offset": 0, "total": 25} and len(body["data"]) == 20
    body = (await client.get(URL, params={"limit": 10, "offset": 20}, headers=alice.headers)).json()
    assert body["meta"] == {"limit": 10, "offset": 20, "total": 25} and len(body["data"]) == 5
    body = (await client.get(URL, params={"offset": 100}, headers=alice.headers)).json()
    assert body["meta"]["total"] == 25 and body["data"] == []
    newest = (await client.get(URL, params={"limit": 1}, headers=alice.headers)).json()["data"]
    assert [p["name"] for p in newest] == ["Plan 24"]  # default sort: newest first

    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "many"}):
        resp = await client.get(URL, params=params, headers=alice.headers)
        assert resp.status_code == 400, (params, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_sort_search_and_filters(client: AsyncTestClient[KeelApp], user_factory: Any) -> None:
    alice = await user_factory()
    await make_plan(client, alice.headers, name="Beta", kind="cardio", weeks=3)
    await make_plan(client, alice.headers, name="Alpha", kind="strength", weeks=8, notes="Heavy 100% days")
    await make_plan(client, alice.headers, name="Gamma", kind="cardio", weeks=8)

    async def names(**params: Any) -> list[str]:
        resp = await client.get(URL, params=params, headers=alice.headers)
        assert resp.status_code == 200, resp.text
        return [p["name"] for p in resp.json()["data"]]

    assert await names(sort="weeks,name") == ["Beta", "Alpha", "Gamma"]
    assert await names(sort="-weeks,-name") == ["Gamma", "Alpha", "Beta"]
    assert await names(sort="-name") == ["Gamma", "Beta", "Alpha"]
    assert await names(q="aLP") == ["Alpha"]
    assert await names(q="HEAVY") == ["Alpha"]  # notes are searched too
    assert await names(q="100%") == ["Alpha"]  # wildcards match literally
    assert await names(q="0%d") == []
    assert sorted(await names(kind="cardio")) == ["Beta", "Gamma"]
    assert await names(kind="cardio", weeks=8) == ["Gamma"]
    resp = await client.get(URL, params={"kind": "cardio", "q": "gam"}, headers=alice.headers)
    assert resp.json()["meta"]["total"] == 1

    resp = await client.get(URL, params={"sort": "owner_id"}, headers=alice.headers)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and "sort" in error["details"]
    assert "name" in error["details"]["sort"]
    resp = await client.get(URL, params={"weeks": "eight"}, headers=alice.headers)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_validation_errors(client: AsyncTestClient[KeelApp], user_factory: Any) -> None:
    alice = await user_factory()
    cases = [
        {},  # name missing
        {"name": ""},
        {"name": "x" * 101},
        {"name": "Ok", "kind": "yoga"},
        {"name": "Ok", "weeks": 0},
        {"name": "Ok", "owner_id": str(uuid.uuid4())},  # unknown (and not settable) field
    ]
    for body in cases:
        resp = await client.post(URL, json=body, headers=alice.headers)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR", body
    plan = await make_plan(client, alice.headers)
    resp = await client.patch(f"{URL}/{plan['id']}", json={"weeks": 99}, headers=alice.headers)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "VALIDATION_ERROR"
    resp = await client.put(f"{URL}/{plan['id']}", json={"weeks": 5}, headers=alice.headers)  # PUT needs name
    assert resp.status_code == 400
    assert (await client.get(f"{URL}/not-a-uuid", headers=alice.headers)).status_code in (400, 404)


async def test_unique_violation_is_409(client: AsyncTestClient[KeelApp], user_factory: Any) -> None:
    alice = await user_factory()
    await make_plan(client, alice.headers, name="Same")
    resp = await client.post(URL, json={"name": "Same"}, headers=alice.headers)
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "CONFLICT"
    other = await make_plan(client, alice.headers, name="Other")
    resp = await client.patch(f"{URL}/{other['id']}", json={"name": "Same"}, headers=alice.headers)
    assert resp.status_code == 409
    # the failed request rolled back; the next ones work
    assert (await client.get(URL, headers=alice.headers)).json()["meta"]["total"] == 2


async def test_list_issues_a_bounded_number_of_queries(
    app: KeelApp, client: AsyncTestClient[KeelApp], user_factory: Any
) -> None:
    alice = await user_factory()
    engine = app.state.sa_config.get_engine()
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def list_queries() -> int:
        statements.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            resp = await client.get(URL, params={"limit": 100}, headers=alice.headers)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert resp.status_code == 200
        return len(statements)

    await make_plan(client, alice.headers, name="P0", days=["a", "b"])
    few = await list_queries()
    for i in range(1, 15):
        await make_plan(client, alice.headers, name=f"P{i}", days=["a", "b", "c"])
    many = await list_queries()
    assert many == few, (few, many)
    plan_selects = [s for s in statements if "test_resource_" in s]
    assert len(plan_selects) <= 3, plan_selects  # count, page, days


def test_openapi_documents_types_params_and_errors(app: KeelApp) -> None:
    schema = app.openapi_schema.to_schema()
    listing = schema["paths"][URL]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert {"limit", "offset", "sort", "q", "kind", "weeks"} <= set(params)
    assert params["limit"]["schema"]["maximum"] == 100 and params["limit"]["schema"]["minimum"] == 1
    ok_ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "Page" in ok_ref and "PlanRead" in ok_ref
    assert {"400", "401"} <= set(listing["responses"])
    assert listing["tags"] == ["lab"] and listing["security"] == [{"BearerToken": []}]

    create = schema["paths"][URL]["post"]
    assert set(create["responses"]) >= {"201", "400", "401", "403", "409"}
    assert "Envelope" in create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("PlanCreate")

    item = next(p for p in schema["paths"] if p.startswith(f"{URL}/{{"))
    ops = schema["paths"][item]
    assert set(ops) >= {"get", "put", "patch", "delete"}
    assert {"404", "401"} <= set(ops["get"]["responses"])
    assert "204" in ops["delete"]["responses"] and "404" in ops["delete"]["responses"]
    patch_body = ops["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert patch_body["$ref"].endswith("PlanUpdatePatch")
    patch_schema = schema["components"]["schemas"]["PlanUpdatePatch"]
    assert not patch_schema.get("required")
    put_schema = schema["components"]["schemas"]["PlanUpdate"]
    assert put_schema["required"] == ["name"]


def test_partial_struct_keeps_constraints_and_refuses_unknown_fields() -> None:
    patch = partial_struct(PlanUpdate)
    assert msgspec.json.decode(b"{}", type=patch).__struct_fields__ == ("name", "kind", "weeks", "notes")
    value = msgspec.json.decode(b'{"weeks": 5}', type=patch)
    assert value.weeks == 5 and value.name is msgspec.UNSET
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"weeks": 0}', type=patch)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"extra": 1}', type=patch)


def test_misconfiguration_fails_at_declaration() -> None:
    with pytest.raises(ValueError, match="sort_fields"):
        Resource(model=Plan, path="/x", tag="lab", read=PlanRead, sort_fields=("nope",))
    with pytest.raises(ValueError, match="sortable"):
        Resource(
            model=Plan, path="/x", tag="lab", read=PlanRead, sort_fields=("name",), default_sort="-weeks"
        )
    with pytest.raises(ValueError, match="unknown actions"):
        Resource(model=Plan, path="/x", tag="lab", read=PlanRead, permissions={"publish": "x"})


async def test_controller_and_router_forms(settings: Settings, tables: None) -> None:
    other = Resource(
        model=Plan,
        path="/api/v1/lab/ctl",
        tag="lab",
        read=PlanRead,
        create=PlanCreate,
        update=PlanUpdate,
        owner_field="owner_id",
        load=(selectinload(Plan.days),),
        hooks=ResourceHooks(before_create=_with_days),
        actions=("list", "create", "get"),
    )
    routed = Resource(
        model=Plan,
        path="/api/v1/lab/routed",
        tag="lab",
        read=PlanRead,
        create=PlanCreate,
        owner_field="owner_id",
        load=(selectinload(Plan.days),),
        hooks=ResourceHooks(before_create=_with_days),
    )
    app = create_app(settings, extra_route_handlers=[other.controller(), routed.router()])
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        resp = await client.post(
            "/api/v1/auth/register",
            json={"email": "ctl@example.com", "password": "Keel test pass 1 with spaces!", "name": "C"},
        )
        headers = {"Authorization": f"Bearer {resp.json()['data']['access_token']}"}
        created = (await client.post("/api/v1/lab/ctl", json={"name": "C"}, headers=headers)).json()["data"]
        assert (await client.get(f"/api/v1/lab/ctl/{created['id']}", headers=headers)).status_code == 200
        assert (await client.delete(f"/api/v1/lab/ctl/{created['id']}", headers=headers)).status_code == 405
        assert (await client.get("/api/v1/lab/routed", headers=headers)).json()["meta"]["total"] == 1
