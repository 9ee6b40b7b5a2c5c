"""market assistant: time from a customer's message to the assistant's first streamed token, seen by the
customer's own SSE stream (`python -m benchmarks.market` prints JSON; `make bench` runs it as the
`market` group and prints a table).

- local engine: 20 chats at once (BENCH_MARKET_CHATS), BENCH_MARKET_ROUNDS (10) messages each, questions
  from the assistant evaluation (tests/market/data/assistant_eval.json) against its 56-product catalogue.
  The offline engine does not stream pieces: its first token is its first stored reply
  (`message.created` by the assistant). Goal: p95 ≤ 150 ms.
- model server: a local streaming OpenAI-compatible server (tests/fixtures/openai_server.py), one chat at
  a time; the first `message.delta` minus the server's own time to its first content chunk (a raw httpx
  request to it, median): Keel's overhead. Goal ≤ 20 ms.

Each scenario runs its own `keel serve --workers 1` (the first database of BENCH_DATABASES, fresh), the
clock starts before the POST of the message and stops when the customer's stream delivers the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1/market"
DATA = json.loads((ROOT / "tests" / "market" / "data" / "assistant_eval.json").read_text())
CHATS = int(os.environ.get("BENCH_MARKET_CHATS", 20))
ROUNDS = int(os.environ.get("BENCH_MARKET_ROUNDS", 10))  # per chat; the send limit is 30/minute per user
LLM_MESSAGES = 30
REPLY = "We have the Vento trail running shoes in blue, size 42, for 89.90 EUR."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


_registered = 0


async def _register(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    global _registered
    _registered += 1  # each from an address of its own: registration is limited per client address
    forwarded = {"X-Forwarded-For": f"10.88.{_registered // 256}.{_registered % 256}"}
    body = {"email": f"{name}-{uuid.uuid4().hex[:10]}@bench.example", "password": "Bench-password-0001"}
    resp = await http.post("/api/v1/auth/register", json={**body, "name": name}, headers=forwarded)
    resp.raise_for_status()
    return {"id": resp.json()["data"]["user"]["id"], "token": resp.json()["data"]["access_token"]}


def _auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['token']}"}


async def _shop(http: httpx.AsyncClient) -> str:
    owner = await _register(http, "owner")
    vendor = await http.post(
        f"{API}/vendors", json={"name": f"Bench {uuid.uuid4().hex[:6]}"}, headers=_auth(owner)
    )
    vendor.raise_for_status()
    vendor_id = vendor.json()["data"]["id"]
    for product in DATA["products"]:
        (
            await http.post(f"{API}/vendors/{vendor_id}/products", json=product, headers=_auth(owner))
        ).raise_for_status()
    settings = {"enabled": True, "name": "Bench helper"}
    (
        await http.put(f"{API}/vendors/{vendor_id}/assistant", json=settings, headers=_auth(owner))
    ).raise_for_status()
    return vendor_id


class Customer:
    """A customer with a chat and its SSE stream; `first_token()` waits for the assistant's first event.

    Each customer has an HTTP client of its own, as on a device of its own: httpcore's pool scans every
    connection it holds (a readability check each) for every request and every read, so one client with 20
    open streams spent ~8 ms of the bench's own CPU per message, and on one load core that client time
    added up in the latencies measured."""

    def __init__(self, http: httpx.AsyncClient, user: dict[str, str], chat_id: str) -> None:
        self.http = httpx.AsyncClient(base_url=http.base_url, timeout=http.timeout)
        self.user, self.chat_id = user, chat_id
        self.tokens: asyncio.Queue[float] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def listen(self) -> None:
        url = "/api/v1/events?topics=market"
        async with self.http.stream("GET", url, headers=_auth(self.user), timeout=None) as stream:
            async for line in stream.aiter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])["event"]
                if event.get("chat_id") != self.chat_id:
                    continue
                first_piece = event["type"] == "message.delta"
                reply = event["type"] == "message.created" and event["message"]["author"] == "assistant"
                if first_piece or reply:
                    self.tokens.put_nowait(time.perf_counter())

    async def close(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.task  # type: ignore[misc]
        await self.http.aclose()

    async def ask(self, text: str) -> float:
        while not self.tokens.empty():  # the rest of the previous reply
            self.tokens.get_nowait()
        started = time.perf_counter()
        body = {"client_id": str(uuid.uuid4()), "body": text}
        sent = await self.http.post(
            f"{API}/chats/{self.chat_id}/messages", json=body, headers=_auth(self.user)
        )
        sent.raise_for_status()
        token_at = await asyncio.wait_for(self.tokens.get(), 30)
        await asyncio.sleep(0.2)  # the reply's other events arrive before the next question
        return (token_at - started) * 1000


async def _customers(http: httpx.AsyncClient, vendor_id: str, count: int) -> list[Customer]:
    people = []
    for n in range(count):
        user = await _register(http, f"customer{n}")
        chat = await http.post(f"{API}/chats", json={"vendor_id": vendor_id}, headers=_auth(user))
        chat.raise_for_status()
        customer = Customer(http, user, chat.json()["data"]["id"])
        customer.task = asyncio.create_task(customer.listen())
        people.append(customer)
    await asyncio.gather(*(asyncio.wait_for(c.connected.wait(), 10) for c in people))
    await asyncio.sleep(0.3)
    return people


def _profile(pid: int | None) -> Any:
    """BENCH_MARKET_PROFILE=<file>: py-spy (installed beside the venv's python, not a dependency) samples
    the server over the concurrent rounds and writes a speedscope profile there."""
    import subprocess

    out = os.environ.get("BENCH_MARKET_PROFILE")
    if not out or pid is None:
        return None
    _thread_cpu.update(_threads(pid))
    _thread_cpu["pid"] = pid
    py_spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(py_spy), "record", "--pid", str(pid), "--format", "speedscope", "-o", out, "--gil"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


_thread_cpu: dict[str, Any] = {}


def _threads(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) per thread of `pid`, by thread id and name."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        found[f"{task.name} {name}"] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def _stop_profile(profiler: Any, messages: int) -> None:
    import signal

    if profiler is None:
        return
    after = _threads(_thread_cpu["pid"])
    by_name: dict[str, float] = {}
    for key, seconds in after.items():
        tid, name = key.split(" ", 1)
        name = "main" if tid == str(_thread_cpu["pid"]) else f"other ({name})"
        by_name[name] = by_name.get(name, 0.0) + seconds - _thread_cpu.get(key, 0.0)
    for name, seconds in sorted(by_name.items(), key=lambda kv: -kv[1]):
        print(f"  server thread {name}: {seconds * 1000 / messages:.2f} ms CPU per message", file=sys.stderr)
    profiler.send_signal(signal.SIGINT)
    profiler.wait(30)


async def local_engine(base: str, pid: int | None = None) -> dict[str, Any]:
    """20 chats at once, then one chat alone (its latency without queueing); the server's CPU ms per
    message (the customer's POST, the reply, their events) over the concurrent rounds."""
    from benchmarks import measure

    limits = httpx.Limits(max_connections=CHATS * 2 + 10)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        vendor_id = await _shop(http)
        people = await _customers(http, vendor_id, CHATS)
        questions = [q["question"] for q in DATA["answerable"]]
        await asyncio.gather(*(c.ask(questions[i % len(questions)]) for i, c in enumerate(people)))  # warm-up
        samples: list[float] = []
        meter = measure.CpuMeter(pid)
        client_before = time.process_time()
        profiler = _profile(pid)
        for round_ in range(ROUNDS):
            asked = [questions[(round_ * CHATS + i) % len(questions)] for i in range(CHATS)]
            samples += await asyncio.gather(*(c.ask(q) for c, q in zip(people, asked, strict=True)))
        cpu_ms = meter.per_request(len(samples))
        client_ms = (time.process_time() - client_before) * 1000 / len(samples)
        _stop_profile(profiler, len(samples))
        alone = [await people[0].ask(questions[n % len(questions)]) for n in range(ROUNDS)]
        for c in people:
            assert c.task is not None
            c.task.cancel()
            await c.close()
    return {
        "chats": CHATS,
        "samples": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
        "cpu_ms_per_message": cpu_ms,
        "client_cpu_ms_per_message": round(client_ms, 2),
        "alone_p50_ms": round(statistics.median(alone), 1),
        "goal_p95_ms": 150,
    }


async def _raw_first_chunk(client: httpx.AsyncClient, base_url: str) -> float:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    start = time.perf_counter()
    async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                return (time.perf_counter() - start) * 1000
    raise RuntimeError("no token")


async def model_server(base: str, server: Any, pid: int | None = None) -> dict[str, Any]:
    from benchmarks import measure
    from fixtures.openai_server import Reply

    async with httpx.AsyncClient(base_url=base, timeout=30) as http, httpx.AsyncClient() as raw:
        vendor_id = await _shop(http)
        people = await _customers(http, vendor_id, 3)  # 30 messages within the 30/minute send limit each
        samples, own = [], []
        meter = measure.CpuMeter(None)
        for n in range(LLM_MESSAGES + 3):
            if n == 3:
                meter = measure.CpuMeter(pid)
            server.script(Reply(text=REPLY))
            took = await people[n % len(people)].ask("blue running shoes in 42?")
            server.script(Reply(text=REPLY))
            server_ms = await _raw_first_chunk(raw, server.base_url)
            if n >= 3:  # warm-up: first connections, first prompt
                samples.append(took)
                own.append(server_ms)
        cpu_ms = meter.per_request(len(samples))
        for c in people:
            assert c.task is not None
            c.task.cancel()
            await c.close()
    server_ms = statistics.median(own)
    return {
        "samples": len(samples),
        "first_delta_p50_ms": round(statistics.median(samples), 1),
        "first_delta_p95_ms": round(percentile(samples, 0.95), 1),
        "server_own_ms": round(server_ms, 2),
        "overhead_p50_ms": round(statistics.median(samples) - server_ms, 1),
        "overhead_p95_ms": round(percentile(samples, 0.95) - server_ms, 1),
        "cpu_ms_per_message": cpu_ms,
        "goal_overhead_ms": 20,
    }


def _serve(env: dict[str, str], log_name: str) -> tuple[Any, str]:
    from benchmarks import run

    port = run.free_port()
    cmd = [str(run.BIN / "keel"), "serve", "--workers", "1", "--port", str(port)]
    return run.start(cmd, env, port, run.OUT / log_name), f"http://127.0.0.1:{port}"


def _on_load_core() -> set[int] | None:
    """Pin this process (the customers' client) to the load core, as wrk is for the other groups: the
    server is pinned to its own core, and a client left free shared it (20 streams and their POSTs are
    ~1-2 ms of the client's CPU per message). Returns the former affinity."""
    from benchmarks import measure

    if not measure.PIN:
        return None
    former = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(measure.LOAD_CORE)})
    return former


