"""The page model as one self-contained HTML document (inline CSS and SVG, no scripts, no external assets).

Pure: model in, text out. The markup lives in templates/rollouts_*.html, rendered with
autoescaping (patchflow.core.html_templates); this module works out only the drawings' geometry.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from patchflow.core.html_templates import render_template, template_macros

TONE_COLOURS = {
    "ok": ("#dafbe1", "#1a7f37"),
    "bad": ("#ffebe9", "#cf222e"),
    "active": ("#ddf4ff", "#0969da"),
    "idle": ("#f6f8fa", "#6e7781"),
}
BAR_COLOURS = {"compliant": "#2da44e", "non_compliant": "#cf222e", "no_data": "#afb8c1"}
BAR_LEGEND = (("compliant", BAR_COLOURS["compliant"]), ("non-compliant", BAR_COLOURS["non_compliant"]), ("no data", BAR_COLOURS["no_data"]))
# A stage's state -> the colour family of its pill in a run's table
STATE_TONES = {"promoted": "ok", "blocked": "bad", "failed": "bad", "stopped": "bad", "running": "active", "waiting": "active"}
PROMOTION_BOX_WIDTH, PROMOTION_BOX_HEIGHT, PROMOTION_GAP = 150, 58, 44


def promotion_layout(path: Sequence[Mapping]) -> dict:
    """Where the promotion path's boxes and arrows go: one box per stage, left to right, coloured by its tone."""
    box_w, box_h, gap = PROMOTION_BOX_WIDTH, PROMOTION_BOX_HEIGHT, PROMOTION_GAP
    boxes = []
    for index, stage in enumerate(path):
        x = 2 + index * (box_w + gap)
        tone = stage.get("tone", "idle")
        fill, stroke = TONE_COLOURS.get(tone, TONE_COLOURS["idle"])
        arrow = {"x1": x + box_w + 3, "x2": x + box_w + gap - 3} if index < len(path) - 1 else None
        boxes.append({"x": x, "centre": x + box_w / 2, "tone": tone, "fill": fill, "stroke": stroke, "arrow": arrow})
    return {
        "width": max(1, len(path)) * box_w + max(0, len(path) - 1) * gap + 4,
        "height": box_h + 4,
        "box_width": box_w,
        "box_height": box_h,
        "arrow_y": box_h / 2 + 2,
        "boxes": boxes,
    }


def bar_layout(bar: Mapping, width: int = 220, height: int = 14) -> dict:
    """The stacked compliance bar's segments (compliant, non-compliant, no data), each as wide as its share."""
    segments = []
    x = 0.0
    for key in ("compliant", "non_compliant", "no_data"):
        share = float(bar.get(key, 0.0))
        if share <= 0:
            continue
        w = round(width * share / 100.0, 2)
        segments.append({"key": key, "x": round(x, 2), "width": w, "colour": BAR_COLOURS[key]})
        x += w
    return {"width": width, "height": height, "segments": segments}


def path_caption(path: Sequence[Mapping]) -> str:
    return " -> ".join(f"{stage['name']} {stage['label']}" for stage in path)


def promotion_svg(path: Sequence[Mapping], *, title: str = "") -> str:
    """dev -> test -> prod as boxes and arrows, each box coloured by the stage's state."""
    return str(template_macros("rollouts_svg.html").promotion_path(path, promotion_layout(path), title or "promotion path"))


def compliance_bar(group: Mapping, *, width: int = 220, height: int = 14) -> str:
    """A stacked bar: compliant, non-compliant, no data; a grey outline when the group is empty."""
    return str(template_macros("rollouts_svg.html").compliance_bar(group, bar_layout(group["bar"], width, height)))


def render_page(model: Mapping) -> str:
    return render_template(
        "rollouts_page.html",
        model=model,
        promotion_layout=promotion_layout,
        path_caption=path_caption,
        bar_layout=bar_layout,
        bar_legend=BAR_LEGEND,
        state_tones=STATE_TONES,
    )


def render_message_page(title: str, detail: str, action: str, *, level: str = "error", links: Sequence[tuple[str, str]] = ()) -> str:
    """A whole page that says one thing and what to do about it (login needed, no permission, unknown run)."""
    return render_template("rollouts_message.html", title=title, detail=detail, action=action, level=level, links=links)
