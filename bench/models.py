"""Train every model with its default recipe and write the README's model table.

For each model: `makemore train --model M --seed S` for each seed (the losses of the table are
medians over the seeds, of the finished model, per character on the same 80/10/10 split),
wall time and steps of the default seed's run, five samples of that run (`makemore sample
--count 5`), and training steps/s against PyTorch eager running the same model as makemore does
(`bench/compare.py`'s one-thread configuration of that model, alternating, medians).

Use `bench/models`, which builds the binary and finds the Python environment.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the configurations and runners of the side-by-side benchmark)

REPO = compare.REPO
DEFAULT_SEED = 2147483647
PEAK_GFLOPS = 250.0  # one core, FP32, 16-lane fused multiply-adds by CPU time (bench/peak.c, bench/RESULTS.md)

# The README's rows, in order: (--model, the name in the table, compare.py's one-thread configuration).
MODELS = [
    ("mlp", "MLP (the lecture's, calibrated)", "lecture"),
    ("wavenet", "WaveNet (makemore part 5)", "wavenet"),
    ("transformer", "Transformer (makemore's default)", "transformer"),
    ("bigram", "Bigram (makemore's)", "bigram"),
    ("bow", "BoW (makemore's)", "bow"),
    ("rnn", "RNN (makemore's)", "rnn"),
    ("gru", "GRU (makemore's)", "gru"),
]
BEGIN = "<!-- bench/models: begin -->"
END = "<!-- bench/models: end -->"


@dataclass
class ModelResult:
    model: str
    title: str
    parameters: int = 0
    steps: int = 0
    wall_s: float = 0.0
    losses: dict[int, dict[str, float]] = field(default_factory=dict)  # seed -> train/val/test
    samples: list[str] = field(default_factory=list)
    ours_steps_per_s: float = float("nan")
    torch_steps_per_s: float = float("nan")
    gflops: float = float("nan")  # ours, in the FLOP count of `makemore bench`

    def median(self, split: str) -> float:
        return statistics.median(loss[split] for loss in self.losses.values())


def run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bench/models: {' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def train(binary: str, model: str, seed: int, out: Path, extra: list[str]) -> tuple[str, float]:
    start = time.monotonic()
    log = run([binary, "train", "--model", model, "--seed", str(seed), "--out", str(out), "--overwrite", *extra])
    return log, time.monotonic() - start


def measure(binary: str, python: str, result: ModelResult, config_name: str, reps: int) -> None:
    config = next(c for c in compare.CONFIGS if c.name == config_name and c.threads == 1)
    ours, theirs = [], []
    for _ in range(reps):  # alternating, each in a fresh process
        ours.append(compare.ours(binary, config))
        theirs.append(compare.torch(python, config, "autograd")["steps_per_s"])
    result.ours_steps_per_s = statistics.median(o["steps_per_s"] for o in ours)
    result.gflops = statistics.median(o["gflops"] for o in ours)
    result.torch_steps_per_s = statistics.median(theirs)


def table(results: list[ModelResult], seeds: list[int]) -> str:
    lines = [
        "| model | `--model` | parameters | train | val | test | steps, wall time | steps/s vs PyTorch eager (1 thread) | five samples |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r.ours_steps_per_s / r.torch_steps_per_s
        speed = (f"{ratio:.1f}x ({r.ours_steps_per_s:,.0f} vs {r.torch_steps_per_s:,.0f})"
                 if ratio == ratio else "-")
        wall = f"{r.wall_s:.1f} s" if r.wall_s < 100 else f"{r.wall_s:.0f} s"
        lines.append(
            f"| {r.title} | `{r.model}` | {r.parameters:,} | {r.median('train'):.4f} | {r.median('val'):.4f} | "
            f"{r.median('test'):.4f} | {r.steps:,}, {wall} | {speed} | {', '.join(r.samples)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--makemore", required=True, help="path of the release makemore binary")
    parser.add_argument("--models", default=",".join(m for m, _, _ in MODELS), help="comma-separated models")
    parser.add_argument("--seeds", default=f"{DEFAULT_SEED},1,2", help="comma-separated seeds (the first gives wall time and samples)")
    parser.add_argument("--reps", type=int, default=3, help="alternating speed measurements per model (0: none)")
    parser.add_argument("--steps", type=int, help="override every recipe's steps (a quick try of this script; not for the table)")
    parser.add_argument("--readme", action="store_true", help="replace the table in README.md between its markers")
    parser.add_argument("--markdown", type=Path, help="write the table and the per-seed losses to this file")
    args = parser.parse_args()

    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = args.models.split(",")
    extra = ["--steps", str(args.steps)] if args.steps else []
    results = []
    with tempfile.TemporaryDirectory() as work:
        for model, title, config_name in [m for m in MODELS if m[0] in wanted]:
            result = ModelResult(model, title)
            for seed in seeds:
                out = Path(work) / f"{model}-{seed}"
                log, wall = train(args.makemore, model, seed, out, extra)
                # train prints the finished model's losses (what `makemore eval` would print again)
                result.losses[seed] = {split: float(re.search(rf"^{split} +([0-9.]+)$", log, re.M).group(1))
                                       for split in ("train", "val", "test")}
                if seed == seeds[0]:
                    result.wall_s = wall
                    result.parameters = int(re.search(r"^  model .*: (\d+) parameters", log, re.M).group(1))
                    result.steps = int(re.search(r"^trained (\d+) steps", log, re.M).group(1))
                    sampled = run([args.makemore, "sample", "--out", str(out), "--count", "5"])
                    result.samples = re.findall(r"^(\S+) +(?:new|in train|in dev/test)$", sampled, re.M)
                print(f"{model} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.losses[seed].items())
                      + f", {wall:.1f} s", file=sys.stderr)
            if args.reps > 0:
                measure(args.makemore, sys.executable, result, config_name, args.reps)
                print(f"{model}: {result.ours_steps_per_s:,.0f} vs {result.torch_steps_per_s:,.0f} steps/s", file=sys.stderr)
            results.append(result)

    text = table(results, seeds)
    print(text)
    if args.markdown:
        per_seed = ["| model | seed | train | val | test |", "|---|---|---|---|---|"]
        for r in results:
            per_seed += [f"| {r.model} | {s} | {l['train']:.4f} | {l['val']:.4f} | {l['test']:.4f} |" for s, l in r.losses.items()]
        args.markdown.write_text(
            f"{compare.cpu_name()}; losses: medians over seeds {', '.join(map(str, seeds))}; wall time and samples: "
            f"seed {seeds[0]}; steps/s: medians of {args.reps} alternating one-thread runs\n\n"
            + text + "\n\nPer seed:\n\n" + "\n".join(per_seed)
            + "\n\nOurs in GFLOP/s (one thread; the fraction of the core's measured 250 GFLOP/s FP32 peak):\n\n"
            + "| model | steps/s | GFLOP/s | of peak |\n|---|---|---|---|\n"
            + "".join(f"| {r.model} | {r.ours_steps_per_s:,.0f} | {r.gflops:.2f} | {100 * r.gflops / PEAK_GFLOPS:.0f} % |\n"
                      for r in results))
    if args.readme:
        readme = REPO / "README.md"
        content = readme.read_text()
        if BEGIN not in content or END not in content:
            sys.exit(f"bench/models: README.md has no {BEGIN} ... {END} markers")
        head, rest = content.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        temporary = readme.with_suffix(".md.tmp")
        temporary.write_text(head + BEGIN + "\n" + text + "\n" + END + tail)
        temporary.replace(readme)  # atomically
    return 0


if __name__ == "__main__":
    sys.exit(main())
