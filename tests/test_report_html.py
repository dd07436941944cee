"""The truth report's HTML page: one self-contained, escaped page whose plots are inline SVG that parse.

The report dicts are built by hand here (every key `render_html` reads, in the shapes of
`truth_report.build_report`), so the tests need neither a ledger nor a replay.
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from engine.analytics.report_html import render_html

ROOT = Path(__file__).parents[1]
SVG_NS = "{http://www.w3.org/2000/svg}"
EVIL_SLUG = "<script>alert(1)</script>"
EVIL_REASON = '<img src=x onerror="alert(2)"> & "quoted"'
T0 = 1_790_585_112_649
MINUTE = 60_000
HORIZONS = ("30s", "2m", "10m")
EDGES = [-10.0, -5.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0]


def attribution(net: str = "-27.59791017", fills: int = 116, **extra: Any) -> dict[str, Any]:
    return {
        "fills": fills,
        "maker_fills": fills,
        "taker_fills": 0,
        "volume_usdc": "484.98685057",
        "gross_pnl": net,
        "gross_pnl_maker": net,
        "gross_pnl_taker": "0.00",
        "fill_cash_flow": "-37.39105817",
        "settlement_payouts": "9.793148",
        "open_value": "0.00",
        "fees": "0.00",
        "fees_maker": "0.00",
        "fees_taker": "0.00",
        "net_pnl": net,
        "net_pnl_maker": net,
        "net_pnl_taker": "0.00",
        "unmarked_fills": 0,
        "rebates_est": "2.640096",
        "rewards_est": None,
        "merges_redemptions": {"redemptions": "9.793148", "merges": None},
        **extra,
    }


def markout(mean: float | None, n: int = 116) -> dict[str, Any]:
    if mean is None:
        return {
            "n": 0,
            "mean": None,
            "median": None,
            "std": None,
            "p05": None,
            "p25": None,
            "p75": None,
            "p95": None,
            "histogram": {"edges": EDGES, "counts": [0] * 12},
            "t_stat": None,
            "ci_low": None,
            "ci_high": None,
            "ci_method": "none",
            "significantly_negative": None,
        }
    return {
        "n": n,
        "mean": mean,
        "median": mean / 2,
        "std": 10.0,
        "p05": -16.6,
        "p25": -7.7,
        "p75": 6.5,
        "p95": 14.2,
        "histogram": {"edges": EDGES, "counts": [51, 4, 4, 2, 0, 2, 0, 2, 4, 4, 3, 40]},
        "t_stat": mean / 0.9,
        "ci_low": mean - 1.8,
        "ci_high": mean + 1.8,
        "ci_method": "bootstrap",
        "significantly_negative": mean + 1.8 < 0,
    }


def returns_block(period: str, periods: int) -> dict[str, Any]:
    return {
        "period": period,
        "periods": periods,
        "mean": -0.0046,
        "sharpe": -81.4,
        "sortino": -64.5,
        "calmar": -1400.1,
        "sharpe_stressed": -90.9,
        "positive_share": 0.0,
        "best": 0.0,
        "worst": -0.0128,
        "returns": [{"ts": T0 + i * 3_600_000, "r": -0.001} for i in range(periods)],
    }


def reliability(shift: float) -> list[dict[str, Any]]:
    return [
        {
            "bin": i,
            "low": i / 10,
            "high": (i + 1) / 10,
            "predicted": i / 10 + 0.05,
            "observed": min(1.0, max(0.0, i / 10 + 0.05 + shift)),
            "count": 100 + i,
        }
        for i in range(10)
    ]


def sample_report(points: int = 240) -> dict[str, Any]:
    """A complete report: every section, a wavy equity curve of `points` points, a hostile slug and reason."""
    ts = [T0 + i * MINUTE for i in range(points)]
    equity = [1000.0 + 8 * math.sin(i / 9) - 0.05 * i + 1.5 * math.sin(i * 1.7) for i in range(points)]
    peak, drawdown = -math.inf, []
    for e in equity:
        peak = max(peak, e)
        drawdown.append(round(e / peak - 1, 6))
    markets = [
        attribution(
            f"{(i - 12) * 1.37:.8f}",
            fills=i + 1,
            condition_id=f"0x{i:064x}",
            slug=f"market-{i}",
            cluster=f"cluster-{i % 8}",
            settled=i % 2 == 0,
            marked=i % 2 == 1,
        )
        for i in range(24)
    ]
    markets[5]["slug"] = EVIL_SLUG
    markets[5]["net_pnl"] = "-999.00"  # the worst: always in the bottom table
    gate_line = {"name": "fills", "value": 116, "op": ">=", "threshold": 3000, "status": "FAIL", "detail": ""}
    return {
        "report_version": 1,
        "generated_ts": T0 + points * MINUTE,
        "db": "/data/run.db",
        "window": {"since_ts": None, "until_ts": None, "strategy": None},
        "runs": [
            {
                "run_id": "61a0f7cc",
                "started_ts": T0,
                "ended_ts": T0 + points * MINUTE,
                "venue": "REPLAY",
                "mode": "auto",
                "account": "replay:61a0f7cc",
                "seed": 7,
            }
        ],
        "period": {"start_ts": T0, "end_ts": T0 + points * MINUTE, "days": points / 1440},
        "assumptions": {
            "bankroll_usdc": "1000",
            "assumed_fill_rate": 0.6,
            "mutation_budget_per_min": 60,
            "stale_feed_global_s": 30.0,
            "cost_stress": {"fee_multiple": 2.0, "cents_per_share": 0.5},
            "marks": "settlement payout, else the last evaluated mid",
        },
        "pnl": {
            "total": attribution(),
            "by_strategy": {"market_maker": attribution(), "value": attribution("0.00", fills=0)},
            "by_component": {
                c: attribution("0.00", fills=0)
                for c in ("maker", "taker", "arbitrage", "satellite", "manual")
            },
            "by_cluster": {f"cluster-{i}": attribution(f"-{i}.5") for i in range(8)},
            "by_market": markets,
            "check": {
                "settlement_cash_recorded": "9.793148",
                "settlement_payouts_attributed": "9.793148",
                "note": "they agree",
            },
        },
        "execution": {
            "total": {
                "orders": 431,
                "finished": 431,
                "filled_any": 114,
                "fill_rate": 0.2645,
                "assumed_fill_rate": 0.6,
                "fill_rate_vs_assumed": -0.559,
                "mean_filled_share": 0.257,
                "cancels": 264,
                "expired": 54,
                "rejected": 1,
                "replaces": 379,
                "cancel_per_order": 0.61,
                "time_to_fill_s": {"n": 114, "median": 7.31, "p90": 23.25, "mean": 14.27},
                "realized_spread_cents": {
                    "definition": "mid against price",
                    "n": 116,
                    "mean": -1.49,
                    "median": -1.0,
                    "maker_median": -1.0,
                    "taker_median": None,
                },
                "slippage_bps": {
                    "n": 0,
                    "expected_mean": None,
                    "realized_mean": None,
                    "realized_minus_expected_mean": None,
                },
            },
            "by_strategy": {},
            "mutations": {
                "budget_per_min": 60,
                "active_minutes": 84,
                "peak_per_min": 26,
                "mean_per_active_min": 8.27,
                "p99_per_min": 21.85,
                "peak_share_of_budget": 0.433,
                "minutes_over_90pct": 0,
                "placements": 431,
                "cancels": 264,
            },
        },
        "markouts": {
            "horizons": list(HORIZONS),
            "unit": "cents a share, for our side",
            "total": {h: markout(m) for h, m in zip(HORIZONS, (-1.17, -2.78, -2.5), strict=True)},
            "maker": {h: markout(m) for h, m in zip(HORIZONS, (-1.17, -2.78, -2.5), strict=True)},
            "taker": {h: markout(m, 40) for h, m in zip(HORIZONS, (0.4, -3.1, -4.0), strict=True)},
            "by_strategy": {"market_maker": {h: markout(-1.0) for h in HORIZONS}},
        },
        "returns": {
            "basis": "account",
            "capital_usdc": 1000.0,
            "daily": returns_block("1d", 1),
            "hourly": returns_block("1h", 6),
            "drawdown": {
                "max_drawdown": min(drawdown),
                "peak_ts": T0,
                "trough_ts": ts[-1],
                "duration_s": 17177.4,
                "recovered": False,
            },
            "win_rate": 0.125,
            "profit_factor": 0.0686,
            "win_basis": "markets traded",
            "concentration": {
                "markets_traded": 24,
                "top5_share": 0.83,
                "top5_basis": "top 5 |net|",
                "clusters_traded": 8,
                "largest_cluster": "cluster-0",
                "largest_cluster_share": 0.23,
                "cluster_basis": "traded notional",
            },
        },
        "calibration": {
            "brains": {
                "microprice": {
                    "n": 4884,
                    "markets": 14,
                    "brier": 0.1818,
                    "log_loss": 0.521,
                    "reliability": reliability(0.1),
                    "brier_market": 0.1816,
                    "log_loss_market": 0.5206,
                    "brier_skill": -0.00098,
                }
            },
            "market": {
                "n": 4884,
                "markets": 14,
                "brier": 0.1816,
                "log_loss": 0.5206,
                "reliability": reliability(0.08),
            },
            "note": "each evaluation is a sample",
        },
        "health": {
            "feed": {
                "samples": 303,
                "uptime": 1.0,
                "reconnects": 0,
                "stale_book_share": 0.0,
                "stale_book_hours": 0.0,
                "book_hours": 6.78,
            },
            "breaker_trips": {"consecutive_losses": 1, "fill_rate": 1},
            "halts": [
                {
                    "ts": T0 + 25 * MINUTE,
                    "kind": "fill_rate",
                    "reason": EVIL_REASON,
                    "trigger_value": "0.4",
                    "threshold": "0.6",
                    "action": "pause 3600s",
                    "resumed_ts": T0 + 85 * MINUTE,
                    "resumed_by": "auto",
                    "duration_s": 3600.0,
                },
                {
                    "ts": T0 + 150 * MINUTE,
                    "kind": "consecutive_losses",
                    "reason": "5 losing positions in a row",
                    "trigger_value": "5",
                    "threshold": "5",
                    "action": "pause",
                    "resumed_ts": None,
                    "resumed_by": None,
                    "duration_s": None,
                },
            ],
            "resumed_by": {"auto": 1, "(not resumed)": 1},
            "rejections_by_reason": {"invalid post-only order: order crosses book": 1},
            "refusals_by_rule": {"BREAKER_FILL_RATE": 2391, "STALE_BOOK": 4},
            "refusals_note": "counted per run",
            "reconciliation": {"mismatch_halts": 0, "details": []},
        },
        "gates": {
            "A": {
                "status": "NOT ENOUGH DATA",
                "lines": [
                    {
                        "name": "sharpe_after_cost_stress",
                        "value": -90.9,
                        "op": ">=",
                        "threshold": 1.2,
                        "status": "NOT ENOUGH DATA",
                        "detail": "6 hourly returns; needs >= 24",
                    }
                ],
            },
            "B": {
                "status": "FAIL",
                "lines": [
                    gate_line,
                    {
                        "name": "clusters_traded",
                        "value": 8,
                        "op": ">=",
                        "threshold": 8,
                        "status": "PASS",
                        "detail": "",
                    },
                    {
                        "name": "sharpe",
                        "value": None,
                        "op": ">=",
                        "threshold": 1.2,
                        "status": "NOT ENOUGH DATA",
                        "detail": "1 daily returns; needs >= 7",
                    },
                ],
            },
            "C": {
                "status": "PASS",
                "lines": [
                    {
                        "name": "max_drawdown",
                        "value": -0.029,
                        "op": ">=",
                        "threshold": -0.15,
                        "status": "PASS",
                        "detail": "share of the peak",
                    }
                ],
            },
        },
        "series": {
            "equity": {"ts": ts, "equity": [round(e, 6) for e in equity], "drawdown": drawdown},
            "pnl_by_strategy": {
                "market_maker": {"ts": ts, "pnl": [round(e - 1000, 6) for e in equity]},
                "value": {"ts": ts[::10], "pnl": [0.1 * i for i in range(len(ts[::10]))]},
            },
        },
    }


def empty_report() -> dict[str, Any]:
    """The same report with nothing to plot: no series, no markouts, no calibration, no halts, no markets."""
    report = sample_report()
    report["series"] = {"equity": {"ts": [], "equity": [], "drawdown": []}, "pnl_by_strategy": {}}
    nothing = {h: markout(None) for h in HORIZONS}
    report["markouts"] = {"horizons": list(HORIZONS), "unit": "cents a share", "by_strategy": {}}
    report["markouts"].update(total=nothing, maker=nothing, taker=nothing)
    empty_block = {"n": 0, "markets": 0, "brier": None, "log_loss": None, "reliability": []}
    report["calibration"] = {"brains": {}, "market": empty_block}
    report["health"]["halts"] = []
    report["health"]["resumed_by"] = {}
    report["pnl"]["by_market"] = []
    report["runs"] = []
    return report


class Collector(HTMLParser):
    """Collects every start tag with its attributes, and the tags left open."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.mismatched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))  # <path .../> inside svg: nothing left open

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.mismatched.append(tag)


