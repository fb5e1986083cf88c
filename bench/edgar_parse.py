"""EDGAR parse benchmark: Thunderline's parsers next to edgartools' on the same real files.

    python bench/edgar_parse.py [--repeat N] [--json]

Files: Apple's FY2024 10-K (1.5 MB inline XBRL HTML) and the three Worlds Inc. full-submission
.txt files (2.0-2.9 MB each) from shared/datasets/edgar (or $THUNDERLINE_DATASETS/edgar).

Each engine runs in its own subprocess so its peak RSS is its own:

* ``ours``      - ``parse_path`` (sections + every XBRL fact) then ``build_windows`` (all features);
                  also split out: sections only, inline-XBRL facts only;
* ``edgartools`` - ``edgar.documents.parse_html`` (sections) on the same HTML (for Worlds: the
                  primary document), ``FilingSGML.from_text`` for the .txt, ``XBRL.from_files``
                  for the Worlds instance; run offline (sockets blocked).

Times are medians over ``--repeat`` runs after one warm-up of the process's CPU time
(``time.process_time``; everything is single-threaded, so this is "one core" and does not count
time lost to other load on the machine); the end-to-end wall-clock median is shown beside it.
Figures, never pass/fail (no target is asserted here; the target - a 1.5 MB inline 10-K with
sections + facts + features under 1 s - is reported against the measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _datasets() -> Path:
    env = os.environ.get("THUNDERLINE_DATASETS")
    return (Path(env) if env else REPO.parent / "shared" / "datasets") / "edgar"


def _files() -> list[tuple[str, Path, dict]]:
    d = _datasets()
    out = [("AAPL 10-K FY2024 (iXBRL html)", d / "aapl" / "aapl-10-k-2024-11-01.html", {"filed_date": "2024-11-01"})]
    for name in ("0001264931-16-000339.txt", "0001264931-17-000036.txt", "0001264931-18-000031.txt"):
        out.append((f"WORLDS {name}", d / "worlds_inc" / name, {}))
    return out


def _median_time(fn, repeat: int) -> float:
    """Median CPU seconds of this (single-threaded) process: robust to other load on the machine."""
    fn()  # warm-up (imports, caches)
    ts = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return statistics.median(ts)


def _median_wall(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_ours(repeat: int) -> dict:
    t0 = time.perf_counter()
    from thunderline.edgar import build_windows, parse_path
    from thunderline.edgar.html_sections import split_sections
    from thunderline.edgar.htmltext import html_lines, parse_html_document
    from thunderline.edgar.ixbrl import parse_inline_xbrl

    import_s = time.perf_counter() - t0
    rows = []
    for label, path, hints in _files():
        size = path.stat().st_size
        full = _median_time(lambda: build_windows(parse_path(path, "bench", **hints)), repeat)
        parse_only = _median_time(lambda: parse_path(path, "bench", **hints), repeat)
        parsed = parse_path(path, "bench", **hints)
        feats = _median_time(lambda: build_windows(parsed), repeat)
        wall = _median_wall(lambda: build_windows(parse_path(path, "bench", **hints)), repeat)
        row = {"file": label, "bytes": size, "full_s": full, "parse_s": parse_only, "features_s": feats, "full_wall_s": wall}
        if path.suffix == ".html":
            data = path.read_bytes()
            row["sections_only_s"] = _median_time(
                lambda: split_sections(html_lines(parse_html_document(data, "b").root), "10-K"), repeat)
            row["ixbrl_facts_only_s"] = _median_time(lambda: parse_inline_xbrl(parse_html_document(data, "b")), repeat)
            docs = parse_path(path, "bench", **hints)
            row["sections"] = len(docs[0].sections)
            row["facts"] = len(docs[0].xbrl_facts)
        else:
            docs = parse_path(path, "bench", **hints)
            row["sections"] = len(docs[0].sections)
            row["facts"] = len(docs[0].xbrl_facts)
        rows.append(row)
    return {"engine": "thunderline", "import_s": import_s, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def run_edgartools(repeat: int) -> dict:
    from thunderline.edgar.offline import edgartools_offline
    from thunderline.edgar.sgml import parse_submission

    with edgartools_offline():
        t0 = time.perf_counter()
        from edgar.documents import ParserConfig, parse_html
        from edgar.sgml import FilingSGML
        from edgar.xbrl import XBRL

        import_s = time.perf_counter() - t0
        rows = []
        for label, path, _hints in _files():
            size = path.stat().st_size
            row = {"file": label, "bytes": size}
            if path.suffix == ".html":
                html = path.read_text("utf-8")
                row["sections_s"] = _median_time(lambda: parse_html(html, ParserConfig(form="10-K")), repeat)
                row["sections"] = len(parse_html(html, ParserConfig(form="10-K")).sections)
                row["full_s"] = row["sections_s"]
            else:
                text = path.read_text("latin-1")
                row["sgml_s"] = _median_time(lambda: FilingSGML.from_text(text), repeat)
                sub = parse_submission(path.read_bytes())  # hand edgartools the same primary HTML / instance
                prim = sub.primary_document().body.decode("latin-1")
                row["sections_s"] = _median_time(lambda: parse_html(prim, ParserConfig(form="10-K")), repeat)
                row["sections"] = len(parse_html(prim, ParserConfig(form="10-K")).sections)
                with tempfile.TemporaryDirectory() as tmp:
                    inst = Path(tmp) / sub.xbrl_instance().filename
                    inst.write_bytes(sub.xbrl_instance().body)
                    row["xbrl_s"] = _median_time(lambda: XBRL.from_files(instance_file=inst).facts.to_dataframe(), repeat)
                row["full_s"] = row["sgml_s"] + row["sections_s"] + row["xbrl_s"]
            rows.append(row)
    return {"engine": "edgartools", "import_s": import_s, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def _sub(engine: str, repeat: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--engine", engine, "--repeat", str(repeat)],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        return {"engine": engine, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(ours: dict, theirs: dict) -> str:
    lines = [f"EDGAR parse benchmark (median CPU seconds per filing, one core, python {sys.version.split()[0]}, "
             f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", ""]
    lines.append(f"{'file':40s} {'MB':>5s} | {'ours full':>9s} {'(wall)':>7s} {'parse':>7s} {'feat':>6s} {'filings/s':>9s} {'MB/s':>6s}"
                 f" | {'edgartools':>10s} {'sections':>8s}")
    t_rows = {r["file"]: r for r in theirs.get("rows", [])}
    for r in ours["rows"]:
        mb = r["bytes"] / 1e6
        t = t_rows.get(r["file"], {})
        et = f"{t['full_s']:.3f}s" if "full_s" in t else "n/a"
        lines.append(
            f"{r['file']:40s} {mb:5.2f} | {r['full_s']:8.3f}s {r['full_wall_s']:6.3f}s {r['parse_s']:6.3f}s {r['features_s']:5.3f}s "
            f"{1 / r['full_s']:9.2f} {mb / r['full_s']:6.2f} | {et:>10s} {str(t.get('sections', '')):>8s}"
        )
    lines.append("")
    for r in ours["rows"]:
        if "sections_only_s" in r:
            lines.append(f"ours, {r['file']}: sections only {r['sections_only_s']:.3f}s, inline facts only "
                         f"{r['ixbrl_facts_only_s']:.3f}s; {r['sections']} Items, {r['facts']} facts after de-duplication")
    for r in theirs.get("rows", []):
        detail = ", ".join(f"{k[:-2]} {v:.3f}s" for k, v in r.items() if k.endswith("_s") and k != "full_s")
        lines.append(f"edgartools, {r['file']}: {detail}; {r.get('sections')} sections")
    lines.append("")
    lines.append(f"import: ours {ours['import_s']:.2f}s, edgartools {theirs.get('import_s', float('nan')):.2f}s")
    lines.append(f"peak RSS (own process, incl. interpreter): ours {ours['peak_rss_mb']:.0f} MB, "
                 f"edgartools {theirs.get('peak_rss_mb', float('nan')):.0f} MB")
    k = ours["rows"][0]
    verdict = "meets" if k["full_s"] < 1.0 else "MISSES"
    lines.append(f"target (1.5 MB inline 10-K: sections + all facts + features < 1 s on one core): {k['full_s']:.3f}s -> {verdict}")
    if "error" in theirs:
        lines.append(f"edgartools run failed: {theirs['error']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--engine", choices=["ours", "edgartools"], help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = ap.parse_args()
    if not _datasets().is_dir():
        sys.exit(f"datasets not found at {_datasets()} (set THUNDERLINE_DATASETS)")
    if args.engine == "ours":
        print(json.dumps(run_ours(args.repeat)))
        return
    if args.engine == "edgartools":
        print(json.dumps(run_edgartools(args.repeat)))
        return
    ours, theirs = _sub("ours", args.repeat), _sub("edgartools", args.repeat)
    if "error" in ours:
        sys.exit(f"our run failed: {ours['error']}")
    print(json.dumps({"ours": ours, "edgartools": theirs}, indent=2) if args.json else _report(ours, theirs))


if __name__ == "__main__":
    main()
