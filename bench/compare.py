"""Run `makemore bench` and its peers side by side and print medians, ranges and ratios.

For each configuration the implementations run in turn, alternating, `--reps` times, each in a
fresh process with the same thread count, pinned with taskset to core 0 (one thread) or cores
0-1 (two threads):

  ours       `makemore bench` (with `--baseline`, also `before`: another makemore binary, such
             as the version before a change)
  eager      PyTorch eager with autograd (bench/torch_baseline.py); `manual`, the lecture's
             hand-written backward in PyTorch, for the mlp
  jax-jit    JAX, the whole step jitted, one step per call (bench/peers.py)
  jax-scan   JAX, `lax.scan` over 100 steps per call, indices drawn beforehand
  compile    torch.compile (inductor) of the whole step as one fullgraph graph

The same model, data, batch, optimizer (SGD lr 0.1 for the mlp and wavenet; AdamW lr 5e-4 for
the word models) and thread count for all. In the first repetition each JAX and torch.compile
peer first trains from the initial values and checks its loss (bench/peers.py CHECKS), so a
peer that does not train fails the run. The table gives, per configuration and system, the
median steps/s (min-max), ours / it, the compile times (the first repetition's, cold: each
comparison gives torch.compile a fresh on-disk cache; then the median of the later ones, which
torch.compile takes from that cache), GFLOP/s of
the matrix products as each counts them and that as a fraction of the peak (250 GFLOP/s a
core, measured by bench/peak.c with 16-lane FMAs; `--peak` to give another), and peak resident
memory. The word models: ours computes
(and counts) each word's own positions, the peers all `block` padded positions.

Use `bench/compare`, which builds the binary and finds the Python environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEAK_GFLOPS = 250.0  # one core, FP32, 16-lane FMAs (bench/peak.c: 245-250; the 117 first measured was 8-lane)
PEERS = ("jax-jit", "jax-scan", "compile")
NAMES = {"ours": "ours", "before": "before", "autograd": "PyTorch eager", "manual": "PyTorch eager, manual backward",
         "jax-jit": "JAX jit, a step a call", "jax-scan": "JAX jit, lax.scan 100 steps a call",
         "compile": "torch.compile, fullgraph"}


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
    peer_steps: int    # timed steps of the JAX and torch.compile peers
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
        """makemore trains the word models with AdamW (lr 5e-4), as torch_baseline.py does."""
        return ["--optimizer", "adamw"] if self.model in ("transformer", "bigram", "bow", "rnn", "gru") else []

    @property
    def variants(self) -> list[str]:
        """The PyTorch eager variants of this model: the lecture's manual backward exists for the MLP."""
        return ["autograd", "manual"] if self.model == "mlp" else ["autograd"]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.threads}"


CONFIGS = [
    Config("seed", 10, 64, 3, 1, 32, 1, 60_000, 3_000, 10_000),
    Config("lecture", 10, 200, 3, 1, 32, 1, 40_000, 2_000, 8_000),
    Config("lecture", 10, 200, 3, 1, 32, 2, 40_000, 2_000, 8_000),
    Config("deep", 10, 100, 3, 5, 32, 1, 20_000, 1_000, 3_000),
    Config("large", 64, 1024, 8, 1, 512, 1, 60, 40, 50),
    Config("large", 64, 1024, 8, 1, 512, 2, 100, 60, 80),
    Config("wavenet", 24, 128, 8, None, 32, 1, 5_000, 1_000, 2_000, model="wavenet"),
    Config("wavenet", 24, 128, 8, None, 32, 2, 8_000, 1_000, 2_000, model="wavenet"),
    # makemore's default model: batches of 32 words (block 16: the longest name + 1), AdamW.
    Config("transformer", 64, 256, 16, 4, 32, 1, 1_500, 200, 300, model="transformer", heads=4),
    Config("transformer", 64, 256, 16, 4, 32, 2, 2_000, 200, 300, model="transformer", heads=4),
    # makemore's Bigram (a (27, 27) table; embed and hidden unused) and BoW (n_embd 64, n_embd2 64), AdamW.
    Config("bigram", 27, 27, 16, None, 32, 1, 50_000, 3_000, 10_000, model="bigram"),
    Config("bow", 64, 64, 16, None, 32, 1, 20_000, 2_000, 3_000, model="bow"),
    # makemore's RNN and GRU (n_embd 64, n_embd2 64), batches of 32 words, AdamW.
    Config("rnn", 64, 64, 16, None, 32, 1, 4_000, 500, 1_000, model="rnn"),
    Config("gru", 64, 64, 16, None, 32, 1, 2_000, 250, 500, model="gru"),
]
# Every model the tool trains at its default configuration, one thread, and the large MLP on two.
EVERY_MODEL = "lecture@1,large,wavenet@1,transformer@1,bigram,bow,rnn,gru"