def parse(page: str) -> Collector:
    collector = Collector()
    collector.feed(page)
    collector.close()
    return collector


def svg_blocks(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def point_count(d: str) -> int:
    return len(re.findall(r"[ML]\s*-?[\d.]+\s+-?[\d.]+", d))


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_report())


@pytest.fixture(scope="module")
def empty_page() -> str:
    return render_html(empty_report())


def test_page_parses_as_balanced_html(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    doc = parse(page)
    names = [t for t, _ in doc.tags]
    for tag in ("html", "head", "style", "body", "table", "svg", "h1", "h2"):
        assert tag in names, tag
    assert doc.stack == [] and doc.mismatched == []


def test_page_is_self_contained(page: str) -> None:
    doc = parse(page)
    names = {t for t, _ in doc.tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "image", "base"}
    for tag, attrs in doc.tags:
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)  # only in-page anchors
    assert "@import" not in page and "url(http" not in page
    # the only http(s) strings are the SVG namespace names, which are identifiers, not fetched
    without_namespaces = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", page)
    assert "http://" not in without_namespaces and "https://" not in without_namespaces


def test_sections_in_order(page: str) -> None:
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == [
        "Gates",
        "P&amp;L attribution",
        "Execution quality",
        "Markouts",
        "Risk-adjusted returns",
        "Calibration",
        "Health",
    ]
    assert page.index("<h1>") < page.index("<h2>")