def run_all(env: dict[str, str]) -> dict[str, Any]:
    """Both scenarios against `keel serve` with `env` (a migrated database): {local, model}, with the
    machine's load average (these are latencies: a busy machine shows in them)."""

    former = _on_load_core()
    try:
        return _run_all(env)
    finally:
        if former is not None:
            os.sched_setaffinity(0, former)


def _run_all(env: dict[str, str]) -> dict[str, Any]:
    from benchmarks import run

    sys.path.insert(0, str(ROOT / "tests"))
    from fixtures.openai_server import OpenAIServer

    apps = [a for a in env.get("KEEL_APPS", "").split(",") if a]
    env = {**env, "KEEL_APPS": ",".join(apps if "market" in apps else [*apps, "market"])}
    result: dict[str, Any] = {"load_average": os.getloadavg()}
    proc, base = _serve({**env, "AI_BASE_URL": ""}, "server-market-local.log")
    try:
        result["local"] = asyncio.run(local_engine(base, proc.pid))
    except Exception as exc:
        result["local"] = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        run.stop(proc)
    server = OpenAIServer().start()
    proc, base = _serve(
        {**env, "AI_BASE_URL": server.base_url, "AI_MODEL": "bench-model", "AI_MAX_RETRIES": "0"},
        "server-market-model.log",
    )
    try:
        result["model"] = asyncio.run(model_server(base, server, proc.pid))
    except Exception as exc:
        result["model"] = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        run.stop(proc)
        server.close()
    return result


