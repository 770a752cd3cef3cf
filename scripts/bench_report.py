#!/usr/bin/env python3
"""Renders bench/RESULTS.md from bench/results.jsonl: the newest run of each
scenario and layer, beside the bare reference server's figures from its
newest run (bench/reference), against the goals of issue 17."""
import json, os, platform, subprocess, sys

results_path, out_path = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(results_path) if l.strip()]
if not rows:
    sys.exit("no results")
# The newest run of each scenario and layer (BENCH_ONLY reruns one section);
# layers no longer measured are left out.
LAYERS = ("reference", "socketioxide", "memory", "redis", "reference-pair", "memory-pair", "redis+postgres", "redis-cluster", "release", "release via nginx")
def scenario(label):
    """A ramp's label without its outcome ("(highest passing)")."""
    return label.split(" (")[0]
newest = {}
for r in rows:
    key = (r["layer"], scenario(r["label"]))
    newest[key] = max(newest.get(key, ""), r["run"])
rows = [r for r in rows if r["layer"] in LAYERS and r["run"] == newest[(r["layer"], scenario(r["label"]))]]
rows.sort(key=lambda r: (LAYERS.index(r["layer"]), r["label"]))
# (h), one big room, has a section of its own.
big_room = [r for r in rows if r["label"].startswith("h:") and r["mode"] != "ramp-step"]
rows = [r for r in rows if not r["label"].startswith("h:")]
latest_run = ", ".join(sorted(set(r["run"] for r in rows + big_room)))
reference = {scenario(r["label"]): r for r in rows
             if r["layer"] == "reference" and not r["mode"].endswith("-step")}

def vs_reference(r, key):
    """Ours / the reference's, for the same scenario."""
    ref = reference.get(scenario(r["label"]), {}).get(key)
    mine = r.get(key)
    if r["layer"] == "reference" or not ref or mine is None:
        return ""
    return f"{mine / ref:.2f}×"

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def rustc():
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"

def verdict(ok):
    return "meets" if ok else "**misses**"