def test_every_svg_parses_and_draws(page: str) -> None:
    blocks = svg_blocks(page)
    assert len(blocks) == 5
    labels = set()
    for block in blocks:
        assert not block.startswith("<?xml") and "<!DOCTYPE" not in block
        root = ET.fromstring(block)
        assert root.tag == f"{SVG_NS}svg"
        labels.add(root.get("aria-label"))
        drawn = [
            el for el in root.iter() if el.tag in (f"{SVG_NS}path", f"{SVG_NS}line", f"{SVG_NS}polyline")
        ]
        assert drawn, root.get("aria-label")
        assert any(True for _ in root.iter(f"{SVG_NS}text")), "svg.fonttype none keeps the text as text"
    assert labels == {
        "Equity curve and drawdown",
        "P&L by strategy over time",
        "Markout means by horizon",
        "2m markout distribution",
        "Reliability curves",
    }


def test_equity_plot_draws_the_whole_curve(page: str) -> None:
    (equity,) = [b for b in svg_blocks(page) if 'aria-label="Equity curve and drawdown"' in b]
    root = ET.fromstring(equity)
    longest = max(point_count(p.get("d", "")) for p in root.iter(f"{SVG_NS}path"))
    assert longest >= 150  # 240 points of a wavy curve (path simplification may merge a few)


