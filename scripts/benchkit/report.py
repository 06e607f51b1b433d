"""The summary: the headline figures the targets talk about, the verdicts, the table printed on
stderr, and the plot of mutual_rooms latency against R."""

from __future__ import annotations

import json
from typing import Any

from .common import TARGETS, log


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the targets talk about, pulled out of the detailed results."""
    h: dict[str, Any] = {}

    def get(*path):
        node: Any = results
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def ms_to_s(v):
        return None if v is None else v / 1000

    h["cold_start_empty_s"] = ms_to_s(get("1_cold_start", "empty", "median_ms"))
    h["cold_start_seeded_s"] = ms_to_s(get("1_cold_start", "seeded", "median_ms"))
    h["cold_start_seeded_rss_mib"] = get("1_cold_start", "seeded", "rss_mib_max")
    h["register_login_production_ms"] = get("3_register_login", "production", "median_ms") or get(
        "3_register_login", "remote", "median_ms")
    h["register_login_testing_ms"] = get("3_register_login", "testing", "median_ms")
    h["create_room_per_s"] = get("4_create_room", "production", "rooms_per_s") or get(
        "4_create_room", "remote", "rooms_per_s")
    h["join_leave_ops_per_s"] = get("5_join_leave", "production", "ops_per_s") or get(
        "5_join_leave", "remote", "ops_per_s")
    h["mutual_after_change_1000_200_ms"] = get("6_mutual_rooms", "R1000_S200", "first_page_after_change", "median_ms")
    h["mutual_first_page_10000_5000_ms"] = get("6_mutual_rooms", "R10000_S5000", "first_page_after_change", "median_ms")
    paired = get("8_ceiling", "paired_with_mutual_R1000_S200")
    if paired:
        h["mutual_vs_ceiling_ratio"] = paired["rps_ratio_b_over_a_median"]
        h["mutual_vs_ceiling_cpu_ratio"] = paired.get("server_cpu_ratio_a_over_b_median")
    else:
        mutual_rps = get("6_mutual_rooms", "R1000_S200", "first_page_steady", "rps")
        ceiling_rps = get("8_ceiling", "rps")
        h["mutual_vs_ceiling_ratio"] = (
            round(mutual_rps / ceiling_rps, 3) if mutual_rps and ceiling_rps else None
        )
        mutual_cpu = get("6_mutual_rooms", "R1000_S200", "first_page_steady", "server_cpu_us_per_request")
        ceiling_cpu = get("8_ceiling", "server_cpu_us_per_request")
        h["mutual_vs_ceiling_cpu_ratio"] = (
            round(ceiling_cpu / mutual_cpu, 3) if mutual_cpu and ceiling_cpu else None
        )
    other = get("8_ceiling", "paired_with_mutual_R1000_S200_vs_asyncio_ceiling")
    if other:  # minihs on uvloop against the bare endpoint on asyncio's loop: for scale only
        h["mutual_vs_asyncio_ceiling_ratio"] = other["rps_ratio_b_over_a_median"]
    h["ceiling_loop"] = get("8_ceiling", "loop")
    h["rss_after_1000_mib"] = get("7_memory", "after_R1000_S200_mib")
    return h


def verdicts(h: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, (op, target, synapse) in TARGETS.items():
        value = h.get(key)
        ok = None
        if value is not None:
            ok = {"<": value < target, ">": value > target, ">=": value >= target}[op]
        rows.append({"figure": key, "measured": value, "target": f"{op} {target:g}",
                     "synapse": synapse, "meets": ok})
    return rows


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(summary: dict[str, Any]) -> str:
    lines = []
    m = summary["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
                 f"aiohttp {m['aiohttp']}, SQLite {m['sqlite']}, load at start {m['loadavg_at_start']}")
    lines.append("")
    lines.append(f"{'figure':38} {'measured':>12} {'target':>10} {'meets':>6}  synapse")
    for row in summary["targets"]:
        meets = {True: "yes", False: "NO", None: "-"}[row["meets"]]
        lines.append(f"{row['figure']:38} {fmt(row['measured']):>12} {row['target']:>10} {meets:>6}  {row['synapse']}")
    r = summary["results"]
    if "2_in_process" in r and "start" in r["2_in_process"]:
        f2 = r["2_in_process"]
        lines.append("")
        lines.append(f"MinihsServer: start median {fmt(f2['start']['median_ms'])} ms p95 {fmt(f2['start']['p95_ms'])} ms; "
                     f"reset median {fmt(f2['reset']['median_ms'])} ms p95 {fmt(f2['reset']['p95_ms'])} ms; "
                     f"first start incl. import {fmt(f2.get('first_start_with_import_ms'))} ms")
    if "6_mutual_rooms" in r:
        lines.append("")
        lines.append(f"{'mutual_rooms':14} {'1st page ms':>16} {'walk ms':>18} {'pages':>5} {'req/s':>8} "
                     f"{'srv us/req':>10} {'small ms':>9} {'RSS MiB':>13}")
        for key, s in r["6_mutual_rooms"].items():
            if "first_page_after_change" not in s:
                lines.append(f"{key:14} {s.get('skipped', '')}")
                continue
            f = s["first_page_after_change"]
            w = s.get("full_walk_after_change", {})
            st = s["first_page_steady"]
            small = s.get("small_partner", {}).get("first_page_after_change", {}).get("median_ms")
            lines.append(
                f"{key:14} {fmt(f['median_ms']):>7} p95 {fmt(f['p95_ms']):>6} "
                f"{fmt(w.get('median_ms')):>8} p95 {fmt(w.get('p95_ms')):>6} {fmt(w.get('pages')):>5} "
                f"{fmt(st['rps']):>8} {fmt(st.get('server_cpu_us_per_request')):>10} {fmt(small):>9} "
                f"{fmt(s.get('rss_after_start_mib')):>6}/{fmt(s.get('rss_after_benchmark_mib')):>6}")
    if "8_ceiling" in r:
        c = r["8_ceiling"]
        lines.append("")
        for loop, lc in c.get("by_loop", {c.get("loop", "asyncio"): c}).items():
            lines.append(f"ceiling (bare aiohttp on {loop}): {fmt(lc['rps'])} req/s over {lc['connections']} "
                         f"connections, server {fmt(lc.get('server_cpu_us_per_request'))} us/req; one client "
                         f"median {fmt(lc['one_client']['median_ms'])} ms")
        for key, pr in c.items():
            if not key.startswith("paired_with_mutual_R1000_S200"):
                continue
            versus = key.rpartition("_vs_")[2].replace("_ceiling", "") if "_vs_" in key else c.get("loop", "asyncio")
            lines.append(f"  alternating rounds, mutual_rooms R1000 S200 / ceiling on {versus}: req/s ratio "
                         f"{fmt(pr['rps_ratio_b_over_a_median'])} (median of {pr['rounds']}), server CPU "
                         f"{fmt(pr.get('server_cpu_us_b_median'))} vs {fmt(pr.get('server_cpu_us_a_median'))} us/req "
                         f"(ratio {fmt(pr.get('server_cpu_ratio_a_over_b_median'))}); one client "
                         f"{fmt(pr['one_client_median_ms_b'])} vs {fmt(pr['one_client_median_ms_a'])} ms")
    if "7_memory" in r:
        lines.append(f"memory: {json.dumps(r['7_memory'])}")
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: str) -> None:
    """mutual_rooms latency against R (log-log). matplotlib is imported only here."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [v for v in summary["results"].get("6_mutual_rooms", {}).values()
            if "first_page_after_change" in v]
    if not rows:
        log("nothing to plot: no mutual_rooms scenario ran")
        return
    rows.sort(key=lambda v: v["rooms_each"])
    xs = [v["rooms_each"] for v in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    series = [
        ("first page after a change (A,B)", [v["first_page_after_change"]["median_ms"] for v in rows], "o-"),
        ("full walk after a change (A,B)", [v.get("full_walk_after_change", {}).get("median_ms") for v in rows], "s-"),
        ("first page, steady, one client", [v["first_page_steady"]["one_client"]["median_ms"] for v in rows], "^--"),
        ("first page after a change (A,C: C in 100 rooms)",
         [v.get("small_partner", {}).get("first_page_after_change", {}).get("median_ms") for v in rows], "d:"),
    ]
    for label, ys, style in series:
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], style, label=label)
    for v in rows:
        ax.annotate(f"S={v['shared']}", (v["rooms_each"], v["first_page_after_change"]["median_ms"]),
                    textcoords="offset points", xytext=(4, -12), fontsize=7)
    ceiling = summary["results"].get("8_ceiling", {}).get("one_client", {}).get("median_ms")
    if ceiling:
        ax.axhline(ceiling, color="grey", linewidth=0.8, linestyle="-.", label="bare aiohttp ceiling")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("R: rooms each user is in")
    ax.set_ylabel("median latency (ms)")
    m = summary["machine"]
    ax.set_title(f"minihs mutual_rooms latency vs R ({m['cores']} cores, Python {m['python']})", fontsize=9)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    log(f"plot written to {path}")
