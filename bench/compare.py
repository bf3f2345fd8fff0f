"""Run `makemore bench` and `bench/torch_baseline.py` side by side and print medians and ratios.

The transformer runs with AdamW as makemore trains it (PyTorch: makemore's padded batches;
ours: the words' own positions); its GFLOP/s counts the positions we compute.

For each configuration the implementations (ours; PyTorch eager with autograd; for the MLP,
PyTorch eager with the lecture's manual backward; with `--baseline`, another makemore binary,
such as the version before a change) run in turn, alternating, `--reps` times, each in a fresh
process with the same thread count; the table gives the median steps/s of each, the ratios,
our GFLOP/s and each process's peak resident memory.

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
    layers: int | None  # None: the model has no --layers (wavenet: log2(block) levels)
    batch: int
    threads: int
    ours_steps: int    # timed steps per run, chosen so a run takes about a second
    torch_steps: int
    model: str = "mlp"
    heads: int | None = None  # the transformer's; it has no --hidden (its MLP is 4 x embed)

    def model_args(self) -> list[str]:
        args = ["--block", str(self.block)] if self.model == "bigram" else ["--embed", str(self.embed), "--block", str(self.block)]
        if self.model not in ("transformer", "bigram"):
            args += ["--hidden", str(self.hidden)]
        if self.layers is not None:
            args += ["--layers", str(self.layers)]
        if self.heads is not None:
            args += ["--heads", str(self.heads)]
        return args + ["--batch", str(self.batch), "--threads", str(self.threads)]

    @property
    def optimizer_args(self) -> list[str]:
        """makemore trains the transformer with AdamW (lr 5e-4), as torch_baseline.py does."""
        return ["--optimizer", "adamw"] if self.model in ("transformer", "bigram", "bow", "rnn", "gru") else []

    @property
    def variants(self) -> list[str]:
        """The PyTorch variants of this model: the lecture's manual backward exists for the MLP."""
        return ["autograd", "manual"] if self.model == "mlp" else ["autograd"]


CONFIGS = [
    Config("seed", 10, 64, 3, 1, 32, 1, 60_000, 3_000),
    Config("lecture", 10, 200, 3, 1, 32, 1, 40_000, 2_000),
    Config("lecture", 10, 200, 3, 1, 32, 2, 40_000, 2_000),
    Config("deep", 10, 100, 3, 5, 32, 1, 20_000, 1_000),
    Config("large", 64, 1024, 8, 1, 512, 1, 60, 40),
    Config("large", 64, 1024, 8, 1, 512, 2, 100, 60),
    Config("wavenet", 24, 128, 8, None, 32, 1, 5_000, 1_000, model="wavenet"),
    Config("wavenet", 24, 128, 8, None, 32, 2, 8_000, 1_000, model="wavenet"),
    # makemore's default model: batches of 32 words (block 16: the longest name + 1), AdamW.
    Config("transformer", 64, 256, 16, 4, 32, 1, 1_500, 200, model="transformer", heads=4),
    Config("transformer", 64, 256, 16, 4, 32, 2, 2_000, 200, model="transformer", heads=4),
    # makemore's Bigram (a (27, 27) table; embed and hidden unused) and BoW (n_embd 64, n_embd2 64), AdamW.
    Config("bigram", 27, 27, 16, None, 32, 1, 50_000, 3_000, model="bigram"),
    Config("bow", 64, 64, 16, None, 32, 1, 20_000, 2_000, model="bow"),
    # makemore's RNN and GRU (n_embd 64, n_embd2 64), batches of 32 words, AdamW.
    Config("rnn", 64, 64, 16, None, 32, 1, 4_000, 500, model="rnn"),
    Config("gru", 64, 64, 16, None, 32, 1, 2_000, 250, model="gru"),
]