def test_svg_ids_are_unique_across_plots(page: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r'(?:url\(#|href="#)([^)"]+)', page):
        assert ref in ids or ref in {
            "gates",
            "pnl",
            "execution",
            "markouts",
            "returns",
            "calibration",
            "health",
        }


def test_gate_statuses_carry_their_badges(page: str) -> None:
    assert '<span class="badge pass">PASS</span>' in page
    assert '<span class="badge fail">FAIL</span>' in page
    assert '<span class="badge nodata">NOT ENOUGH DATA</span>' in page
    for name in ("sharpe_after_cost_stress", "clusters_traded", "max_drawdown"):
        assert name in page
    assert "&gt;= 3,000" in page  # op and threshold, escaped


def test_external_text_is_escaped(page: str) -> None:
    assert EVIL_SLUG not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt; &amp; &quot;quoted&quot;" in page
    assert "<script" not in page


def test_markets_show_top_and_bottom_ten(page: str) -> None:
    assert "top 10 of 24 by net P&amp;L" in page and "bottom 10 of 24 by net P&amp;L" in page
    bottom = page[page.index("bottom 10 of 24") :]
    assert "&lt;script&gt;" in bottom  # the worst market, -999.00, is in the bottom table
    assert "-999.00" in bottom


def test_values_are_formatted(page: str) -> None:
    assert (
        '<td class="num neg" title="-27.59791017"><b>-27.60</b></td>' in page
    )  # cents shown, exact on hover
    assert "2026-09-28 08:45:12Z" in page  # unix ms in UTC
    assert "26.45%" in page  # fill rate
    assert "1h 00m 00s" in page  # a halt's duration
    assert "(not resumed)" in page


