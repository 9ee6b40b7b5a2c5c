"""`python -m benchmarks.run`: every wanted group on every wanted database, then the tables and the JSON."""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

from benchmarks import measure as m
from benchmarks.run.config import (
    CONNECTIONS,
    DATABASES,
    DURATION,
    GROUPS,
    OUT,
    ROOT,
    USE_WRK,
    WORKERS,
    database_url,
    server_env,
)
from benchmarks.run.groups import bare_baseline, run_keel, run_startup
from benchmarks.run.load import measure
from benchmarks.run.report import print_scribe, print_startup, print_table, server_errors
from benchmarks.run.server import prepare_database
from benchmarks.scenarios import SCENARIOS


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT / "storage", ignore_errors=True)
    (OUT / "prometheus").mkdir(exist_ok=True)
    tool = "wrk" if USE_WRK else "httpx (install wrk for higher load)"
    print(
        f"load: {tool}, {DURATION}s per scenario, {CONNECTIONS} connections, {WORKERS} worker(s), "
        f"pinned {'server core 0, load core 1' if m.PIN else 'no'}; databases {','.join(DATABASES)}, "
        f"redis {'yes' if os.environ.get('REDIS_URL') else 'no'}; groups {','.join(GROUPS)}"
    )
    first_env = server_env(database_url(DATABASES[0]))
    wants_load = any(s.group in GROUPS for s in SCENARIOS)
    bare = (
        bare_baseline(first_env) if wants_load and any(s.bare for s in SCENARIOS if s.group in GROUPS) else {}
    )
    rows: list[dict[str, Any]] = []
    scribe_result: dict[str, Any] = {}
    market_result: dict[str, Any] = {}
    startup: dict[str, Any] = {}
    twins: list[dict[str, Any]] = []
    for index, kind in enumerate(DATABASES):
        try:
            env = prepare_database(kind)
        except Exception as exc:
            rows.append({"database": kind, "group": "-", "name": "(database)", "skipped": str(exc)[:300]})
            continue
        if "startup" in GROUPS and index == 0:
            print(f"  start-up: 5 cold starts on {kind} ...", flush=True)
            startup = run_startup(env, kind)
        user: dict[str, str] | None = None
        if wants_load or ("scribe" in GROUPS and index == 0) or "twins" in GROUPS:
            keel_rows, scribe_part, user = run_keel(kind, env, "scribe" in GROUPS and index == 0)
            rows += keel_rows
            scribe_result = scribe_result or scribe_part
        if "twins" in GROUPS and user is not None:
            from benchmarks import twins as twin_bench

            twins += twin_bench.run(kind, env, user, measure)
        if "market" in GROUPS and index == 0:  # its own servers (benchmarks/market.py)
            from benchmarks import market as market_bench

            print(
                f"  market: assistant's first token, local engine and model server, on {kind} ...", flush=True
            )
            market_result = {"database": kind, **market_bench.run_all(env)}

    if rows or bare:
        print_table(bare, rows + twins)
    if twins:
        from benchmarks import twins as twin_bench

        twin_bench.print_comparison(bare, rows, twins)
    if startup:
        print_startup(startup)
    if scribe_result:
        print_scribe(scribe_result)
    if market_result:
        from benchmarks import market as market_bench

        market_bench.print_table(market_result)
    errors: dict[str, int] = {}
    for kind in DATABASES:
        errors.update(server_errors(OUT / f"server-{kind}.log"))
    if market_result:
        for scenario in ("local", "model"):
            errors.update(server_errors(OUT / f"server-market-{scenario}.log"))
    if errors:
        print("\nunhandled errors in var/bench/server-*.log:")
        for what, count in errors.items():
            print(f"  {count:>5} x {what}")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = OUT / f"results-{stamp}.json"
    meta = {
        "workers": WORKERS,
        "duration_s": DURATION,
        "connections": CONNECTIONS,
        "tool": tool,
        "pinned": m.PIN,
        "databases": DATABASES,
        "redis": bool(os.environ.get("REDIS_URL")),
        "log_level": first_env["LOG_LEVEL"],
        "groups": GROUPS,
        "load_average": os.getloadavg(),
    }
    result = {
        "meta": meta,
        "bare": bare,
        "results": rows,
        "twins": twins,
        "startup": startup,
        "scribe": scribe_result,
        "market": market_result,
        "server_errors": errors,
    }
    if "segmint" in GROUPS:  # its own module: no server, no database (benchmarks/segmint.py)
        from benchmarks import segmint as segmint_bench

        result["segmint"] = segmint_bench.run()
    path.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {path.relative_to(ROOT)}")
