"""The benchmark runs end to end in --quick mode on a tiny config and writes well-formed JSON.

No timing assertions: timings on a shared machine mean nothing in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_quick_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "main.py", "bench", "--quick", "--generators", "lite", "--sizes", "64x64", "128x64"]
    cmd += ["--no-styles", "--json", str(out)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "scaling with pixel count" in run.stdout
    data = json.loads(out.read_text())
    assert data["torch"] and data["threads"] >= 1
    (result,) = data["results"]
    assert result["generator"] == "lite" and result["params"] > 0 and result["load_s"] > 0
    assert set(result["sizes"]) == {"64x64", "128x64"}
    for row in result["sizes"].values():
        for column in ("bare", "engine", "naive"):
            assert row[column]["median"] > 0 and row[column]["p95"] >= row[column]["median"]
            assert row[column]["n"] >= 1
        assert row["engine_fps"] > 0 and row["peak_rss_mib"] > 0


def test_bench_costs_suite_measures_each_stage(tmp_path: Path) -> None:
    """`main.py bench --suite costs` on the shipped default style: every stage on and off."""
    out = tmp_path / "costs.json"
    cmd = [sys.executable, "main.py", "bench", "--suite", "costs", "--quick", "--costs-sizes", "64"]
    run = subprocess.run([*cmd, "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "stage costs:" in run.stdout
    data = json.loads(out.read_text())
    assert data["results"] == []  # the generator tables are another suite
    stages = {row["stage"].split(" ")[0] for row in data["costs"]["rows"]}
    assert stages == {"stabilizer", "detail", "detail_scene", "palette", "colour_guard"}
    for row in data["costs"]["rows"]:
        if "skipped" not in row:
            assert row["on_ms"] > 0 and row["off_ms"] > 0 and row["frames"] >= 1


def test_style_cost_compares_two_styles_in_turns() -> None:
    """`python -m benchmarks.style_cost`: two shipped styles (one of them wider) through the engine."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.style_cost",
        "--styles",
        "vangogh",
        str(REPO / "weights" / "monet.safetensors"),
    ]
    cmd += ["--size", "64", "--precision", "fp32", "--rounds", "1", "--per-round", "3"]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.split() for line in run.stdout.splitlines() if " fp32 " in f" {line} "]
    assert [row[0] for row in rows] == ["vangogh", str(REPO / "weights" / "monet.safetensors")]
    assert rows[0][-1] == "1.00x" and float(rows[1][-1].rstrip("x")) > 0
    assert all(row[1:3] == ["fp32", "fp32"] for row in rows)  # asked, and what the engine ran
