"""The page model as one self-contained HTML document (inline CSS and SVG, no scripts, no external assets).

Pure: text in, text out. Every value from the model is escaped here.
"""
from __future__ import annotations

import html
from typing import Mapping, Sequence

TONE_COLOURS = {
    "ok": ("#dafbe1", "#1a7f37"),
    "bad": ("#ffebe9", "#cf222e"),
    "active": ("#ddf4ff", "#0969da"),
    "idle": ("#f6f8fa", "#6e7781"),
}
BAR_COLOURS = {"compliant": "#2da44e", "non_compliant": "#cf222e", "no_data": "#afb8c1"}

CSS = """
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:20px 24px;color:#1f2328;background:#fff;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:0}
.meta{color:#59636e;font-size:12px}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border-bottom:1px solid #d8dee4;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;font-size:12px;color:#424a53}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.notice{border-left:4px solid;padding:8px 12px;margin:10px 0;border-radius:4px}
.notice.error{border-color:#cf222e;background:#ffebe9}.notice.warning{border-color:#bf8700;background:#fff8c5}
.notice.info{border-color:#0969da;background:#ddf4ff}
.notice .action{margin-top:4px}
.pill{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600}
.tone-ok{background:#dafbe1;color:#1a7f37}.tone-bad{background:#ffebe9;color:#cf222e}
.tone-active{background:#ddf4ff;color:#0969da}.tone-idle{background:#f6f8fa;color:#59636e}
.gate-PASS{color:#1a7f37;font-weight:600}.gate-BLOCK,.gate-ERROR{color:#cf222e;font-weight:600}
.run{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:12px 0}
.run header{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
.reasons{margin:2px 0 0 0;padding-left:18px;color:#424a53}
.waves{margin:4px 0 0 0;padding-left:0;list-style:none;font-size:13px}
.muted{color:#6e7781}.warn{color:#9a6700}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
a{color:#0969da}
.legend span{margin-right:12px}.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}
.paths{display:flex;flex-direction:column;gap:6px}
"""

e = html.escape


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pill(text: str, tone: str) -> str:
    return f"<span class='pill tone-{_attr(tone)}'>{e(text)}</span>"


def promotion_svg(path: Sequence[Mapping], *, title: str = "") -> str:
    """dev -> test -> prod as boxes and arrows, each box coloured by the stage's state."""
    box_w, box_h, gap = 150, 58, 44
    width = max(1, len(path)) * box_w + max(0, len(path) - 1) * gap + 4
    parts = [
        f"<svg role='img' aria-label='{_attr(title or 'promotion path')}' width='{width}' height='{box_h + 4}' "
        f"viewBox='0 0 {width} {box_h + 4}' xmlns='http://www.w3.org/2000/svg'>",
        f"<title>{e(title or 'promotion path')}</title>",
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' orient='auto'>"
        "<path d='M0,0 L10,5 L0,10 z' fill='#6e7781'/></marker></defs>",
    ]
    for index, stage in enumerate(path):
        x = 2 + index * (box_w + gap)
        fill, stroke = TONE_COLOURS.get(stage.get("tone", "idle"), TONE_COLOURS["idle"])
        parts.append(
            f"<g class='stage stage-{_attr(stage.get('tone', 'idle'))}' data-stage='{_attr(stage['name'])}' data-state='{_attr(stage['state'])}'>"
            f"<rect x='{x}' y='2' width='{box_w}' height='{box_h}' rx='8' fill='{fill}' stroke='{stroke}' stroke-width='2'/>"
            f"<text x='{x + box_w / 2}' y='22' text-anchor='middle' font-size='14' font-weight='700' fill='#1f2328'>{e(stage['name'])}</text>"
            f"<text x='{x + box_w / 2}' y='38' text-anchor='middle' font-size='11' fill='#59636e'>group {e(stage.get('patch_group') or '-')}</text>"
            f"<text x='{x + box_w / 2}' y='53' text-anchor='middle' font-size='12' font-weight='600' fill='{stroke}'>{e(stage['label'])}</text>"
            "</g>"
        )
        if index < len(path) - 1:
            x1, x2 = x + box_w + 3, x + box_w + gap - 3
            parts.append(f"<line x1='{x1}' y1='{box_h / 2 + 2}' x2='{x2}' y2='{box_h / 2 + 2}' stroke='#6e7781' stroke-width='2' marker-end='url(#arrow)'/>")
    parts.append("</svg>")
    return "".join(parts)


