"""Run `makemore bench` and `bench/torch_baseline.py` side by side and print medians and ratios.

For each configuration the three implementations (ours; PyTorch eager with autograd; PyTorch
eager with the lecture's manual backward) run in turn, alternating, `--reps` times, each in a
fresh process with the same thread count; the table gives the median steps/s of each, the ratio
ours / PyTorch, our GFLOP/s and each process's peak resident memory.

Use `bench/compare`, which builds the binary and finds the Python environment.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    name: str
    embed: int
    hidden: int
    block: int
    layers: int
    batch: int
    threads: int
    ours_steps: int    # timed steps per run, chosen so a run takes about a second
    torch_steps: int

    def model_args(self) -> list[str]:
        return ["--embed", str(self.embed), "--hidden", str(self.hidden), "--block", str(self.block),
                "--layers", str(self.layers), "--batch", str(self.batch), "--threads", str(self.threads)]


CONFIGS = [
    Config("seed", 10, 64, 3, 1, 32, 1, 60_000, 3_000),
    Config("lecture", 10, 200, 3, 1, 32, 1, 40_000, 2_000),
    Config("lecture", 10, 200, 3, 1, 32, 2, 40_000, 2_000),
    Config("deep", 10, 100, 3, 5, 32, 1, 20_000, 1_000),
    Config("large", 64, 1024, 8, 1, 512, 1, 60, 40),
    Config("large", 64, 1024, 8, 1, 512, 2, 100, 60),
]


def run_json(command: list[str]) -> dict:
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ours(binary: str, c: Config) -> dict:
    return run_json([binary, "bench", *c.model_args(), "--steps", str(c.ours_steps),
                     "--warmup", str(max(c.ours_steps // 10, 5)), "--json"])


def torch(python: str, c: Config, variant: str) -> dict:
    return run_json([python, str(REPO / "bench" / "torch_baseline.py"), *c.model_args(), "--variant", variant,
                     "--steps", str(c.torch_steps), "--warmup", str(max(c.torch_steps // 10, 5)), "--json"])


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--makemore", required=True, help="path of the release makemore binary")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each implementation (default 5)")
    parser.add_argument("--configs", default="seed,lecture,deep,large", help="comma-separated configuration names")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    args = parser.parse_args()

    import torch as torch_module  # only for its version and thread count
    wanted = args.configs.split(",")
    rows = []
    for c in [c for c in CONFIGS if c.name in wanted]:
        samples: dict[str, list[dict]] = {"ours": [], "autograd": [], "manual": []}
        for rep in range(args.reps):
            samples["ours"].append(ours(args.makemore, c))
            samples["autograd"].append(torch(sys.executable, c, "autograd"))
            samples["manual"].append(torch(sys.executable, c, "manual"))
            print(f"{c.name} threads {c.threads} rep {rep + 1}/{args.reps}: "
                  + ", ".join(f"{k} {v[-1]['steps_per_s']:.0f}" for k, v in samples.items()), file=sys.stderr)
        med = {k: statistics.median(s["steps_per_s"] for s in v) for k, v in samples.items()}
        rows.append({
            "config": c, "ours": med["ours"], "autograd": med["autograd"], "manual": med["manual"],
            "gflops": statistics.median(s["gflops"] for s in samples["ours"]),
            "ours_rss": max(s["peak_rss_mb"] for s in samples["ours"]),
            "torch_rss": max(s["peak_rss_mb"] for s in samples["autograd"] + samples["manual"]),
        })

    header = ("| config | shape (embed, hidden, block, layers, batch) | threads | ours steps/s | PyTorch autograd | "
              "PyTorch manual | ours / autograd | ours / manual | ours GFLOP/s | peak RSS ours / PyTorch (MB) |")
    lines = [header, "|---" * 10 + "|"]
    for r in rows:
        c = r["config"]
        lines.append(
            f"| {c.name} | {c.embed}, {c.hidden}, {c.block}, {c.layers}, {c.batch} | {c.threads} | {r['ours']:,.0f} | "
            f"{r['autograd']:,.0f} | {r['manual']:,.0f} | {r['ours'] / r['autograd']:.1f}x | "
            f"{r['ours'] / r['manual']:.1f}x | {r['gflops']:.1f} | {r['ours_rss']:.0f} / {r['torch_rss']:.0f} |")
    machine = (f"{cpu_name()}, {platform.machine()}, Python {platform.python_version()}, "
               f"PyTorch {torch_module.__version__}; medians of {args.reps} alternating runs")
    table = "\n".join(lines)
    print(machine)
    print(table)
    if args.markdown:
        args.markdown.write_text(machine + "\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