def test_empty_report_renders_no_data_notes(empty_page: str) -> None:
    doc = parse(empty_page)
    assert doc.stack == [] and doc.mismatched == []
    assert svg_blocks(empty_page) == []
    assert empty_page.count('class="plot-empty"') == 5
    assert (
        "no halts" in empty_page
        and "no markets traded" in empty_page
        and "no runs in the window" in empty_page
    )


def test_missing_sections_render_as_not_measured() -> None:
    page = render_html({})
    doc = parse(page)
    assert doc.stack == [] and doc.mismatched == []
    assert page.count('class="plot-empty"') == 5
    partial = sample_report()
    del partial["execution"], partial["health"]["feed"], partial["returns"]["drawdown"]
    assert "<svg" in render_html(partial)


def test_single_points_and_nulls_render() -> None:
    report = sample_report(points=1)
    report["markouts"]["total"]["2m"]["ci_low"] = None
    assert len(svg_blocks(render_html(report))) == 5
    report = sample_report(points=30)
    report["series"]["equity"]["equity"][3] = None  # a gap
    report["series"]["equity"]["ts"][4] = None  # a row without a time is dropped
    del report["series"]["equity"]["drawdown"]  # recomputed from the running peak
    assert len(svg_blocks(render_html(report))) == 5
    report["series"]["equity"]["equity"] = [None] * 30  # nothing measurable: a note, not an empty plot
    page = render_html(report)
    assert len(svg_blocks(page)) == 4
    assert "Equity curve and drawdown: no data" in page


def test_rendering_is_deterministic_and_does_not_mutate_the_report() -> None:
    report = sample_report()
    before = copy.deepcopy(report)
    assert render_html(report) == render_html(report)
    assert report == before


def test_matplotlib_is_imported_lazily_and_without_pyplot() -> None:
    code = (
        "import sys\n"
        "from engine.analytics.report_html import render_html\n"
        "print('matplotlib' in sys.modules)\n"
        "equity = {'ts': [0, 60000], 'equity': [1.0, 2.0], 'drawdown': [0.0, 0.0]}\n"
        "page = render_html({'series': {'equity': equity}})\n"
        "print('<svg' in page, 'matplotlib.pyplot' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "True", "False"]


def test_page_opens_in_headless_chromium(page: str, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium or chromium-browser binary on PATH (not installed here)")
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<svg" in proc.stdout
    assert "Risk-adjusted returns" in proc.stdout
