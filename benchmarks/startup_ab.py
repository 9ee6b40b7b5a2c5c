"""Start-up of `keel serve` from two (or more) source trees, cold starts alternating (ABBA order) so a
machine whose load drifts affects every tree alike: CPU and wall seconds to the first 200 on /health
and RSS at that moment, as the bench's start-up group measures them (same server environment).

    python -m benchmarks.startup_ab [--runs 5] [--database postgres|sqlite] [--from-source] \
        before=/tmp/base/src after=src

Each tree is a `src` folder (e.g. `git archive <commit> src | tar -x -C /tmp/base`); it is byte-compiled
first, as an installed server is (`--from-source` removes the trees' `__pycache__` folders instead, and
with PYTHONDONTWRITEBYTECODE=1 every start compiles Keel's modules). Prints one line per tree and writes
var/bench/startup-ab-<time>.json.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import measure as m
from benchmarks.run.config import BIN, OUT, ROOT, database_url, free_port, server_env


def compare(trees: dict[str, Path], runs: int, database: str, *, from_source: bool = False) -> dict[str, Any]:
    for src in trees.values():
        if from_source:
            for cache in sorted((src / "keel").rglob("__pycache__")):
                shutil.rmtree(cache)
        else:
            compileall.compile_dir(str(src / "keel"), quiet=1, workers=1)
    env = server_env(database_url(database))
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for i in range(runs):
        order = list(trees.items()) if i % 2 == 0 else list(reversed(trees.items()))
        for name, src in order:
            port = free_port()
            cmd = [*m.server_prefix(), str(BIN / "keel"), "serve", "--workers", "1", "--port", str(port)]
            tree_env = dict(env, PYTHONPATH=str(src))
            samples[name].append(m.first_200(cmd, tree_env, port, OUT / f"startup-ab-{name}.log", ROOT))
    return {
        name: {
            "src": str(trees[name]),
            "cpu_s": statistics.median(s["cpu_s"] for s in runs_),
            "wall_s": statistics.median(s["wall_s"] for s in runs_),
            "rss_mb": statistics.median(s["rss_mb"] for s in runs_),
            "runs": runs_,
        }
        for name, runs_ in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--from-source", action="store_true", help="no bytecode: compile at every start")
    parser.add_argument("trees", nargs="+", metavar="name=src")
    args = parser.parse_args()
    trees = {name: Path(src).resolve() for name, src in (t.split("=", 1) for t in args.trees)}
    OUT.mkdir(parents=True, exist_ok=True)
    results = compare(trees, args.runs, args.database, from_source=args.from_source)
    load = os.getloadavg()
    for name, r in results.items():
        per_run = ", ".join(f"{s['cpu_s']}/{s['wall_s']}/{s['rss_mb']}" for s in r["runs"])
        print(
            f"{name}: median CPU {r['cpu_s']} s, wall {r['wall_s']} s, RSS {r['rss_mb']} MB "
            f"(cpu s/wall s/RSS MB per run: {per_run})"
        )
    print(f"bytecode: {'from source' if args.from_source else 'compiled'}")
    print(f"load average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    out = OUT / f"startup-ab-{time.strftime('%Y%m%dT%H%M%S')}.json"
    bytecode = "from source" if args.from_source else "compiled"
    report = {"database": args.database, "bytecode": bytecode, "load": load, "trees": results}
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