def print_table(result: dict[str, Any]) -> None:
    local, model = result.get("local", {}), result.get("model", {})
    print("\nmarket assistant: customer message -> first streamed token (ms)")
    if "skipped" in local:
        print(f"  local engine: not measured: {local['skipped']}")
    elif local:
        print(
            f"  local engine, {local['chats']} chats at once: p50 {local['p50_ms']}  p95 {local['p95_ms']}  "
            f"max {local['max_ms']}  (goal p95 <= {local['goal_p95_ms']}; {local['samples']} samples); "
            f"server CPU {local['cpu_ms_per_message']} ms per message "
            f"(the client's {local.get('client_cpu_ms_per_message')}); "
            f"one chat alone p50 {local['alone_p50_ms']}"
        )
    if "skipped" in model:
        print(f"  model server: not measured: {model['skipped']}")
    elif model:
        print(
            f"  model server: first delta p50 {model['first_delta_p50_ms']}  "
            f"p95 {model['first_delta_p95_ms']}; server's own {model['server_own_ms']}; "
            f"overhead p50 {model['overhead_p50_ms']}  "
            f"p95 {model['overhead_p95_ms']}  (goal <= {model['goal_overhead_ms']}); "
            f"server CPU {model['cpu_ms_per_message']} ms per message"
        )


def main() -> None:
    from benchmarks import run

    run.OUT.mkdir(parents=True, exist_ok=True)
    env = run.prepare_database(run.DATABASES[0])
    result = run_all(env)
    print_table(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