def compliance_bar(group: Mapping, *, width: int = 220, height: int = 14) -> str:
    """A stacked bar: compliant, non-compliant, no data; a grey outline when the group is empty."""
    bar = group["bar"]
    label = f"{group['compliant']} of {group['instances']} compliant"
    parts = [
        f"<svg role='img' aria-label='{_attr(label)}' width='{width}' height='{height}' viewBox='0 0 {width} {height}' xmlns='http://www.w3.org/2000/svg'>",
        f"<title>{e(label)}; {group['non_compliant']} non-compliant; {group['no_data']} without data</title>",
        f"<rect x='0' y='0' width='{width}' height='{height}' rx='3' fill='#f6f8fa' stroke='#d0d7de'/>",
    ]
    x = 0.0
    for key in ("compliant", "non_compliant", "no_data"):
        share = float(bar.get(key, 0.0))
        if share <= 0:
            continue
        w = round(width * share / 100.0, 2)
        parts.append(f"<rect class='bar-{key}' x='{round(x, 2)}' y='0' width='{w}' height='{height}' fill='{BAR_COLOURS[key]}'/>")
        x += w
    parts.append("</svg>")
    return "".join(parts)


def _notices(notices: Sequence[Mapping]) -> str:
    out = []
    for notice in notices:
        out.append(
            f"<div class='notice {_attr(notice['level'])}' data-kind='{_attr(notice['kind'])}' data-source='{_attr(notice['source'])}'>"
            f"<strong>{e(notice['title'])}</strong><div>{e(notice['detail'])}</div>"
            f"<div class='action'>What to do: {e(notice['action'])}</div></div>"
        )
    return "".join(out)


def _groups(model: Mapping) -> str:
    if model["sources"]["fleet"] != "ok":
        return "<p class='muted'>Patch group figures are unavailable: see the notice above.</p>"
    groups = model["groups"]
    if not groups:
        return "<p class='muted'>No patch groups: no plan names one and no baseline is registered for one.</p>"
    legend = "".join(
        f"<span><i class='swatch' style='background:{colour}'></i>{label}</span>"
        for label, colour in (("compliant", BAR_COLOURS["compliant"]), ("non-compliant", BAR_COLOURS["non_compliant"]), ("no data", BAR_COLOURS["no_data"]))
    )
    head = (
        "<table id='groups'><thead><tr><th>Patch group</th><th class='num'>Instances</th><th>Compliance</th>"
        "<th class='num'>Compliant</th><th class='num'>Non-compliant</th><th class='num'>Missing</th><th class='num'>Failed</th>"
        "<th class='num'>Pending reboot</th><th class='num'>Offline agents</th><th>Baseline in force per OS</th><th>Compliance data</th></tr></thead><tbody>"
    )
    rows = []
    for g in groups:
        baselines = "<br>".join(f"<span class='muted'>{e(b['os'])}:</span> {e(b['label'])}" for b in g["baselines"]) or "<span class='muted'>-</span>"
        age = e(g["data_age"]["text"])
        if g["data_age"]["stale"]:
            age = f"<span class='warn'>{age}</span>"
        notes = "".join(f"<div class='muted'>{e(n)}</div>" for n in g["notes"])
        used = f"<div class='muted'>{e(', '.join(g['used_by']))}</div>" if g["used_by"] else "<div class='muted'>in no plan</div>"
        if g["instances"] and g["no_data"] == g["instances"]:
            compliance = f"{compliance_bar(g)}<div class='muted'>no compliance data</div>"
        elif g["instances"]:
            compliance = f"{compliance_bar(g)}<div class='muted'>{g['bar']['compliant']:g}% compliant</div>"
        else:
            compliance = "<span class='muted'>no instances</span>"
        offline_title = f" title='{_attr(', '.join(g['offline_ids']))}'" if g["offline_ids"] else ""
        rows.append(
            f"<tr data-group='{_attr(g['name'])}'><td><strong>{e(g['name'])}</strong>{used}{notes}</td>"
            f"<td class='num'>{g['instances']}</td><td>{compliance}</td>"
            f"<td class='num'>{g['compliant']}</td><td class='num'>{g['non_compliant']}</td>"
            f"<td class='num'>{g['missing_patches']}{_on(g['instances_missing'])}</td>"
            f"<td class='num'>{g['failed_patches']}{_on(g['instances_failed'])}</td>"
            f"<td class='num'>{g['pending_reboot']}</td><td class='num'{offline_title}>{g['offline']}</td>"
            f"<td>{baselines}</td><td>{age}</td></tr>"
        )
    return f"<div class='legend'>{legend}</div>{head}{''.join(rows)}</tbody></table><p class='meta'>Missing and failed count patches (and the instances they are on); compliant means nothing missing, failed, rejected-installed or awaiting a reboot.</p>"


