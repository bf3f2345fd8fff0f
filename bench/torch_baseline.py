"""PyTorch eager CPU baseline for the Swift training benchmark.

Trains the same MLP as `makemore train` (embedding C; `layers` blocks of Linear -> BatchNorm1d ->
Tanh; output Linear; softmax cross-entropy) on the lecture's training split, and times
`--steps` SGD steps (lr 0.1, minibatch drawn with torch.randint, batch-norm running statistics
updated with momentum 0.001) after `--warmup` untimed steps. Two variants:

  autograd  the usual PyTorch code: the lecture's batch-norm formula written out (Bessel's
            1/(n-1) variance), F.cross_entropy, loss.backward(), p.data -= lr * p.grad, grads
            set to None.
  manual    no autograd: the lecture's hand-written backward in PyTorch operations, with the
            fused cross-entropy and batch-norm backward, dC by index_add_.

The model, its initial values, the data and both steps are those of
reference/makemore_reference.py (`autograd_step`, `manual_step`).

Prints steps/s, ms/step and the peak resident memory of the process (VmHWM), or with
--json one JSON object on one line.

Run:
    $(scripts/reference-env) bench/torch_baseline.py --variant manual --steps 2000 --json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))
import makemore_reference as mm  # noqa: E402

REPO = mm.REPO
DEFAULT_DATA = mm.DEFAULT_DATA
LEARNING_RATE = 0.1
MOMENTUM = 0.001


def training_split(path: Path, block: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The lecture's training examples (the first 80% of the shuffled words) and the vocabulary."""
    words = mm.read_words(path)
    vocab = mm.vocabulary(words)
    X, Y = mm.build_dataset(mm.split(words)["train"], vocab, block)
    return X, Y, vocab


def peak_rss_mb() -> float:
    """The process's peak resident memory: VmHWM from /proc/self/status on Linux (ru_maxrss would
    include a parent's peak, since it survives fork and exec), else ru_maxrss."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embed", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--block", type=int, default=3)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1000, help="timed steps")
    parser.add_argument("--warmup", type=int, default=100, help="untimed steps before timing")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--variant", choices=("autograd", "manual"), default="autograd")
    parser.add_argument("--seed", type=int, default=2147483647, help="generator seed (init and minibatches)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"names file (default: {DEFAULT_DATA.relative_to(REPO)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    args = parser.parse_args()
    for name in ("embed", "hidden", "block", "layers", "threads", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.batch < 2:
        parser.error("--batch must be at least 2 (batch norm divides by n-1)")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")

    torch.set_num_threads(args.threads)
    try:
        Xtr, Ytr, vocab = training_split(args.data, args.block)
    except mm.InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    cfg = mm.Config(model="mlp", vocab=vocab, embed=args.embed, hidden=args.hidden, block=args.block,
                    layers=args.layers)
    g = torch.Generator().manual_seed(args.seed)
    p = mm.init_parameters(cfg, g)
    names = mm.trainable_names(cfg)
    if args.variant == "autograd":
        trainable = [p[name].requires_grad_(True) for name in names]

        def step(Xb: torch.Tensor, Yb: torch.Tensor) -> torch.Tensor:
            return mm.autograd_step(cfg, p, trainable, Xb, Yb, LEARNING_RATE, MOMENTUM)
    else:
        def step(Xb: torch.Tensor, Yb: torch.Tensor) -> torch.Tensor:
            return mm.manual_step(cfg, p, names, Xb, Yb, LEARNING_RATE, MOMENTUM)

    def train(steps: int) -> torch.Tensor | None:
        loss = None
        for _ in range(steps):
            ix = torch.randint(0, Xtr.shape[0], (args.batch,), generator=g)
            loss = step(Xtr[ix], Ytr[ix])
        return loss

    train(args.warmup)
    start = time.perf_counter()
    loss = train(args.steps)
    seconds = time.perf_counter() - start
    assert loss is not None

    result = {
        "variant": args.variant, "embed": args.embed, "hidden": args.hidden, "block": args.block,
        "layers": args.layers, "batch": args.batch, "threads": args.threads, "steps": args.steps,
        "seconds": seconds, "steps_per_s": args.steps / seconds, "ms_per_step": 1000 * seconds / args.steps,
        "peak_rss_mb": peak_rss_mb(), "final_loss": float(loss),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"torch {torch.__version__} eager CPU, variant {args.variant}: embed {args.embed}, hidden {args.hidden}, "
              f"block {args.block}, layers {args.layers}, batch {args.batch}, threads {args.threads}")
        print(f"steps/s    {result['steps_per_s']:.1f}")
        print(f"ms/step    {result['ms_per_step']:.4f}")
        print(f"peak RSS   {result['peak_rss_mb']:.1f} MB")
        print(f"final loss {result['final_loss']:.4f} (last minibatch, after {args.warmup + args.steps} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
