"""Benchmark the what-if page: from the Run click to the verdict, and when progress shows.

Drives the page object as a browser would (the Run button's click), on the
reference (2.1M mailboxes) and on the small trust, 20 replications each::

    python benchmarks/bench_app.py
    python benchmarks/bench_app.py --replications 50 --scenario scenarios/small-trust.toml

Reports, per scenario: when the progress bar appeared (set on the click, before
the job starts), when the first block of replications was counted on it, and
when the verdict was on the page (charts drawn). Targets (issue 18): the
reference in <= 10 s, the small trust in <= 2 s, progress visible within 1 s.

Measured 2026-12-07 (load ~0.3-0.9, compiled kernels cached): reference, bar shown
0.054-0.058 s, first replications counted 2.1-2.5 s, verdict 6.04 / 5.67 / 5.85 s
(median 5.85 s); small trust 0.006 s / 0.28 s / 0.53 s (median of 0.53, 0.51, 0.59;
mostly the workers loading the kernels). Heavier load (other work on the two cores)
stretches the reference several-fold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sim  # noqa: E402  (after the sys.path line: run as a script)
from sim.app.page import WhatIfPage  # noqa: E402

SCENARIOS = (ROOT / "scenarios" / "nhsmail-2020.toml", ROOT / "scenarios" / "small-trust.toml")
POLL_SECONDS = 0.005


def time_page(path: Path, replications: int) -> dict[str, float | str]:
    page = WhatIfPage(sim.load(path))
    page.form.field("scenario.replications").widgets[0].value = replications
    clicked = time.perf_counter()
    page.run_button.clicks += 1  # what a browser's click does
    bar_shown = time.perf_counter() - clicked if page.progress.visible else float("nan")
    first_block = float("nan")
    while page.busy:
        if first_block != first_block and page.progress.value > 0:
            first_block = time.perf_counter() - clicked
        time.sleep(POLL_SECONDS)
    verdict = time.perf_counter() - clicked
    head = page.verdict.object or ""
    shown = "PASS" if ">PASS<" in head else "FAIL" if ">FAIL<" in head else page.status.object
    return {
        "scenario": path.name,
        "bar_shown_s": bar_shown,
        "first_block_s": first_block,
        "verdict_s": verdict,
        "verdict": shown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--scenario", type=Path, action="append")
    args = parser.parse_args()
    for path in args.scenario or SCENARIOS:
        row = time_page(path, args.replications)
        print(
            f"{row['scenario']}: {args.replications} replications; progress bar shown "
            f"{row['bar_shown_s']:.3f} s, first replications counted {row['first_block_s']:.2f} s, "
            f"verdict {row['verdict']} on the page {row['verdict_s']:.2f} s after the click",
            flush=True,
        )


if __name__ == "__main__":
    main()