def _on(instances: int) -> str:
    return f"<div class='muted'>on {instances}</div>" if instances else ""


def _promotions(model: Mapping) -> str:
    if not model["promotions"]:
        return ""
    items = []
    for promo in model["promotions"]:
        latest = (
            f"<span class='meta'>latest run <a target='_top' href='{_attr(promo['dag_run_url'])}'>{e(promo['run_id'])}</a>, {e(promo['when'])}</span>"
            if promo["run_id"]
            else f"<span class='meta'>trigger {e(promo['dag_id'])} to start one</span>" if promo["outcome_text"] == "No runs yet" else ""
        )
        items.append(
            f"<div class='promotion' data-plan='{_attr(promo['plan'])}'><div><strong>{e(promo['plan'])}</strong> "
            f"{_pill(promo['outcome_text'], promo['tone'])} {latest}</div>"
            f"{promotion_svg(promo['path'], title=promo['plan'] + ': ' + ' -> '.join(s['name'] + ' ' + s['label'] for s in promo['path']))}</div>"
        )
    return "<h2>Promotion</h2><div class='paths'>" + "".join(items) + "</div>"


def _run(run: Mapping) -> str:
    flags = []
    if run["dry_run"]:
        flags.append(_pill("dry run", "idle"))
    if run["change_ticket"]:
        flags.append(f"<span class='meta'>change {e(run['change_ticket'])}</span>")
    manifests = "; ".join(
        f"pinned manifest from {e(m['stage'])}: <code title='{_attr(m['hash'])}'>{e(m['short'])}</code> ({m['size']} patches)" for m in run["manifests"]
    ) or "<span class='muted'>no pinned manifest</span>"
    rows = []
    for stage in run["stages"]:
        reasons = "".join(f"<li>{e(r)}</li>" for r in stage["reasons"])
        waves = []
        for wave in stage["waves"]:
            commands = " ".join(
                f"<a target='_blank' rel='noopener' href='{_attr(c['url'])}' title='{_attr(c['id'])}'><code>{e(c['short'])}</code></a>" if c["url"] else f"<code>{e(c['short'])}</code>"
                for c in wave["commands"]
            )
            why = f" <span class='muted'>{e('; '.join(wave['reasons']))}</span>" if wave["reasons"] else ""
            waves.append(f"<li>{e(wave['label'])} ({wave['targets']}): <span class='gate-{_attr(wave['verdict'])}'>{e(wave['verdict'])}</span>{why} {commands}</li>")
        pinned = f"<div class='muted'>installs {e(stage['pinned_to'])}'s manifest</div>" if stage["pinned_to"] else ""
        tone = {"promoted": "ok", "blocked": "bad", "failed": "bad", "running": "active"}.get(stage["state"], "idle")
        rows.append(
            f"<tr data-stage='{_attr(stage['name'])}'><td><strong>{e(stage['name'])}</strong><div class='muted'>group {e(stage['patch_group'] or '-')}</div>{pinned}</td>"
            f"<td>{_pill(stage['state'], tone)}</td><td><span class='gate-{_attr(stage['gate'])}'>{e(stage['gate'])}</span><ul class='reasons'>{reasons}</ul></td>"
            f"<td class='num'>{stage['targets']}</td><td class='num'>{stage['succeeded']}</td><td class='num'>{stage['failed']}</td><td class='num'>{stage['unreachable']}</td>"
            f"<td><ul class='waves'>{''.join(waves) or '<li class=muted>no waves</li>'}</ul></td></tr>"
        )
    table = (
        "<table class='stages'><thead><tr><th>Stage</th><th>State</th><th>Gate verdict</th><th class='num'>Targets</th><th class='num'>Succeeded</th>"
        "<th class='num'>Failed</th><th class='num'>Unreachable</th><th>Waves (verdict, commands)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    return (
        f"<section class='run' data-run='{_attr(run['run_id'])}' data-outcome='{_attr(run['outcome'])}'><header>"
        f"<h3>{e(run['plan'])}</h3>{_pill(run['outcome_text'], run['tone'])}{''.join(flags)}"
        f"<span class='meta'>started {e(run['when'])}{', took ' + e(run['took']) if run['took'] else ''}</span></header>"
        f"<div>{e(run['headline'])}</div>"
        f"<div class='meta'>{manifests} &middot; <a target='_top' href='{_attr(run['dag_run_url'])}'>DAG run {e(run['run_id'])}</a>"
        f" &middot; <a target='_blank' rel='noopener' href='{_attr(run['report_url'])}'>report</a></div>"
        f"{promotion_svg(run['path'], title=run['plan'] + ' ' + run['run_id'])}{table}</section>"
    )


