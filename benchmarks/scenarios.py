"""What `make bench` drives over HTTP. Apps add their own: append a `Scenario` to SCENARIOS.

`auth=True` sends the bench user's bearer token. `path` and `body` may name values prepared by the
scenario's group set-up (`{exercise_id}`, `{session_id}`, see benchmarks/gym.py). In `body`, `{n}`
becomes a number unique to each request and `{uuid}` a UUID unique to each request (so creates never
collide); literal JSON braces are doubled (`{{`, `}}`). `bare` names the path of the bare Litestar app
to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    group: str
    name: str
    method: str
    path: str
    auth: bool = False
    body: str | None = None
    bare: str | None = None
    # a different X-Forwarded-For client per request (loopback is a trusted proxy by default), for routes
    # with a per-client-IP product limit such as registration (20/hour per IP)
    spread_clients: bool = False


SCENARIOS: list[Scenario] = [
    # core: the stack on its cheapest route, an authenticated read, an owner-scoped page with its total,
    # a create with its audit rows, and registration (argon2). Every row is compared with bare hello.
    Scenario("core", "health", "GET", "/health", bare="/health"),
    Scenario("core", "users/me (bearer)", "GET", "/api/v1/users/me", auth=True),
    Scenario("core", "my sessions, 20 of 100 with total", "GET", "/api/v1/auth/sessions?limit=20", auth=True),
    # the issue's own list (before the create below adds to it): the personal workspace's posts, with tags
    Scenario(
        "core", "my content, 20 of 100 with total", "GET", "/api/v1/segmint/content?limit=20", auth=True
    ),
    Scenario(
        "core",
        "create with audit (segmint content)",
        "POST",
        "/api/v1/segmint/content",
        auth=True,
        body='{{"text": "Bench post {n}", "tone": "friendly", "tags": ["bench"]}}',
    ),
    Scenario(
        "core",
        "register (create, argon2)",
        "POST",
        "/api/v1/auth/register",
        body='{{"email": "bench-{n}@bench.example", "password": "Bench-password-{n}-long", "name": "Bench"}}',
        spread_clients=True,
    ),
    # gym (set-up in benchmarks/gym.py: 25 own plans, 5,000 bench-press sets over 250 sessions)
    Scenario(
        "gym",
        "my plans (20/page, days+exercises)",
        "GET",
        "/api/v1/gym/workout-plans?scope=mine&limit=20",
        auth=True,
    ),
    Scenario("gym", "my sessions, 20 of 251 with total", "GET", "/api/v1/gym/sessions?limit=20", auth=True),
    Scenario(
        "gym",
        "log a set (create)",
        "POST",
        "/api/v1/gym/sessions/{session_id}/sets",
        auth=True,
        body='{{"exercise_id": "{log_exercise_id}", "client_id": "{uuid}", "reps": 5, "weight": 100}}',
    ),
    Scenario(
        "gym",
        "records, 5,000 sets",
        "GET",
        "/api/v1/gym/exercises/{exercise_id}/records",
        auth=True,
    ),
    Scenario(
        "gym",
        "exercise history (20/page of 250)",
        "GET",
        "/api/v1/gym/exercises/{exercise_id}/history?limit=20",
        auth=True,
    ),
]
