"""The two SVG charts of docs/performance.md, drawn from a run's results."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from bench.tables import TARGET_COST_PER_MILLION_READINGS, by_kind, money, ratio_text


def _svg(width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def cold_start_chart(results: dict[str, Any]) -> str:
    cold = by_kind(results)
    left, width, row = 330, 420, 50
    top = 40
    scale = width / max(
        max(c["initMs"], c["referenceMs"] * c["targetToReference"], c["floorMs"]) for _, c in cold
    )
    height = top + row * len(cold) + 40
    legend = [
        ("function", "#4e79a7", 0),
        ("its kind's reference", "#f28e2b", 90),
        ("floor (boto3 + client)", "#bab0ac", 250),
    ]
    body = [
        f'<text x="{left}" y="18" font-weight="bold">Cold start: function vs its reference and the floor (median ms)</text>'
    ]
    for label, colour, x in legend:
        body.append(
            f'<rect x="{left + x}" y="24" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + x + 14}" y="33">{label}</text>'
        )
    body.append(
        f'<line x1="{left + 410}" y1="29" x2="{left + 430}" y2="29" stroke="#e15759" stroke-width="2"/>'
        f'<text x="{left + 434}" y="33">target</text>'
    )
    for index, (name, c) in enumerate(cold):
        y = top + index * row
        body.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        for offset, height_px, ms, colour in [
            (4, 14, c["initMs"], "#4e79a7"),
            (20, 10, c["referenceMs"], "#f28e2b"),
            (32, 8, c["floorMs"], "#bab0ac"),
        ]:
            body.append(
                f'<rect x="{left}" y="{y + offset}" width="{ms * scale:.1f}" height="{height_px}" fill="{colour}"/>'
            )
        target_ms = c["referenceMs"] * c["targetToReference"]
        target_x = left + target_ms * scale
        body.append(
            f'<line x1="{target_x:.1f}" y1="{y + 1}" x2="{target_x:.1f}" y2="{y + 42}" stroke="#e15759" stroke-width="2"/>'
        )
        label_x = left + max(c["initMs"], target_ms) * scale + 6
        ratio = ratio_text(c["ratioToReference"], c["targetToReference"])
        body.append(
            f'<text x="{label_x:.1f}" y="{y + 16}">{c["initMs"]:.0f} ms, '
            f"x{ratio} of its reference (≤ {c['targetToReference']:.2f})</text>"
        )
    return _svg(left + width + 260, height, body)


def cost_chart(results: dict[str, Any]) -> str:
    model = results["costModel"]
    designs = list(model["readings"].items())
    iot = model.get("iotCoreTransportOnly")
    if iot:
        label = f"AWS IoT Core, transport only ({iot['readingsPerMessage']} readings per message)"
        designs.append((label, {"total": iot["total"], "comparison": True}))
    left, width, row, top = 330, 380, 34, 50
    totals = [design["total"] for _, design in designs]
    low = 10 ** math.floor(math.log10(min(*totals, TARGET_COST_PER_MILLION_READINGS)))
    high = 10 ** math.ceil(math.log10(max(totals)))

    def x(value: float) -> float:
        return left + width * (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))

    body = [
        f'<text x="{left}" y="18" font-weight="bold">Dollars per million readings, all in (log scale)</text>'
    ]
    decade = low
    while decade <= high * 1.0001:
        body.append(
            f'<line x1="{x(decade):.1f}" y1="{top - 6}" x2="{x(decade):.1f}" y2="{top + row * len(designs)}" stroke="#ddd"/>'
        )
        body.append(
            f'<text x="{x(decade):.1f}" y="{top + row * len(designs) + 16}" text-anchor="middle">${decade:g}</text>'
        )
        decade *= 10
    target = x(TARGET_COST_PER_MILLION_READINGS)
    body.append(
        f'<line x1="{target:.1f}" y1="{top - 10}" x2="{target:.1f}" y2="{top + row * len(designs)}" '
        f'stroke="#e15759" stroke-width="2"/><text x="{target + 4:.1f}" y="{top - 12}" fill="#e15759">target</text>'
    )
    for index, (name, design) in enumerate(designs):
        y = top + index * row
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(name)}</text>')
        body.append(
            f'<rect x="{left}" y="{y + 5}" width="{x(design["total"]) - left:.1f}" height="18" '
            f'fill="{"#bab0ac" if design.get("comparison") else "#4e79a7"}"/>'
        )
        body.append(f'<text x="{x(design["total"]) + 6:.1f}" y="{y + 18}">{money(design["total"])}</text>')
    return _svg(left + width + 110, top + row * len(designs) + 30, body)
