"""What a run prints: the load table, start-up, scribe, and the server's unhandled errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any


def _times_bare(row: dict[str, Any], bare_cpu: float | None) -> str:
    if not row.get("cpu_ms") or not bare_cpu:
        return "-"
    return f"{row['cpu_ms'] / bare_cpu:.1f}x"


def print_table(bare: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    bare_cpu = (bare.get("/health") or {}).get("cpu_ms")
    print(
        f"\n{'db':<9}{'group':<8}{'endpoint':<44} {'rps':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'cpu ms/req':>10} {'x bare':>7} {'non-2xx':>7}"
    )
    for path, ref in bare.items():
        print(
            f"{'-':<9}{'bare':<8}{'litestar hello world GET ' + path:<44} {ref['rps']:>7.0f} "
            f"{ref['p50_ms'] or 0:>7.2f} {ref['p99_ms'] or 0:>7.2f} {ref.get('cpu_ms') or 0:>10.3f} "
            f"{_times_bare(ref, bare_cpu):>7} {ref['errors']:>7}"
        )
    for row in rows:
        label = f"{row['name']}"[:44]
        db = row.get("database", "-")
        if "skipped" in row:
            print(f"{db:<9}{row['group']:<8}{label:<44} not measured: {row['skipped']}")
            continue
        print(
            f"{db:<9}{row['group']:<8}{label:<44} {row['rps']:>7.0f} {row['p50_ms'] or 0:>7.2f} "
            f"{row['p99_ms'] or 0:>7.2f} {row.get('cpu_ms') or 0:>10.3f} {_times_bare(row, bare_cpu):>7} "
            f"{row['errors']:>7}"
        )
        if row.get("non_2xx_by_status"):
            print(f"{'':<16}  non-2xx by status: {row['non_2xx_by_status']}")
        if row.get("drain_s", 0) > 1:
            print(f"{'':<16}  the server needed {row['drain_s']} s more to finish the requests still queued")


def print_startup(startup: dict[str, Any]) -> None:
    if "skipped" in startup:
        print(f"\nstart-up: not measured: {startup['skipped']}")
        return
    runs = ", ".join(f"{r['cpu_s']}/{r['wall_s']}/{r['rss_mb']}" for r in startup["runs"])
    print(
        f"\nstart-up to the first 200 on /health ({len(startup['runs'])} runs, all apps, "
        f"{startup['database']}, bytecode {startup.get('bytecode', 'compiled')}): "
        f"median CPU {startup['cpu_s']} s, wall {startup['wall_s']} s, RSS {startup['rss_mb']} MB "
        f"(cpu s/wall s/RSS MB per run: {runs})"
    )


def server_errors(log: Path) -> dict[str, int]:
    """Unhandled errors in the server's JSON log, by route and the exception's last line."""
    errors: Counter[str] = Counter()
    if not log.exists():
        return {}
    with log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if '"unhandled_error"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            last = (entry.get("exception") or "").strip().splitlines()[-1:] or ["?"]
            errors[f"{entry.get('path', '?')}: {last[0][:160]}"] += 1
    return dict(errors.most_common())


def print_scribe(scribe: dict[str, Any]) -> None:
    if "skipped" in scribe:
        print(f"\nscribe: not measured: {scribe['skipped']}")
        return
    print(f"\n{'scribe engine':<20} {'audio s':>8} {'took s':>8} {'RTF':>7} {'words':>6}")
    for row in scribe["engines"]:
        if "skipped" in row:
            print(f"{row['engine']:<20} not measured: {row['skipped']}")
        else:
            print(
                f"{row['engine']:<20} {row['audio_s']:>8} {row['processing_s']:>8.2f} "
                f"{row['realtime_factor']:>7.3f} {row['words']:>6}"
            )
    if "wer" in scribe:
        from benchmarks import scribe_wer

        scribe_wer.print_table(scribe["wer"])
    from benchmarks import scribe as scribe_bench

    scribe_bench.print_media_tables(scribe)  # speaker turns, the 60-minute file
    up = scribe["upload"]
    if "skipped" in up:
        print(f"upload: not measured: {up['skipped']}")
        return
    print(
        f"upload {up['bytes'] / 1024**3:.1f} GB (multipart, streamed): HTTP {up['status']}, "
        f"{up['seconds']} s, "
        f"{up['mb_per_s']} MB/s; server RSS idle {up['idle_rss_mb']} MB, peak {up['peak_rss_mb']} MB "
        f"(+{up['peak_over_idle_mb']} MB over idle)"
    )
