#!/usr/bin/env python3
"""Draws bench/run's summary as an SVG bar chart (no dependencies).

    python3 bench/chart.py bench/results/<stamp>.json docs/bench.svg
"""

import json
import sys
from xml.sax.saxutils import escape

COLORS = {"sockeye": "#e4572e", "socketioxide": "#4c72b0", "node": "#55a868"}
ORDER = ["echo", "echo_p99", "echo_cpu", "fanout", "fanout_cpu", "fanout_recovery", "cluster_fanout",
         "cluster_fanout_p99", "binary", "polling", "polling_cpu",
         "connect", "rss_10k", "rss_19k", "rss_large"]


def number(value, unit):
    if unit in ("ms", "KiB", "µs", "ns", "us"):
        return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return f"{value:,.0f}".replace(",", " ")


def render(summary, servers, meta):
    keys = [k for k in ORDER if k in summary and summary[k]["servers"]]
    panel_h = 26 + 20 * len(servers) + 14
    width, left, bar_w = 760, 250, 380
    height = 88 + panel_h * len(keys) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        '<text x="16" y="26" font-size="17" font-weight="bold">Sockeye vs Node socket.io 4.8 vs '
        'socketioxide 0.18</text>',
        f'<text x="16" y="46" fill="#555">{escape(meta.get("machine", ""))}</text>',
        f'<text x="16" y="62" fill="#555">server pinned to one core, load generator to the other, '
        f'loopback; median of {meta.get("runs", "?")} runs of {meta.get("duration_s", "?")} s '
        f'({escape(str(meta.get("date", "")))})</text>',
    ]
    x_legend = 16
    for server in servers:
        out.append(f'<rect x="{x_legend}" y="72" width="10" height="10" '
                   f'fill="{COLORS.get(server, "#999")}"/>')
        out.append(f'<text x="{x_legend + 14}" y="81">{escape(server)}</text>')
        x_legend += 110
    y = 96
    for key in keys:
        row = summary[key]
        better = "higher is better" if row["higher_is_better"] else "lower is better"
        out.append(f'<text x="16" y="{y + 14}" font-weight="bold">{escape(row["label"])}</text>')
        out.append(f'<text x="16" y="{y + 30}" fill="#777">{escape(row["unit"])}, {better}</text>')
        top = max(cell["max"] for cell in row["servers"].values()) or 1.0
        by = y + 4
        for server in servers:
            cell = row["servers"].get(server)
            color = COLORS.get(server, "#999")
            if cell:
                w = max(1.0, bar_w * cell["median"] / top)
                lo = bar_w * cell["min"] / top
                hi = bar_w * cell["max"] / top
                out.append(f'<rect x="{left}" y="{by}" width="{w:.1f}" height="14" fill="{color}"/>')
                out.append(f'<line x1="{left + lo:.1f}" x2="{left + hi:.1f}" y1="{by + 7}" '
                           f'y2="{by + 7}" stroke="#222" stroke-width="1"/>')
                out.append(f'<text x="{left + max(w, hi) + 6:.1f}" y="{by + 11}">'
                           f'{number(cell["median"], row["unit"])}</text>')
            else:
                out.append(f'<text x="{left}" y="{by + 11}" fill="#999">{escape(server)}: -</text>')
            by += 20
        y += panel_h
    out.append(f'<text x="16" y="{height - 12}" fill="#777">bars: medians; black lines: min to '
               'max over the runs. Made by bench/run.</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        data = json.load(f)
    servers = [s for s in ["sockeye", "socketioxide", "node"]
               if any(s in row["servers"] for row in data["summary"].values())]
    with open(sys.argv[2], "w") as f:
        f.write(render(data["summary"], servers, data["meta"]))
