"""What `keel new resource` writes (string.Template: $name): model, schemas, routes, plugin and tests."""

from __future__ import annotations

from string import Template

MODEL_IMPORTS = [
    "from uuid import UUID",
    "from sqlalchemy import ForeignKey, String, Text, UniqueConstraint",
    "from sqlalchemy.orm import Mapped, mapped_column",
    "from keel.core.db import Base",
]
MODEL = Template('''
class $cls(Base):
    """A $human, owned by one account."""

    __tablename__ = "$table"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
''')

SCHEMA_IMPORTS = [
    "from datetime import datetime",
    "from typing import Annotated",
    "from uuid import UUID",
    "import msgspec",
]
SCHEMAS = Template("""
${cls}Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
${cls}Description = Annotated[str, msgspec.Meta(max_length=5000)]


class ${cls}Read(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class ${cls}Create(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: ${cls}Name
    description: ${cls}Description | None = None


class ${cls}Update(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: ${cls}Name
    description: ${cls}Description | None = None
""")

ROUTES_IMPORTS = [
    "from $package.models import $cls",
    "from $package.schemas import ${cls}Create, ${cls}Read, ${cls}Update",
    "from keel.core.resources import Resource",
]
ROUTES = Template("""
$var = Resource(
    model=$cls,
    path="$path",
    tag="$app",
    read=${cls}Read,
    create=${cls}Create,
    update=${cls}Update,
    owner_field="owner_id",
    search_fields=("name", "description"),
    sort_fields=("name", "created_at", "updated_at"),
    default_sort="-created_at",
)
""")

PLUGIN = Template('''"""$app: routes under /api/v1/$app."""

from __future__ import annotations

from $package.routes import $var
from keel.core.components import AppSpec

spec = AppSpec(
    name="$app",
    description="$app",
    route_handlers=[
        $var.controller(),
    ],
)
''')

TEST = Template('''"""$cls resource: CRUD, paging, owner scoping, validation (from `keel new resource`)."""

from __future__ import annotations

import uuid
from typing import Any

URL = "/api/v1/$app$path"


async def test_${snake}_crud(client: Any, user_factory: Any) -> None:
    alice = await user_factory()
    resp = await client.post(URL, json={"name": "First", "description": "hello"}, headers=alice.headers)
    assert resp.status_code == 201, resp.text
    created = resp.json()["data"]
    assert created["name"] == "First" and created["description"] == "hello"
    item = f"{URL}/{created['id']}"

    resp = await client.get(item, headers=alice.headers)
    assert resp.status_code == 200 and resp.json()["data"] == created

    resp = await client.patch(item, json={"description": "changed"}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["description"] == "changed" and resp.json()["data"]["name"] == "First"

    resp = await client.put(item, json={"name": "Renamed"}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["name"] == "Renamed" and resp.json()["data"]["description"] is None

    assert (await client.delete(item, headers=alice.headers)).status_code == 204
    assert (await client.get(item, headers=alice.headers)).status_code == 404


async def test_${snake}_pagination_search_and_sort(client: Any, user_factory: Any) -> None:
    alice = await user_factory()
    for i in range(25):
        resp = await client.post(URL, json={"name": f"Item {i:02d}"}, headers=alice.headers)
        assert resp.status_code == 201, resp.text
    body = (await client.get(URL, headers=alice.headers)).json()
    assert body["meta"] == {"limit": 20, "offset": 0, "total": 25} and len(body["data"]) == 20
    body = (await client.get(URL, params={"limit": 10, "offset": 20}, headers=alice.headers)).json()
    assert body["meta"] == {"limit": 10, "offset": 20, "total": 25} and len(body["data"]) == 5
    body = (await client.get(URL, params={"sort": "name", "limit": 1}, headers=alice.headers)).json()
    assert body["data"][0]["name"] == "Item 00"
    body = (await client.get(URL, params={"q": "item 07"}, headers=alice.headers)).json()
    assert [i["name"] for i in body["data"]] == ["Item 07"]


async def test_${snake}_other_user_gets_404(client: Any, user_factory: Any) -> None:
    alice, bob = await user_factory(), await user_factory()
    resp = await client.post(URL, json={"name": "Private"}, headers=alice.headers)
    item = f"{URL}/{resp.json()['data']['id']}"
    assert (await client.get(item, headers=bob.headers)).status_code == 404
    assert (await client.patch(item, json={"name": "Mine"}, headers=bob.headers)).status_code == 404
    assert (await client.delete(item, headers=bob.headers)).status_code == 404
    assert (await client.get(URL, headers=bob.headers)).json()["meta"]["total"] == 0
    assert (await client.get(item, headers=alice.headers)).status_code == 200


async def test_${snake}_validation_and_conflicts(client: Any, user_factory: Any) -> None:
    alice = await user_factory()
    for body in ({}, {"name": ""}, {"name": "x" * 201}, {"name": "Ok", "owner_id": str(uuid.uuid4())}):
        resp = await client.post(URL, json=body, headers=alice.headers)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    resp = await client.get(URL, params={"sort": "owner_id"}, headers=alice.headers)
    assert resp.status_code == 400 and "sort" in resp.json()["error"]["details"]
    assert (await client.post(URL, json={"name": "Twice"}, headers=alice.headers)).status_code == 201
    resp = await client.post(URL, json={"name": "Twice"}, headers=alice.headers)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "CONFLICT"
    assert (await client.get(URL, headers={})).status_code == 401
''')


# --- writing ---
