"""What `make bench` drives. Apps add their own: append a `Scenario` to SCENARIOS (gym lists, scribe ...).

`auth=True` sends the bench user's bearer token; `body` is a JSON template where `{n}` becomes a number
unique to each request (so creates never collide); `bare` names the path of the bare Litestar app to
compare with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    auth: bool = False
    body: str | None = None
    bare: str | None = None


SCENARIOS: list[Scenario] = [
    Scenario("health", "GET", "/health", bare="/health"),
    Scenario("auth sessions (list)", "GET", "/api/v1/auth/sessions?limit=20", auth=True),
    Scenario("users/me", "GET", "/api/v1/users/me", auth=True),
    Scenario(
        "register (create, argon2)",
        "POST",
        "/api/v1/auth/register",
        body='{{"email": "bench-{n}@bench.example", "password": "Bench-password-{n}-long", "name": "Bench"}}',
    ),
    # gym: plans with days and exercises, 20/page (predefined from the cache, then the caller's own)
    Scenario("gym plans (list, 20/page)", "GET", "/api/v1/gym/workout-plans?limit=20", auth=True),
    Scenario("gym my plans (list, 20/page)", "GET", "/api/v1/gym/workout-plans?scope=mine&limit=20", auth=True),
]