def _runs(model: Mapping) -> str:
    if model["sources"]["ledger"] != "ok":
        return "<p class='muted'>Rollout history is unavailable: see the notice above.</p>"
    if not model["runs"]:
        return "<p class='muted'>No rollout runs recorded yet.</p>"
    return "".join(_run(run) for run in model["runs"])


def render_page(model: Mapping) -> str:
    user = f" &middot; signed in as {e(model['user'])}" if model.get("user") else ""
    region = f" &middot; region {e(model['region'])}" if model.get("region") else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{e(model['title'])}</title><style>{CSS}</style></head><body>"
        f"<h1>{e(model['title'])}</h1><div class='meta'>As of {e(model['generated_at'])}{region}{user} &middot; <a href=''>reload</a></div>"
        f"<div id='notices'>{_notices(model['notices'])}</div>"
        f"{_promotions(model)}"
        f"<h2>Patch groups</h2>{_groups(model)}"
        f"<h2>Recent rollout runs</h2>{_runs(model)}"
        "</body></html>"
    )


def render_message_page(title: str, detail: str, action: str, *, level: str = "error", links: Sequence[tuple[str, str]] = ()) -> str:
    """A whole page that says one thing and what to do about it (login needed, no permission, unknown run)."""
    more = "".join(f" <a target='_top' href='{_attr(href)}'>{e(text)}</a>" for text, href in links)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><h1>Patch rollouts</h1>"
        f"<div class='notice {_attr(level)}'><strong>{e(title)}</strong><div>{e(detail)}</div>"
        f"<div class='action'>What to do: {e(action)}{more}</div></div></body></html>"
    )
