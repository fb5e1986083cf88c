"""Human-readable drift: a markdown table and a PNG chart for asset metadata and dashboards.

The PNG is drawn on a private Agg canvas (``matplotlib.figure.Figure``), never
through pyplot, so rendering is thread-safe and leaves the process-wide
matplotlib backend alone.
"""

from __future__ import annotations

import base64
import io

from thunderline.drift.profile import DriftReport

_STATUS_TEXT = {"ok": "ok", "warn": "**warn**", "fail": "**FAIL**"}
_STATUS_COLOUR = {"ok": "#4c9a2a", "warn": "#e0a800", "fail": "#c0392b"}


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def render_markdown(report: DriftReport, *, limit: int | None = None) -> str:
    """A markdown table, worst feature first, headed by the overall status and thresholds."""
    c = report.counts()
    lines = [
        f"**Drift {report.status.upper()}** — profile `{report.profile_name}` ({report.feature_schema_version}, "
        f"baseline `{report.profile_hash[:12]}`), scope `{report.scope or '-'}`: "
        f"{c['ok']} ok, {c['warn']} warn, {c['fail']} fail "
        f"(warn PSI > {report.warn_at:g}, fail PSI > {report.fail_at:g})",
        "",
        "| feature | PSI | KS | KS p-value | n baseline | n current | status |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    feats = report.features if limit is None else report.features[:limit]
    for f in feats:
        status = _STATUS_TEXT[f.status] + (f" ({f.note})" if f.note else "")
        lines.append(
            f"| `{f.feature}` | {_num(f.psi, '.4f')} | {_num(f.ks_statistic, '.3f')} | {_num(f.ks_pvalue, '.3g')} "
            f"| {f.n_baseline} | {f.n_current} | {status} |"
        )
    if limit is not None and len(report.features) > limit:
        lines.append(f"| … {len(report.features) - limit} more | | | | | | |")
    if report.unprofiled:
        lines += ["", "Not in the baseline (no drift measured): " + ", ".join(f"`{x}`" for x in report.unprofiled)]
    return "\n".join(lines) + "\n"


def render_png(report: DriftReport, *, limit: int = 30, dpi: int = 100) -> bytes:
    """PSI per feature as horizontal bars (colour = status) with the warn/fail thresholds marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    feats = report.features[:limit]
    names = [f.feature for f in feats][::-1]
    values = [(f.psi if f.psi is not None else 0.0) for f in feats][::-1]
    colours = [_STATUS_COLOUR[f.status] for f in feats][::-1]
    fig = Figure(figsize=(7, 1.2 + 0.28 * max(len(feats), 1)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(range(len(names)), values, color=colours)
    ax.set_yticks(range(len(names)), labels=names, fontsize=8)
    ax.axvline(report.warn_at, color=_STATUS_COLOUR["warn"], linestyle="--", linewidth=1, label=f"warn {report.warn_at:g}")
    ax.axvline(report.fail_at, color=_STATUS_COLOUR["fail"], linestyle="--", linewidth=1, label=f"fail {report.fail_at:g}")
    ax.set_xlabel("PSI")
    ax.set_title(f"{report.profile_name} · {report.scope or 'current'} · {report.status}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def png_markdown(png: bytes, alt: str = "drift") -> str:
    """Inline the PNG in markdown (Dagster renders data-URI images in markdown metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
