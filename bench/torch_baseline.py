"""PyTorch eager CPU baseline for the Swift training benchmark.

Trains a model of `makemore train` on the lecture's training split and times `--steps` SGD
steps (lr 0.1, minibatch drawn with torch.randint, batch-norm running statistics updated with
`--momentum`) after `--warmup` untimed steps. Models (`--model`):

  mlp      (default) embedding C; `layers` blocks of Linear -> BatchNorm1d -> Tanh; output
           Linear; softmax cross-entropy. Batch-norm momentum 0.001.
  wavenet  makemore part 5's hierarchical model (embed 24, hidden 128, block 8 by default),
           initialised as the lecture does; batch-norm momentum 0.1.

Two variants:

  autograd  the usual PyTorch code, as the lectures run it: the forward (the mlp's batch-norm
            formula written out, with Bessel's 1/(n-1) variance; the wavenet's BatchNorm1d of
            part 5), F.cross_entropy, grads set to None, loss.backward(), p.data -= lr * p.grad.
  manual    no autograd: the lecture's hand-written backward in PyTorch operations, with the
            fused cross-entropy and batch-norm backward, dC by index_add_.

The models, their initial values, the data and both steps are those of
reference/makemore_reference.py (`autograd_step`, `manual_step`).

Prints steps/s, ms/step, the matmul GFLOP/s (2·m·k·n for the forward, dx and dW of every
Linear, m the rows of its input, as `makemore bench` counts them) and the peak resident memory
of the process (VmHWM), or with --json one JSON object on one line.

Run:
    $(scripts/reference-env) bench/torch_baseline.py --variant manual --steps 2000 --json
    $(scripts/reference-env) bench/torch_baseline.py --model wavenet --steps 500 --json
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
DEFAULTS = {  # per model, for the options not given
    "mlp": {"embed": 10, "hidden": 64, "block": 3, "layers": 1, "momentum": 0.001},
    "wavenet": {"embed": 24, "hidden": 128, "block": 8, "momentum": 0.1},
}


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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=mm.MODELS, default="mlp")
    parser.add_argument("--embed", type=int, help="default 10 (mlp), 24 (wavenet)")
    parser.add_argument("--hidden", type=int, help="default 64 (mlp), 128 (wavenet)")
    parser.add_argument("--block", type=int, help="default 3 (mlp), 8 (wavenet: a power of two)")
    parser.add_argument("--layers", type=int, help="mlp hidden blocks, default 1 (the wavenet has log2(block) levels)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--momentum", type=float, help="batch-norm momentum, default 0.001 (mlp), 0.1 (wavenet)")
    parser.add_argument("--steps", type=int, default=1000, help="timed steps")
    parser.add_argument("--warmup", type=int, default=100, help="untimed steps before timing")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--variant", choices=("autograd", "manual"), default="autograd")
    parser.add_argument("--seed", type=int, default=2147483647, help="generator seed (init and minibatches)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"names file (default: {DEFAULT_DATA.relative_to(REPO)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    args = parser.parse_args()
    if args.model == "wavenet" and args.layers is not None:
        parser.error("--layers is for the mlp: the wavenet has log2(--block) levels")
    for name, value in DEFAULTS[args.model].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("embed", "hidden", "block", "layers", "threads", "steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.model == "wavenet" and mm.wavenet_levels(args.block) is None:
        parser.error(f"--block must be a power of two, at least 2, for the wavenet, got {args.block}")
    if args.batch < 2:
        parser.error("--batch must be at least 2 (batch norm divides by n-1)")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if not 0 <= args.momentum <= 1:
        parser.error("--momentum must be in 0...1")
    return args


def make_step(cfg: mm.Config, p: mm.Tensors, variant: str, momentum: float):
    """The step function (Xb, Yb) -> loss of a variant, updating `p` in place."""
    names = mm.trainable_names(cfg)
    if variant == "manual":
        return lambda Xb, Yb: mm.manual_step(cfg, p, names, Xb, Yb, LEARNING_RATE, momentum)
    trainable = [p[name].requires_grad_(True) for name in names]
    return lambda Xb, Yb: mm.autograd_step(cfg, p, trainable, Xb, Yb, LEARNING_RATE, momentum)


def print_text(result: dict, warmup: int) -> None:
    model = "" if result["model"] == "mlp" else f"model {result['model']}, "
    shape = f"layers {result['layers']}" if result["model"] == "mlp" else f"levels {result['layers']}"
    print(f"torch {torch.__version__} eager CPU, variant {result['variant']}: {model}embed {result['embed']}, "
          f"hidden {result['hidden']}, block {result['block']}, {shape}, batch {result['batch']}, "
          f"threads {result['threads']}")
    print(f"steps/s    {result['steps_per_s']:.1f}")
    print(f"ms/step    {result['ms_per_step']:.4f}")
    print(f"GFLOP/s    {result['gflops']:.2f} (matmuls)")
    print(f"peak RSS   {result['peak_rss_mb']:.1f} MB")
    print(f"final loss {result['final_loss']:.4f} (last minibatch, after {warmup + result['steps']} steps)")


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    try:
        Xtr, Ytr, vocab = training_split(args.data, args.block)
    except mm.InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    layers = args.layers if args.model == "mlp" else mm.wavenet_levels(args.block)
    cfg = mm.Config(model=args.model, vocab=vocab, embed=args.embed, hidden=args.hidden, block=args.block,
                    layers=layers, momentum=args.momentum)
    g = torch.Generator().manual_seed(args.seed)
    step = make_step(cfg, mm.init_parameters(cfg, g), args.variant, args.momentum)

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

    steps_per_s = args.steps / seconds
    result = {
        "variant": args.variant, "embed": args.embed, "hidden": args.hidden, "block": args.block,
        "layers": layers, "batch": args.batch, "threads": args.threads, "steps": args.steps,
        "seconds": seconds, "steps_per_s": steps_per_s, "ms_per_step": 1000 * seconds / args.steps,
        "peak_rss_mb": peak_rss_mb(), "final_loss": float(loss), "model": args.model,
        "momentum": args.momentum, "gflops": mm.matmul_flops(cfg, args.batch) * steps_per_s / 1e9,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print_text(result, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
