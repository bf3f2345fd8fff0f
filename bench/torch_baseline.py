"""PyTorch eager CPU baseline for the Swift training benchmark.

Trains the same MLP as `makemore train` (embedding C; `layers` blocks of Linear -> BatchNorm1d ->
Tanh; output Linear; softmax cross-entropy) on the lecture's training split, and times
`--steps` SGD steps (lr 0.1, minibatch drawn with torch.randint, batch-norm running statistics
updated with momentum 0.001) after `--warmup` untimed steps. Two variants:

  autograd  the usual PyTorch code: explicit batch-norm formula (Bessel's 1/(n-1) variance),
            F.cross_entropy, loss.backward(), p.data -= lr * p.grad, grads set to None.
  manual    no autograd: the lecture's hand-written backward in PyTorch operations, with the
            fused cross-entropy and batch-norm backward, dC by index_add_.

Prints steps/s, ms/step and the peak resident memory of the process (VmHWM), or with
--json one JSON object on one line.

Run:
    $(scripts/reference-env) bench/torch_baseline.py --variant manual --steps 2000 --json
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "Sources" / "Makemore" / "Resources" / "names.txt"
LEARNING_RATE = 0.1
MOMENTUM = 0.001
EPS = 1e-5


def training_split(path: Path, block: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The lecture's training examples: shuffle with random.seed(42), first 80% of the words."""
    words = [w for w in (line.strip() for line in path.read_text(encoding="utf-8").splitlines()) if w]
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    random.seed(42)
    random.shuffle(words)
    X, Y = [], []
    for w in words[: int(0.8 * len(words))]:
        context = [0] * block
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X).view(-1, block), torch.tensor(Y), len(chars) + 1


class Model:
    """Parameters initialised like the lecture, plus running statistics."""

    def __init__(self, vocab: int, embed: int, hidden: int, block: int, layers: int, g: torch.Generator):
        self.layers = layers
        p: dict[str, torch.Tensor] = {"C": torch.randn((vocab, embed), generator=g)}
        for i in range(1, layers + 1):
            fan_in = block * embed if i == 1 else hidden
            p[f"W{i}"] = torch.randn((fan_in, hidden), generator=g) * (5 / 3) / fan_in**0.5
            p[f"b{i}"] = torch.randn(hidden, generator=g) * 0.1
            p[f"bngain{i}"] = torch.randn((1, hidden), generator=g) * 0.1 + 1.0
            p[f"bnbias{i}"] = torch.randn((1, hidden), generator=g) * 0.1
        p[f"W{layers + 1}"] = torch.randn((hidden, vocab), generator=g) * 0.1
        p[f"b{layers + 1}"] = torch.randn(vocab, generator=g) * 0.1
        self.params = p
        self.bnmean = [torch.zeros((1, hidden)) for _ in range(layers)]
        self.bnvar = [torch.ones((1, hidden)) for _ in range(layers)]

    @torch.no_grad()
    def update_running(self, i: int, mean: torch.Tensor, var: torch.Tensor) -> None:
        self.bnmean[i - 1].mul_(1 - MOMENTUM).add_(mean, alpha=MOMENTUM)
        self.bnvar[i - 1].mul_(1 - MOMENTUM).add_(var, alpha=MOMENTUM)


def autograd_step(m: Model, Xb: torch.Tensor, Yb: torch.Tensor) -> torch.Tensor:
    p, n = m.params, Xb.shape[0]
    x = p["C"][Xb].view(n, -1)
    for i in range(1, m.layers + 1):
        hprebn = x @ p[f"W{i}"] + p[f"b{i}"]
        mean = hprebn.sum(0, keepdim=True) / n
        var = ((hprebn - mean) ** 2).sum(0, keepdim=True) / (n - 1)
        hpreact = p[f"bngain{i}"] * (hprebn - mean) * (var + EPS) ** -0.5 + p[f"bnbias{i}"]
        x = torch.tanh(hpreact)
        m.update_running(i, mean.detach(), var.detach())
    logits = x @ p[f"W{m.layers + 1}"] + p[f"b{m.layers + 1}"]
    loss = F.cross_entropy(logits, Yb)
    for t in p.values():
        t.grad = None
    loss.backward()
    for t in p.values():
        t.data -= LEARNING_RATE * t.grad
    return loss.detach()


@torch.no_grad()
def manual_gradients(m: Model, Xb: torch.Tensor, Yb: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Forward (updating the running statistics) and the lecture's fused manual backward."""
    p, n, L = m.params, Xb.shape[0], m.layers
    inputs, bnraws, bnvar_invs, hs = [], [], [], []
    x = p["C"][Xb].view(n, -1)
    for i in range(1, L + 1):
        inputs.append(x)
        hprebn = x @ p[f"W{i}"] + p[f"b{i}"]
        mean = hprebn.sum(0, keepdim=True) / n
        bndiff = hprebn - mean
        var = (bndiff**2).sum(0, keepdim=True) / (n - 1)
        bnvar_inv = (var + EPS) ** -0.5
        bnraw = bndiff * bnvar_inv
        x = torch.tanh(p[f"bngain{i}"] * bnraw + p[f"bnbias{i}"])
        bnraws.append(bnraw)
        bnvar_invs.append(bnvar_inv)
        hs.append(x)
        m.update_running(i, mean, var)
    logits = x @ p[f"W{L + 1}"] + p[f"b{L + 1}"]
    loss = F.cross_entropy(logits, Yb)

    grads: dict[str, torch.Tensor] = {}
    dlogits = F.softmax(logits, 1)
    dlogits[torch.arange(n), Yb] -= 1
    dlogits /= n
    grads[f"W{L + 1}"] = hs[-1].T @ dlogits
    grads[f"b{L + 1}"] = dlogits.sum(0)
    dh = dlogits @ p[f"W{L + 1}"].T
    for i in range(L, 0, -1):
        bnraw, bnvar_inv, bngain = bnraws[i - 1], bnvar_invs[i - 1], p[f"bngain{i}"]
        dhpreact = (1.0 - hs[i - 1] ** 2) * dh
        grads[f"bngain{i}"] = (bnraw * dhpreact).sum(0, keepdim=True)
        grads[f"bnbias{i}"] = dhpreact.sum(0, keepdim=True)
        dhprebn = bngain * bnvar_inv / n * (
            n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))
        grads[f"W{i}"] = inputs[i - 1].T @ dhprebn
        grads[f"b{i}"] = dhprebn.sum(0)
        dh = dhprebn @ p[f"W{i}"].T
    dC = torch.zeros_like(p["C"])
    dC.index_add_(0, Xb.view(-1), dh.view(-1, p["C"].shape[1]))
    grads["C"] = dC
    return loss, grads


@torch.no_grad()
def manual_step(m: Model, Xb: torch.Tensor, Yb: torch.Tensor) -> torch.Tensor:
    loss, grads = manual_gradients(m, Xb, Yb)
    for name, t in m.params.items():
        t.sub_(grads[name], alpha=LEARNING_RATE)
    return loss


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
    Xtr, Ytr, vocab = training_split(args.data, args.block)
    g = torch.Generator().manual_seed(args.seed)
    model = Model(vocab, args.embed, args.hidden, args.block, args.layers, g)
    if args.variant == "autograd":
        for t in model.params.values():
            t.requires_grad_(True)
        step = autograd_step
    else:
        step = manual_step

    def train(steps: int) -> torch.Tensor | None:
        loss = None
        for _ in range(steps):
            ix = torch.randint(0, Xtr.shape[0], (args.batch,), generator=g)
            loss = step(model, Xtr[ix], Ytr[ix])
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