def run_json(command: list[str]) -> dict:
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ours(binary: str, c: Config) -> dict:
    model = ["--model", c.model] if c.model != "mlp" else []  # a binary from before --model takes none
    return run_json([binary, "bench", *model, *c.model_args(), *c.optimizer_args, "--steps", str(c.ours_steps),
                     "--warmup", str(max(c.ours_steps // 10, 5)), "--json"])


def torch(python: str, c: Config, variant: str) -> dict:
    return run_json([python, str(REPO / "bench" / "torch_baseline.py"), "--model", c.model, *c.model_args(),
                     "--variant", variant, "--steps", str(c.torch_steps), "--warmup", str(max(c.torch_steps // 10, 5)),
                     "--json"])


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
    parser.add_argument("--configs", default="seed,lecture,deep,large,wavenet,transformer,bigram,bow,rnn,gru",
                        help="comma-separated configuration names")
    parser.add_argument("--baseline", help="another makemore binary (the version before a change) to run alongside")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch (with --baseline: before / after only)")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    args = parser.parse_args()

    import torch as torch_module  # only for its version and thread count
    wanted = args.configs.split(",")
    rows = []
    for c in [c for c in CONFIGS if c.name in wanted]:
        runners = {"ours": lambda c=c: ours(args.makemore, c)}
        if args.baseline:
            runners["before"] = lambda c=c: ours(args.baseline, c)
        if not args.no_torch:
            for variant in c.variants:
                runners[variant] = lambda c=c, v=variant: torch(sys.executable, c, v)
        samples: dict[str, list[dict]] = {k: [] for k in runners}
        for rep in range(args.reps):
            for name, run in runners.items():
                samples[name].append(run())
            print(f"{c.name} threads {c.threads} rep {rep + 1}/{args.reps}: "
                  + ", ".join(f"{k} {v[-1]['steps_per_s']:.0f}" for k, v in samples.items()), file=sys.stderr)
        row = {k: statistics.median(s["steps_per_s"] for s in v) for k, v in samples.items()}
        row["range"] = {k: (min(s["steps_per_s"] for s in v), max(s["steps_per_s"] for s in v)) for k, v in samples.items()}
        row.update({
            "config": c, "gflops": statistics.median(s["gflops"] for s in samples["ours"]),
            "ours_rss": max(s["peak_rss_mb"] for s in samples["ours"]),
            "torch_rss": max((s["peak_rss_mb"] for k in c.variants for s in samples.get(k, [])), default=float("nan")),
        })
        rows.append(row)

    columns = ["ours"] + (["before"] if args.baseline else []) + ([] if args.no_torch else ["autograd", "manual"])
    names = {"ours": "ours steps/s", "before": "before steps/s", "autograd": "PyTorch autograd", "manual": "PyTorch manual"}
    ratios = [k for k in columns if k != "ours"]
    header = ("| config | shape (embed, hidden, block, layers, batch) | threads | " + " | ".join(names[k] for k in columns)
              + " | " + " | ".join(f"ours / {k}" for k in ratios) + " | ours GFLOP/s | peak RSS ours / PyTorch (MB) |")
    lines = [header, "|---" * (6 + len(columns) + len(ratios)) + "|"]

    def cell(r: dict, k: str) -> str:
        if k not in r:
            return "-"
        low, high = r["range"][k]
        return f"{r[k]:,.0f} ({low:,.0f}-{high:,.0f})"

    for r in rows:
        c = r["config"]
        layers = "-" if c.layers is None else c.layers
        hidden = f"{c.hidden} (4 x embed), heads {c.heads}" if c.model == "transformer" else c.hidden
        lines.append(
            f"| {c.name} | {c.embed}, {hidden}, {c.block}, {layers}, {c.batch} | {c.threads} | "
            + " | ".join(cell(r, k) for k in columns) + " | "
            + " | ".join(f"{r['ours'] / r[k]:.2f}x" if k in r else "-" for k in ratios)
            + f" | {r['gflops']:.1f} | {r['ours_rss']:.0f} / {r['torch_rss']:.0f} |")
    machine = (f"{cpu_name()}, {platform.machine()}, Python {platform.python_version()}, "
               f"PyTorch {torch_module.__version__}; medians (min-max) of {args.reps} alternating runs")
    table = "\n".join(lines)
    print(machine)
    print(table)
    if args.markdown:
        args.markdown.write_text(machine + "\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