lines = [
    "# Benchmark results",
    "",
    f"Run {latest_run} on {os.cpu_count()} cores ({cpu()}), {rustc()}.",
    "Server and load generator on the same machine; storage (group commit) on: SQLite in the memory and redis rows, PostgreSQL in the redis+postgres rows.",
    "Produced by `make bench` (`scripts/bench.sh`); raw lines in `bench/results.jsonl`.",
    "",
    "## Chat scenarios",
    "",
    "Ratios are ours / the bare reference's (`bench/reference`: axum + one `broadcast` per room, no storage, no accounts) in the same scenario.",
    "The socketioxide rows are the fastest peer (`bench/socketio`: socketioxide's in-memory adapter, one Socket.IO room per chat room, no storage, no accounts), driven by the same clients over Socket.IO.",
    "",
    "| scenario | layer | sent msg/s | vs ref | deliveries/s | p50 ms | p90 ms | p99 ms | vs ref | max ms | loss | dropped conns | server CPU ms / 1000 deliveries | vs ref |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]

def redis_cost(r):
    c = r.get("redis_cpu_ms_per_1000_messages")
    return "" if c is None else f"{c:.1f}"

def cpu_cost(r):
    c = r.get("cpu_ms_per_1000_deliveries")
    return "" if c is None else f"{c:.1f}"

for r in rows:
    if r["mode"] not in ("chat", "ramp") or r["layer"] in ("redis-cluster", "reference-pair", "memory-pair"):
        continue
    ceiling = vs_reference(r, "sent_per_s") if r["mode"] == "ramp" else ""
    lines.append(
        f"| {r['label']} | {r['layer']} | {r['sent_per_s']:.0f} | {ceiling} | {r['deliveries_per_s']:.0f} | "
        f"{r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {vs_reference(r, 'p99_ms')} | {r['max_ms']:.2f} | "
        f"{r['loss']} | {r['dropped_connections']} | {cpu_cost(r)} | {vs_reference(r, 'cpu_ms_per_1000_deliveries')} |"
    )
# What sets a ceiling here: the server and the load tool share the cores,
# so the highest rate is about what both can pay for per delivery.
ceilings = [r for r in rows if r["mode"] == "ramp" and r["layer"] != "redis-cluster"
            and r.get("client_cpu_ms_per_1000_deliveries") and r.get("cpu_ms_per_1000_deliveries")]
if ceilings:
    lines += [
        "",
        "### What bounds each ceiling: the cores the server and the load tool share",
        "",
        f"At the highest passing step, CPU per 1,000 deliveries. With {os.cpu_count()} cores, deliveries/s cannot pass"
        " cores × 1,000,000 / (server + load tool + Redis) ms; divided by the 10 members of a room, the messages/s bound.",
        "",
        "| layer | sent msg/s | server ms | load tool ms | Redis ms | bound msg/s | reached |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ceilings:
        server, tool = r["cpu_ms_per_1000_deliveries"], r["client_cpu_ms_per_1000_deliveries"]
        redis = (r.get("redis_cpu_secs") or 0) * 1e6 / r["delivered"] if r["delivered"] else 0
        bound = os.cpu_count() * 1e6 / (server + tool + redis) / r["clients"]
        lines.append(f"| {r['layer']} | {r['sent_per_s']:.0f} | {server:.2f} | {tool:.2f} | {redis:.2f} | "
                     f"{bound:,.0f} | {r['sent_per_s'] / bound:.0%} |")
cluster_rows = [r for r in rows if r["layer"] == "redis-cluster"]
ramps = {r.get("processes", 1): r for r in cluster_rows if r["mode"] == "ramp"}
fixed = {r.get("processes", 1): r for r in cluster_rows if r["mode"] == "chat"}
if ramps or fixed:
    lines += [
        "",
        "## Redis Cluster: ceiling and cost per delivery vs server processes",
        "",
        "Behind a local 3-primary Redis Cluster, one PostgreSQL database shared, the load tool's clients spread over the processes",
        "(every room has members on every process). On 2 cores the processes, Redis, PostgreSQL and the load tool compete for",
        "the same cores, so the ceiling cannot grow here; the cost per delivery at the same load (e: 8,000 msg/s) is what",
        "carries to machines with cores of their own.",
        "",
        "| processes | (c) highest passing msg/s | p99 ms there | (e) p99 ms at 8,000 msg/s | server CPU ms / 1000 deliveries | vs 1 process | Redis CPU ms / 1000 messages | vs 1 process |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = fixed.get(1, {})
    def ratio(r, key):
        c, b = r.get(key), base.get(key)
        return f"{c / b:.2f}×" if c and b else ""
    for n in sorted(set(ramps) | set(fixed)):
        ramp, e = ramps.get(n, {}), fixed.get(n, {})
        passed = ramp and "no step passed" not in ramp["label"]
        ceiling = f"{ramp['sent_per_s']:.0f}" if passed else ("none passed" if ramp else "")
        lines.append(
            f"| {n} | {ceiling} | {ramp.get('p99_ms', 0):.2f} | {e.get('p99_ms', 0):.2f} | {cpu_cost(e)} | "
            f"{ratio(e, 'cpu_ms_per_1000_deliveries')} | {redis_cost(e)} | {ratio(e, 'redis_cpu_ms_per_1000_messages')} |"
        )
lines += [
    "",
    "## Idle connections",
    "",
    "| scenario | layer | open | failed | server RSS growth per connection | vs ref |",
    "|---|---|---|---|---|---|",
]
for r in rows:
    if r["mode"] != "idle":
        continue
    lines.append(
        f"| {r['label']} | {r['layer']} | {r['open']} | {r['failed']} | "
        f"{r['kib_per_connection']:.2f} KiB ({r['kib_per_connection'] * 1.024:.1f} KB) | {vs_reference(r, 'kib_per_connection')} |"
    )
def mb(kib):
    return f"{kib * 1024 / 1e6:.1f}"

def section(title, intro, header, body):
    """A titled table: `header` a list of column names, `body` of rows."""
    lines.extend(["", f"## {title}", ""] + ([intro, ""] if intro else []))
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines.extend("| " + " | ".join(row) + " |" for row in body)

def tally(t, secs):
    return f"{t.get('ok', 0)} / {t.get('busy', 0)} / {t.get('failed', 0)} ({secs:.0f})"

bursts = [r for r in rows if r["mode"] == "accounts"]
if bursts:
    section("Sign-up and login burst, then idle sockets (server RSS, MB)", None,
            ["scenario", "sign-ups ok / busy / failed (s)", "logins ok / busy / failed (s)", "start",
             "after sign-ups", "after logins", "burst peak", "with idle open", "5 s after close",
             "30 s after close", "peak", "anonymous: start", "anonymous: 30 s after close"],
            [[r["label"], tally(r["signups"], r["signup_secs"]), tally(r["logins_ok"], r["login_secs"])]
             + [mb(r[k]) for k in ("rss_start_kib", "rss_after_signups_kib", "rss_after_logins_kib",
                                   "rss_burst_peak_kib", "rss_with_idle_kib", "rss_closed_5s_kib",
                                   "rss_closed_kib", "rss_peak_kib")]
             + [mb(r[k]) if k in r else "" for k in ("anon_start_kib", "anon_closed_kib")]
             for r in bursts])

# (b)'s CPU in alternating pairs (the reference, then ours, three times).
pairs = {}
for r in rows:
    if r["layer"] in ("reference-pair", "memory-pair") and r.get("cpu_ms_per_1000_deliveries"):
        pairs.setdefault(r["label"], {})[r["layer"]] = r
pair_ratios = []
pair_rows = []
for label in sorted(pairs):
    ref, ours = pairs[label].get("reference-pair"), pairs[label].get("memory-pair")
    if not (ref and ours):
        continue
    ratio = ours["cpu_ms_per_1000_deliveries"] / ref["cpu_ms_per_1000_deliveries"]
    pair_ratios.append(ratio)
    pair_rows.append([label, f"{ref['cpu_ms_per_1000_deliveries']:.2f}", f"{ours['cpu_ms_per_1000_deliveries']:.2f}",
                      f"{ratio:.2f}×", f"{ref['p99_ms']:.2f}", f"{ours['p99_ms']:.2f}"])
if pair_rows:
    section("(b) CPU per delivery in alternating pairs",
            "The reference, then ours (memory layer, SQLite), three times in a row, so that both meet the same machine;"
            " server CPU ms per 1,000 deliveries.",
            ["pair", "reference", "ours", "ours / reference", "reference p99 ms", "ours p99 ms"], pair_rows)

overloads = [r for r in rows if r["mode"] == "overload"]
if overloads:
    section("Overload: well past the ceiling (g)",
            "`/healthz` asked every 50 ms throughout; server RSS sampled every 100 ms; every client closed for lagging (4008) then reconnects.",
            ["layer", "target msg/s", "sent msg/s", "healthz p99 ms", "healthz max ms", "failed probes",
             "RSS start MB", "peak MB", "after MB", "closed for lagging", "back within 10 s"],
            [[r["layer"], f"{r['target_rate']:.0f}", f"{r['sent_per_s']:.0f}", f"{r['healthz_p99_ms']:.1f}",
              f"{r['healthz_max_ms']:.1f}", str(r["healthz_failed"]), mb(r["rss_start_kib"]),
              mb(r["rss_peak_kib"]), mb(r["rss_after_kib"]), str(r["lagged"]), str(r["rejoined"])]
             for r in overloads])

# The goals of issue 17, checked against this run.
def find(layer, label):
    """The scenario's summary row (a ramp's or overload's steps are not)."""
    return next((r for r in rows if r["layer"] == layer and scenario(r["label"]) == label
                 and not r["mode"].endswith("-step")), None)
goals = []
def goal(text, ok, figure):
    goals.append(f"| {text} | {figure} | {'' if ok is None else verdict(ok)} |")
burst = bursts[0] if bursts else None
if burst:
    peak_mb = burst["rss_peak_kib"] * 1024 / 1e6
    goal("burst + 10,000 idle: RSS < 300 MB throughout", peak_mb < 300, f"peak {peak_mb:.0f} MB")
    back = burst["rss_closed_kib"] / burst["rss_start_kib"]
    kept = mb(burst["rss_closed_kib"] - burst["rss_start_kib"])
    heap = f", of it {mb(burst['anon_closed_kib'] - burst['anon_start_kib'])} MB heap" if "anon_closed_kib" in burst else ""
    goal("after they close: within 20 % of the pre-burst RSS", back <= 1.2,
         f"{back:.2f}× the start (+{kept} MB{heap})")
idle = find("memory", "d: idle 10000")
if idle:
    kb = idle["kib_per_connection"] * 1.024
    goal("≤ 8 KB RSS per idle connection at 10,000", kb <= 8, f"{kb:.1f} KB")
for label, limit in (("a: 10x10 @1000/s", 1.5), ("b: 1x100 @200/s", 2.0)):
    r = find("memory", label)
    if r:
        goal(f"{label}: p99 ≤ {limit} ms, no loss", r["p99_ms"] <= limit and r["loss"] == 0,
             f"{r['p99_ms']:.2f} ms (reference {reference.get(label, {}).get('p99_ms', 0):.2f})")
b, ref_b = find("memory", "b: 1x100 @200/s"), reference.get("b: 1x100 @200/s")
apart = None
if b and ref_b and b.get("cpu_ms_per_1000_deliveries") and ref_b.get("cpu_ms_per_1000_deliveries"):
    apart = b["cpu_ms_per_1000_deliveries"] / ref_b["cpu_ms_per_1000_deliveries"]
if pair_ratios:
    median = sorted(pair_ratios)[len(pair_ratios) // 2]
    also = f"; {apart:.2f}× from the sections above, minutes apart" if apart else ""
    goal("b: CPU per delivery ≤ 1.3× the reference (median of the alternating pairs)", median <= 1.3,
         f"{median:.2f}× (pairs: {', '.join(f'{x:.2f}×' for x in pair_ratios)}{also})")
elif apart:
    goal("b: CPU per delivery ≤ 1.3× the reference", apart <= 1.3, f"{apart:.2f}×")
ref_c = reference.get("c: 10x10 ramp")
memory_c = find("memory", "c: 10x10 ramp")
if memory_c and ref_c:
    ratio = memory_c["sent_per_s"] / ref_c["sent_per_s"]
    goal("c: ceiling, memory layer, ≥ 70 % of the reference's", ratio >= 0.7,
         f"{memory_c['sent_per_s']:,.0f} msg/s = {ratio:.2f}× the reference")
peer_c, redis_c = find("socketioxide", "c: 10x10 ramp"), find("redis", "c: 10x10 ramp")
if redis_c and peer_c:
    ratio = redis_c["sent_per_s"] / peer_c["sent_per_s"]
    goal("c: ceiling, Redis layer + SQLite, ≥ 1.5× socketioxide's (in memory)", ratio >= 1.5,
         f"{redis_c['sent_per_s']:,.0f} msg/s = {ratio:.2f}× socketioxide's {peer_c['sent_per_s']:,.0f}")
for r in overloads:
    if r["layer"] not in ("memory", "redis"):
        continue
    grew = (r["rss_peak_kib"] - r["rss_start_kib"]) * 1024 / 1e6
    ok = r["healthz_max_ms"] <= 100 and r["healthz_failed"] == 0 and grew < 300 and r["rejoined"] == r["lagged"]
    goal(f"g: overload, {r['layer']} layer: /healthz ≤ 100 ms, RSS bounded, laggers back",
         ok, f"healthz max {r['healthz_max_ms']:.0f} ms, RSS +{grew:.0f} MB, {r['rejoined']}/{r['lagged']} back")
if big_room:
    def ms(r, key):
        v = r.get(key)
        return "" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}"
    def per_delivery(r, key):
        v = r.get(key)
        return "" if v is None else f"{v:.2f}"
    def redis_per_delivery(r):
        secs = r.get("redis_cpu_secs")
        return "" if secs is None or not r["delivered"] else f"{secs * 1e6 / r['delivered']:.2f}"
    def rss(r):
        kib = r.get("joined_rss_kib")
        return "" if kib is None else mb(kib)
    section(
        "One big room (h)",
        "One room, everyone in it posting at a share of the rate; the ramp raises it 1.25× a step until p99 passes 250 ms or a message is lost. "
        "\"all joined\": from the first connection to the last member's `user_list`, everyone joining at once (a restart's storm); \"healthz max\": the slowest `/healthz` meanwhile (asked every 50 ms). "
        "\"to all\": per message, until the last member had it. Server and Redis CPU per 1,000 deliveries at that step; RSS with everyone in (all processes).",
        ["scenario", "layer", "sent msg/s", "deliveries/s", "p50 ms", "p99 ms", "to all p50 ms", "to all p99 ms",
         "all joined ms", "healthz max ms", "loss", "server CPU ms / 1000", "Redis CPU ms / 1000", "server RSS MB"],
        [[r["label"], r["layer"], f"{r['sent_per_s']:.0f}", f"{r['deliveries_per_s']:,.0f}", ms(r, "p50_ms"), ms(r, "p99_ms"),
          ms(r, "to_all_p50_ms"), ms(r, "to_all_p99_ms"), ms(r, "joined_all_ms"), ms(r, "joining_healthz_max_ms"), str(r["loss"]),
          per_delivery(r, "cpu_ms_per_1000_deliveries"), redis_per_delivery(r), rss(r)] for r in big_room],
    )
pages = [r for r in rows if r["mode"] == "pages"]
if pages:
    floor = {r["label"]: r for r in pages if r["layer"] == "reference"}
    def vs_floor(r, key):
        ref = floor.get(r["label"], {}).get(key)
        return "" if r["layer"] == "reference" or not ref else f"{r[key] / ref:.2f}×"
    def server_ms(r):
        v = r.get("server_cpu_ms_per_1000_requests")
        return "" if v is None else f"{v:.0f}"
    section(
        "Pages (p)",
        "Server-rendered pages for a visitor (the lobby; a room holding 50 messages, whose log then comes over the socket), 16 clients each on one kept-alive connection, "
        "requests back to back; the reference serves the very same bytes from memory. No compression unless the label says so.",
        ["page", "layer", "requests/s", "vs ref", "p50 ms", "p99 ms", "kB each", "server CPU ms / 1000 requests"],
        [[r["label"], r["layer"], f"{r['requests_per_s']:,.0f}", vs_floor(r, "requests_per_s"), f"{r['p50_ms']:.2f}",
          f"{r['p99_ms']:.2f}", f"{r['kb_per_request']:.1f}", server_ms(r)] for r in pages],
    )
first_load = [r for r in rows if r["mode"] == "lighthouse"]
if first_load:
    section(
        "First load (Lighthouse, mobile profile)",
        f"Lighthouse {first_load[0]['lighthouse']} (`bench/lighthouse`, pinned) against the release build served by the release binary "
        "(`scripts/lighthouse.sh`), directly and through the nginx recipe (`deploy/nginx-chat.conf`, TLS): simulated slow 4G "
        "and a 4× slower CPU, an empty cache. Goal: performance ≥ 90, LCP ≤ 2.5 s.",
        ["page", "served", "performance", "FCP s", "LCP s", "total blocking time ms", "transferred KiB"],
        [[r["label"].removeprefix("first load: "), r["layer"], str(r["performance"]), f"{r['fcp_ms'] / 1000:.1f}", f"{r['lcp_ms'] / 1000:.1f}",
          f"{r['tbt_ms']:.0f}", f"{r['transfer_kib']:.0f}"] for r in first_load],
    )
if goals:
    lines += ["", "## Goals (issue 17)", "", "| goal | this run | |", "|---|---|---|"] + goals
# What limits each figure, and what was tried, is kept by topic in
# NOTES.md, linked rather than copied: one copy of each finding.
lines += ["", "What limits each figure, what was tried and what was kept: [NOTES.md](NOTES.md)."]
open(out_path, "w").write("\n".join(lines) + "\n")
