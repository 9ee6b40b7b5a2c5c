"""segmint / keel.core.llm measurements: the `segmint` group of `make bench` (benchmarks/run.py calls
`run()`), or alone: `python -m benchmarks.segmint` prints JSON.

- Time to first token through `LanguageModel.stream` against a local streaming OpenAI-compatible server
  (tests/fixtures/openai_server.py), minus the time to the first chunk of a raw httpx request to the
  same server: the client's overhead (target ≤ 20 ms). Median of BENCH_LLM_ROUNDS (50) after a warm-up.
- The local writer's time per draft (target ≤ 200 ms) with 200 pieces of the user's own material.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 50


async def _raw_first_chunk(client: Any, base_url: str) -> float:
    """The same request by hand on a kept-alive connection: what the server itself costs."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    start = time.perf_counter()
    async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                return time.perf_counter() - start
    raise RuntimeError("no token")


async def ttft_overhead() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    import httpx

    from fixtures.openai_server import OpenAIServer, Reply
    from keel.core.llm import LanguageModel
    from keel.settings import load_settings

    server = OpenAIServer().start()
    raw_client = httpx.AsyncClient()
    try:
        llm = LanguageModel(load_settings(None, ai_base_url=server.base_url, ai_model="m"))
        client_times, raw_times = [], []
        for i in range(ROUNDS + 5):
            server.script(Reply(text="Fresh bread today at seven"), Reply(text="Fresh bread today at seven"))
            start = time.perf_counter()
            events = llm.stream([{"role": "user", "content": "hi"}], user_id=None, app="bench")
            async for event in events:
                if event.delta:
                    elapsed = time.perf_counter() - start
                    break
            await events.aclose()
            raw = await _raw_first_chunk(raw_client, server.base_url)
            if i >= 5:  # warm-up: the SDK import and the first connection
                client_times.append(elapsed)
                raw_times.append(raw)
        await llm.close()
    finally:
        await raw_client.aclose()
        server.close()
    client_ms = statistics.median(client_times) * 1000
    raw_ms = statistics.median(raw_times) * 1000
    return {
        "ttft_client_ms": round(client_ms, 2),
        "ttft_raw_httpx_ms": round(raw_ms, 2),
        "ttft_overhead_ms": round(client_ms - raw_ms, 2),
        "target_overhead_ms": 20,
    }


async def local_draft_time() -> dict[str, Any]:
    from keel.apps.segmint import style, writer

    posts = [
        "Sourdough is back this Saturday! We bake from 5am, first loaves out at 7. Come early 🥖 #bakery",
        "Our croissants take three days: mix, laminate, proof. Fresh from the oven, as always 🥐 #bakery",
        "We tried a rye and caraway loaf this week. Would you want it every week? #rye #bakery",
        "Flour, water, salt, time. That's all our sourdough needs. We feed the starter twice a day.",
    ]
    material = [style.Piece(text=f"{p} Batch {i}.", status="published") for i in range(50) for p in posts]
    brief = writer.Brief("the rye loaves are back on Saturday", "friendly", ["twitter", "mastodon"], "medium")
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        voice = style.features(material)  # what a request computes too
        examples = style.exemplars(material, brief.brief)
        drafts = await writer.LocalWriter().generate(brief, voice, examples, material)
        timings.append((time.perf_counter() - start) / len(drafts))
    return {"local_ms_per_draft": round(statistics.median(timings) * 1000, 1), "target_ms_per_draft": 200}


async def measure() -> dict[str, Any]:
    return {**await ttft_overhead(), **await local_draft_time()}


def run() -> dict[str, Any]:
    """The group as `make bench` runs it: measures, prints a small table against the targets, returns
    the figures for the results JSON (or why it could not measure)."""
    print("  segmint: time to first token through the client, the local writer per draft ...", flush=True)
    try:
        results = asyncio.run(measure())
    except Exception as exc:  # a benchmark that cannot run says why instead of hiding the other groups
        return {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    overhead_ok = results["ttft_overhead_ms"] <= results["target_overhead_ms"]
    local_ok = results["local_ms_per_draft"] <= results["target_ms_per_draft"]
    results["meets_targets"] = overhead_ok and local_ok
    print(f"\n{'segmint':<34} {'measured':>10} {'target':>8}")
    print(
        f"{'time to first token, client ms':<34} {results['ttft_client_ms']:>10.2f} "
        f"{'':>8}\n{'  raw httpx ms':<34} {results['ttft_raw_httpx_ms']:>10.2f}"
    )
    print(
        f"{'  client overhead ms':<34} {results['ttft_overhead_ms']:>10.2f} "
        f"{'<= ' + str(results['target_overhead_ms']):>8} {'ok' if overhead_ok else 'MISSED'}"
    )
    print(
        f"{'local writer ms per draft':<34} {results['local_ms_per_draft']:>10.1f} "
        f"{'<= ' + str(results['target_ms_per_draft']):>8} {'ok' if local_ok else 'MISSED'}"
    )
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure()), indent=2))
