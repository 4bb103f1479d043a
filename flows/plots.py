"""Charts for assay's HTML reports (the run report and the ablation report), drawn with plotly.

The page carries plotly.js inline, once, so a report opens offline (no CDN, nothing fetched); each
chart is a <div> with its data. Div ids are numbered in page order, so the same data gives the same
bytes. plotly is imported only when a page is built, never by the CLI at start-up.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:0 12px;color:#222}"
       "table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}td,th{border:1px solid #ccc;padding:2px 8px;"
       "text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}.noise{color:#888}"
       ".tiles{display:flex;gap:12px;flex-wrap:wrap}.tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px}"
       ".tile b{display:block;font-size:22px}.chart{margin:4px 0 16px}code{background:#f5f5f5;padding:0 3px}"
       ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:8px}")


class Page:
    """An HTML page of charts and tables; `html()` returns it with plotly.js inlined once."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []
        self._n = 0

    def add(self, raw: str) -> None:
        self.parts.append(raw)

    def text(self, tag: str, s: str, cls: str = "") -> None:
        self.parts.append(f"<{tag}{f' class={cls!r}' if cls else ''}>{html.escape(s)}</{tag}>")

    def table(self, head: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in r) + "</tr>" for r in rows)
        self.parts.append(f"<table><tr>{cells}</tr>{body}</table>")

    def figure(self, fig: Any, height: int = 320) -> None:
        self._n += 1
        self.parts.append(div(fig, f"chart-{self._n}", height))

    def html(self) -> str:
        return "\n".join([
            "<!doctype html><html><head><meta charset='utf-8'>", f"<title>{html.escape(self.title)}</title>",
            f"<style>{CSS}</style>", script() + "</head><body>", *self.parts, "</body></html>"])


def script() -> str:
    """plotly.js itself, inline: put once in a page's head, before any chart."""
    from plotly.offline import get_plotlyjs

    return f"<script type='text/javascript'>{get_plotlyjs()}</script>"


def div(fig: dict[str, Any], div_id: str, height: int = 320) -> str:
    """One chart (a plotly figure as a dict: data + layout) as a <div> with its data; needs
    `script()` earlier in the page. Figures are plain dicts written by plotly.io without validation:
    building graph_objects costs ~50 ms a chart, and the run report has dozens."""
    import plotly.io as pio

    fig["layout"] = {**_LAYOUT, **fig.get("layout", {}), "height": height}
    return ("<div class='chart'>" + pio.to_html(fig, validate=False, full_html=False, include_plotlyjs=False, div_id=div_id,
                                                config={"displayModeBar": False}) + "</div>")


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "" if v is None else str(v)


_AXIS = {"gridcolor": "#eee", "linecolor": "#888", "zerolinecolor": "#ccc", "automargin": True}
_LAYOUT = {"paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(COLORS), "font": {"size": 12},
           "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "hovermode": "closest"}


def _layout(title: str, xtitle: str = "", ytitle: str = "", **kw: Any) -> dict[str, Any]:
    return {"title": {"text": title, "x": 0.01, "font": {"size": 14}}, "xaxis": {**_AXIS, "title": {"text": xtitle}},
            "yaxis": {**_AXIS, "title": {"text": ytitle}}, **kw}


def _fig(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "layout": layout}


def bars(title: str, labels: Sequence[str], series: dict[str, Sequence[float]], horizontal: bool = False,
         xtitle: str = "", ytitle: str = "", stacked: bool = False) -> dict[str, Any]:
    """Grouped (or stacked) bars: one trace per series, one bar per label."""
    data = [{"type": "bar", "name": name, **({"y": list(labels), "x": list(v), "orientation": "h"} if horizontal
                                             else {"x": list(labels), "y": list(v)})} for name, v in series.items()]
    layout = _layout(title, xtitle, ytitle, barmode="stack" if stacked else "group", showlegend=len(series) > 1)
    # labels such as cluster sizes "2", "3" are names, not a number line
    layout["yaxis" if horizontal else "xaxis"].update(type="category", **({"autorange": "reversed"} if horizontal else {}))
    return _fig(data, layout)


def histogram(title: str, edges: Sequence[float], counts: dict[str, Sequence[int]], xtitle: str = "") -> dict[str, Any]:
    """Pre-binned counts (bin edges + one count series per group), stacked: the page holds the
    bins, not every value, so a report of a million documents stays small."""
    mids = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    data = [{"type": "bar", "name": name, "x": mids, "y": list(c), "width": widths} for name, c in counts.items()]
    return _fig(data, _layout(title, xtitle, "documents", barmode="stack", bargap=0, showlegend=len(counts) > 1))


def intervals(title: str, rows: Sequence[tuple[str, float, float, float]], xtitle: str = "") -> dict[str, Any]:
    """A dot and its interval per row (label, value, low, high), rows top to bottom."""
    data = [{"type": "scatter", "x": [mean], "y": [label], "mode": "markers", "name": label,
             "marker": {"size": 9, "color": COLORS[k % len(COLORS)]},
             "error_x": {"type": "data", "symmetric": False, "array": [hi - mean], "arrayminus": [mean - lo]},
             "hovertemplate": f"{mean:.4f} [{lo:.4f}, {hi:.4f}]<extra>{html.escape(label)}</extra>"}
            for k, (label, mean, lo, hi) in enumerate(rows)]
    layout = _layout(title, xtitle, showlegend=False)
    layout["yaxis"].update(type="category", autorange="reversed")
    return _fig(data, layout)


def lines(title: str, curves: dict[str, Sequence[tuple[float, float]]], colors: dict[str, str] | None = None,
          xtitle: str = "", ytitle: str = "") -> dict[str, Any]:
    """One line per curve (name -> [(x, y)]), colored by `colors` where given."""
    data = [{"type": "scatter", "mode": "lines", "name": name, "x": [p[0] for p in pts], "y": [p[1] for p in pts],
             "line": {"width": 1.3, **({"color": colors[name]} if colors and name in colors else {})}}
            for name, pts in curves.items()]
    return _fig(data, _layout(title, xtitle, ytitle))