def pin(threads: int) -> list[str]:
    """taskset to core 0 for one thread, cores 0..threads-1 for more ([] without taskset)."""
    if PIN and subprocess.run(["sh", "-c", "command -v taskset"], capture_output=True).returncode == 0:
        return ["taskset", "-c", ",".join(str(i) for i in range(threads))]
    return []


PIN = True


def run_json(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} exited {done.returncode}:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(binary: str, c: Config) -> dict:
    model = ["--model", c.model] if c.model != "mlp" else []  # a binary from before --model takes none
    return run_json([*pin(c.threads), binary, "bench", *model, *c.model_args(), *c.optimizer_args,
                     "--steps", str(c.ours_steps), "--warmup", str(max(c.ours_steps // 10, 5)), "--json"])


def torch(python: str, c: Config, variant: str) -> dict:
    return run_json([*pin(c.threads), python, str(REPO / "bench" / "torch_baseline.py"), "--model", c.model,
                     *c.model_args(), "--variant", variant, "--steps", str(c.torch_steps),
                     "--warmup", str(max(c.torch_steps // 10, 5)), "--json"])


def peer(python: str, c: Config, system: str, check: bool) -> dict:
    scan = min(100, c.peer_steps)
    args = [*pin(c.threads), python, str(REPO / "bench" / "peers.py"), "--system", system, "--model", c.model,
            *c.model_args(), "--steps", str(c.peer_steps), "--warmup", str(max(c.peer_steps // 10, scan)),
            "--scan", str(scan), "--json"]
    if check:
        args += ["--check", c.name]
    return run_json(args)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def selected(wanted: str) -> list[Config]:
    """Configurations by name, or name@threads for one thread count."""
    out = []
    for item in wanted.split(","):
        name, _, threads = item.partition("@")
        found = [c for c in CONFIGS if c.name == name and (not threads or str(c.threads) == threads)]
        if not found:
            raise SystemExit(f"error: no configuration {item!r} (names: {', '.join(dict.fromkeys(c.name for c in CONFIGS))}; "
                             f"name@threads picks one thread count)")
        out += [c for c in found if c not in out]
    return out


def main() -> int:
    global PIN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--makemore", required=True, help="path of the release makemore binary")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each implementation (default 5)")
    parser.add_argument("--configs", default="seed,lecture,deep,large,wavenet,transformer,bigram,bow,rnn,gru",
                        help="comma-separated configuration names, name@threads for one thread count "
                             f"(`every-model`: {EVERY_MODEL}, the table of bench/RESULTS.md)")
    parser.add_argument("--baseline", help="another makemore binary (the version before a change) to run alongside")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch eager and the peers (with --baseline: before / after only)")
    parser.add_argument("--no-peers", action="store_true", help="skip JAX and torch.compile (ours and PyTorch eager only)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"which of {', '.join(PEERS)} to run (default all)")
    parser.add_argument("--no-manual", action="store_true", help="skip the mlp's PyTorch eager manual-backward variant")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    parser.add_argument("--peak", type=float, default=PEAK_GFLOPS,
                        help=f"one core's FP32 GFLOP/s for the fraction-of-peak column (default {PEAK_GFLOPS:g}; "
                             "bench/peak.c measures it)")
    parser.add_argument("--raw", type=Path, help="also write every run's JSON, by configuration and system, to this file")
    args = parser.parse_args()
    PIN = not args.no_pin
    peers = [] if args.no_torch or args.no_peers else [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            parser.error(f"--peers: unknown peer {p!r} (known: {', '.join(PEERS)})")
    configs = selected(EVERY_MODEL if args.configs == "every-model" else args.configs)

    versions = {"torch": subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                                        capture_output=True, text=True).stdout.strip()}
    if any(p.startswith("jax") for p in peers):
        versions["jax"] = subprocess.run([sys.executable, "-c", "import jax; print(jax.__version__)"],
                                         capture_output=True, text=True).stdout.strip()
    # torch.compile caches compiled graphs on disk: a fresh cache, so that the first run compiles cold
    cache = tempfile.mkdtemp(prefix="compare-inductor-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    rows = []
    for c in configs:
        runners = {"ours": lambda rep, c=c: ours(args.makemore, c)}
        if args.baseline:
            runners["before"] = lambda rep, c=c: ours(args.baseline, c)
        if not args.no_torch:
            for variant in c.variants:
                if variant == "manual" and args.no_manual:
                    continue
                runners[variant] = lambda rep, c=c, v=variant: torch(sys.executable, c, v)
        for p in peers:
            runners[p] = lambda rep, c=c, p=p: peer(sys.executable, c, p, check=rep == 0)
        samples: dict[str, list[dict]] = {k: [] for k in runners}
        for rep in range(args.reps):
            order = list(runners) if rep % 2 == 0 else list(reversed(runners))  # alternate, and the order too
            for name in order:
                samples[name].append(runners[name](rep))
            print(f"{c.label} rep {rep + 1}/{args.reps}: "
                  + ", ".join(f"{k} {v[-1]['steps_per_s']:.0f}" for k, v in samples.items()), file=sys.stderr, flush=True)
        rows.append((c, samples))

    lines = ["| config | threads | system | steps/s, median (min-max) | ours / it | compile (s), first / later | GFLOP/s | of peak | check loss | peak RSS (MB) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    summary = ["| config | threads | ours steps/s | fastest peer | its steps/s | ours / fastest peer |", "|---|---|---|---|---|---|"]
    for c, samples in rows:
        median = {k: statistics.median(s["steps_per_s"] for s in v) for k, v in samples.items()}
        for k, v in samples.items():
            rates = [s["steps_per_s"] for s in v]
            gflops = statistics.median(s["gflops"] for s in v)
            compile_s = "-"
            if v[0].get("compile_s") is not None:  # the first (cold) run, then the median of the others
                compile_s = f"{v[0]['compile_s']:.1f}" + (f" / {statistics.median(s['compile_s'] for s in v[1:]):.1f}"
                                                          if len(v) > 1 else "")
            check = f"{v[0]['check_loss']:.3f}" if v[0].get("check_loss") is not None else "-"
            ratio = "1" if k == "ours" else f"{median['ours'] / median[k]:.2f}x"
            lines.append(f"| {c.name} | {c.threads} | {NAMES[k]} | {median[k]:,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) | "
                         f"{ratio} | {compile_s} | {gflops:.1f} | {100 * gflops / (args.peak * c.threads):.0f} % | "
                         f"{check} | {max(s['peak_rss_mb'] for s in v):.0f} |")
        others = {k: m for k, m in median.items() if k not in ("ours", "before")}
        if others:
            best = max(others, key=others.get)
            summary.append(f"| {c.name} | {c.threads} | {median['ours']:,.0f} | {NAMES[best]} | {others[best]:,.0f} | "
                           f"{median['ours'] / others[best]:.2f}x |")
    machine = (f"{cpu_name()}, {platform.machine()}, Python {platform.python_version()}, "
               + ", ".join(f"{k} {v}" for k, v in versions.items())
               + f"; medians (min-max) of {args.reps} alternating runs, "
               + ("each pinned with taskset" if pin(1) else "not pinned")
               + f"; of peak: against {args.peak:g} GFLOP/s a core")
    table = "\n".join(lines) + ("\n\n" + "\n".join(summary) if len(summary) > 2 else "")
    print(machine)
    print(table)
    shutil.rmtree(cache, ignore_errors=True)
    if args.markdown:
        args.markdown.write_text(machine + "\n\n" + table + "\n")
    if args.raw:
        args.raw.write_text(json.dumps({c.label: samples for c, samples in rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
