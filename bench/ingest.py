"""Ingest benchmark: a large generated CSV through the ingest engine, against plain DuckDB.

    python bench/ingest.py [--rows 20000000] [--runs 3] [--dedupe] [--dir /tmp/aimass-bench-ingest]

Generates (once) a CSV of mixed types (ints, floats with gaps and outliers, padded strings,
categories, timestamps, 1% exact duplicate rows): 20M rows make about 2.7 GB. Then, each in a
fresh child process so peak RSS is its own, alternating so machine noise hits both alike:

* baseline — DuckDB `COPY (SELECT * FROM read_csv(...)) TO '...' (FORMAT parquet, COMPRESSION
  zstd)`, as the issue defines it; baseline-l1 — the same at zstd level 1, the level the ingest
  writer uses, to show how much of the ratio the level accounts for;
* ingest   — AI Mass's ingest pipeline (what a worker runs for a job, without the upload to the
  store and the registry call): read with the sniffer, a cleaning recipe (trim strings, fill
  missing with the median, clip IQR outliers, filter), a seeded 80/10/10 random split, Parquet
  parts, and column statistics;
* dedupe   — with --dedupe: the same with a full-row drop_duplicates step added (a window over
  every column, then the rows put back in order: the costliest step there is).

All run with the same DuckDB memory limit and threads. Prints rows/s and peak RSS (medians of the
runs) and the speed ratios against the baseline: the ratio of the medians, and each round's own
ratio (a round runs every kind back to back, so its ratio shares the machine's state).
Targets (issue 3): ratio >= 0.7; peak RSS < 1.5 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = "1GB"
KINDS = ("baseline", "baseline-l1", "ingest", "dedupe")
THREADS = 2


def generate(path: Path, rows: int) -> None:
    import duckdb

    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    distinct = rows - rows // 100  # the last 1% repeat earlier rows exactly
    con = duckdb.connect()
    con.execute(f"SET threads={THREADS}; SET memory_limit='{MEMORY_LIMIT}'")
    con.execute("SET enable_progress_bar=false")
    con.execute(
        f"""
        COPY (
          SELECT
            i::BIGINT AS id,
            TIMESTAMP '2024-01-01' + to_seconds((i * 37) % 31536000) AS event_time,
            ['north', 'south', 'east', 'west', 'central'][1 + (hash(i) % 5)::INT] AS region,
            '  customer ' || (hash(i * 7) % 100000)::VARCHAR || '  ' AS customer,
            CASE WHEN hash(i * 3) % 50 = 0 THEN NULL
                 WHEN hash(i * 5) % 1000 = 0 THEN 1e6
                 ELSE round(((hash(i * 11) % 100000) / 100.0)::DOUBLE, 2) END AS amount,
            (hash(i * 13) % 120)::INT AS quantity,
            (hash(i * 17) % 2 = 0) AS is_returning,
            'note ' || md5(i::VARCHAR) || ' ' || md5((i * 31)::VARCHAR) AS note
          FROM (SELECT CASE WHEN r >= {distinct} THEN r - {distinct} ELSE r END AS i
                FROM range({rows}) t(r))
        ) TO '{tmp}' (FORMAT csv, HEADER true)
        """
    )
    tmp.rename(path)


def baseline(csv: Path, out: Path, level_one: bool) -> int:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads={THREADS}; SET memory_limit='{MEMORY_LIMIT}'")
    con.execute("SET enable_progress_bar=false")
    con.execute(f"SET temp_directory='{out / 'spill'}'")
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv}')) TO '{out / 'plain.parquet'}' "
        "(FORMAT parquet, COMPRESSION zstd" + (", COMPRESSION_LEVEL 1)" if level_one else ")")
    )
    counted = con.execute(f"SELECT count(*) FROM read_parquet('{out / 'plain.parquet'}')")
    return int(counted.fetchall()[0][0])


def recipe_steps(dedupe: bool) -> list[Any]:
    from aimass.ingest.v1 import ingest_pb2 as ipb

    steps = [
        ipb.Step(clean_strings=ipb.StringCleanStep(columns=["customer"], trim=True)),
        ipb.Step(
            missing_values=ipb.MissingValuesStep(
                columns=["amount"], strategy=ipb.MISSING_VALUE_STRATEGY_FILL_MEDIAN
            )
        ),
        ipb.Step(
            outliers=ipb.OutliersStep(
                columns=["amount"], method=ipb.OUTLIER_METHOD_IQR, action=ipb.OUTLIER_ACTION_CLIP
            )
        ),
        ipb.Step(
            filter=ipb.FilterStep(
                keep=ipb.Predicate(
                    comparison=ipb.Comparison(
                        column="quantity", op=ipb.Comparison.OPERATOR_GE, value={"number_value": 0}
                    )
                )
            )
        ),
    ]
    if dedupe:
        steps.insert(3, ipb.Step(drop_duplicates=ipb.DropDuplicatesStep()))
    return steps


def ingest(csv: Path, out: Path, dedupe: bool) -> int:
    from aimass.ingest.v1 import ingest_pb2 as ipb
    from services.ingest.cancel import CancelToken
    from services.ingest.pipeline import PipelineRequest, SourceInput, run_pipeline

    source = ipb.Source(alias="events", file=ipb.FileSource(url=str(csv)))
    split = ipb.SplitSpec(
        method=ipb.SPLIT_METHOD_RANDOM,
        seed=7,
        parts=[
            ipb.SplitSpec.Part(name="train", fraction=0.8),
            ipb.SplitSpec.Part(name="validation", fraction=0.1),
            ipb.SplitSpec.Part(name="test", fraction=0.1),
        ],
    )
    recipe = ipb.Recipe(sources=[source], steps=recipe_steps(dedupe), split=split)
    request = PipelineRequest(
        recipe=recipe,
        inputs=[SourceInput(source=source, location=str(csv))],
        work_dir=out,
        memory_limit=MEMORY_LIMIT,
        threads=THREADS,
    )
    output = run_pipeline(request, lambda _progress: None, CancelToken())
    return output.result.row_count


def child(kind: str, csv: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    if kind.startswith("baseline"):
        rows = baseline(csv, out, level_one=kind == "baseline-l1")
    else:
        rows = ingest(csv, out, dedupe=kind == "dedupe")
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started}))


def measure(kind: str, csv: Path, work: Path) -> dict[str, float]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, "--csv", str(csv), "--dir", str(work)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{kind} failed with status {status}")
    result = json.loads(output)
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/aimass-bench-ingest"))
    parser.add_argument(
        "--dedupe", action="store_true", help="also measure the recipe with drop_duplicates"
    )
    parser.add_argument("--child", choices=KINDS)
    parser.add_argument("--csv", type=Path)
    options = parser.parse_args()
    if options.child:
        child(options.child, options.csv, options.dir / options.child)
        return
    options.dir.mkdir(parents=True, exist_ok=True)
    csv = options.dir / f"events-{options.rows}.csv"
    generate(csv, options.rows)
    size = csv.stat().st_size
    kinds = [kind for kind in KINDS if options.dedupe or kind != "dedupe"]
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(options.runs):
        for kind in results:
            results[kind].append(measure(kind, csv, options.dir))
    print(
        f"input: {csv} ({size / 2**30:.2f} GiB, {options.rows:,} rows), "
        f"DuckDB memory_limit {MEMORY_LIMIT}, threads {THREADS}, {options.runs} runs each"
    )
    speeds = {}
    for kind, runs in results.items():
        rates = [options.rows / r["seconds"] for r in runs]
        speeds[kind] = statistics.median(rates)
        rss = statistics.median(r["peak_rss_mib"] for r in runs)
        print(
            f"  {kind:11}: {speeds[kind]:,.0f} rows/s (runs {[round(x) for x in rates]}), "
            f"peak RSS {rss:,.0f} MiB (max {max(r['peak_rss_mib'] for r in runs):,.0f}), "
            f"rows out {runs[0]['rows']:,}"
        )
    for kind in [kind for kind in ("ingest", "dedupe") if kind in kinds]:
        # Each round runs every kind back to back: a round's ratio shares the machine's state.
        rounds = [
            b["seconds"] / r["seconds"]
            for r, b in zip(results[kind], results["baseline"], strict=True)
        ]
        print(
            f"  {kind} / baseline speed: {speeds[kind] / speeds['baseline']:.2f}x "
            f"(ratio of the medians); per round {[round(x, 2) for x in rounds]}, "
            f"median {statistics.median(rounds):.2f}x"
        )
    print(
        "  ingest / baseline-l1 speed (the baseline at the writer's zstd level 1): "
        f"{speeds['ingest'] / speeds['baseline-l1']:.2f}x"
    )


if __name__ == "__main__":
    main()
