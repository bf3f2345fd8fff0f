"""PyTorch eager CPU baseline for the Swift training benchmark.

Trains a model of `makemore train` on the lecture's training split and times `--steps` SGD
steps (lr 0.1, minibatch drawn with torch.randint, batch-norm running statistics updated with
`--momentum`) after `--warmup` untimed steps. Models (`--model`):

  mlp      (default) embedding C; `layers` blocks of Linear -> BatchNorm1d -> Tanh; output
           Linear; softmax cross-entropy. Batch-norm momentum 0.001.
  wavenet  makemore part 5's hierarchical model (embed 24, hidden 128, block 8 by default),
           initialised as the lecture does; batch-norm momentum 0.1.
  transformer  karpathy/makemore's Transformer (embed 64, 4 layers, 4 heads by default) run as
           makemore runs it: whole words padded to the block size (the longest word + 1, 16 for
           the names), inputs `0, c1..cn` padded with 0, targets `c1..cn, 0` padded with -1 and
           `F.cross_entropy(ignore_index=-1)`; PyTorch's default initial values; autograd,
           `zero_grad(set_to_none=True)` and `torch.optim.AdamW(lr 5e-4, betas (0.9, 0.99),
           eps 1e-8, weight_decay 0.01)`; batches of `--batch` words drawn with torch.randint
           (makemore's DataLoader is left out, which only helps PyTorch).
  bigram, bow  karpathy/makemore's Bigram and BoW (n_embd 64, n_embd2 64 = --embed, --hidden)
           run the same way as the transformer.
  rnn, gru karpathy/makemore's RNN with its RNNCell or GRUCell (n_embd 64, n_embd2 64 = --embed,
           --hidden) run the same way: padded words, every step for every word.

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
    "transformer": {"embed": 64, "layers": 4, "heads": 4, "momentum": 0.0},  # block: the longest word + 1
    "bigram": {"layers": 1, "momentum": 0.0},  # embed and hidden: the vocabulary's size
    "bow": {"embed": 64, "hidden": 64, "layers": 1, "momentum": 0.0},
    "rnn": {"embed": 64, "hidden": 64, "layers": 1, "momentum": 0.0},
    "gru": {"embed": 64, "hidden": 64, "layers": 1, "momentum": 0.0},
}
TRANSFORMER_LEARNING_RATE = 5e-4


def training_split(path: Path, block: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The lecture's training examples (the first 80% of the shuffled words) and the vocabulary."""
    words = mm.read_words(path)
    vocab = mm.vocabulary(words)
    X, Y = mm.build_dataset(mm.split(words)["train"], vocab, block)
    return X, Y, vocab


def word_split(path: Path, block: int | None) -> tuple[torch.Tensor, torch.Tensor, str, int]:
    """The lecture's training words as makemore's CharDataset holds them: X (n, block) `0, c1..cn`
    padded with 0, Y (n, block) `c1..cn, 0` padded with -1; the vocabulary and the block size."""
    words = mm.read_words(path)
    vocab = mm.vocabulary(words)
    block = block or max(len(w) for w in words) + 1
    stoi = {ch: i for i, ch in enumerate(vocab)}
    train = [w for w in mm.split(words)["train"] if len(w) < block]
    X = torch.zeros(len(train), block, dtype=torch.long)
    Y = torch.full((len(train), block), -1, dtype=torch.long)
    for i, w in enumerate(train):
        ix = torch.tensor([stoi[ch] for ch in w], dtype=torch.long)
        X[i, 1:1 + len(w)] = ix
        Y[i, :len(w)] = ix
        Y[i, len(w)] = 0
    return X, Y, vocab, block


def transformer_flops(cfg: mm.Config, batch: int) -> float:
    """As makemore computes: every word `block` positions. 2·m·k·n for the forward, dx and dW of
    each Linear (m = batch·block) and of the attention's q kᵀ and att v per word and head."""
    m, C, T, L = batch * cfg.block, cfg.embed, cfg.block, cfg.layers
    return 3 * 2 * m * (L * 12 * C * C + C * cfg.vocab_size) + L * 3 * 2 * 2 * batch * T * T * C


def word_model_flops(cfg: mm.Config, batch: int) -> float:
    """`transformer_flops`; for the bow the three products of c_fc, c_proj and lm_head at every
    one of `block` positions per word; none for the bigram (a lookup)."""
    if cfg.model == "transformer":
        return transformer_flops(cfg, batch)
    if cfg.model == "bow":
        return 3 * 2 * batch * cfg.block * (2 * cfg.embed * cfg.hidden + cfg.embed * cfg.vocab_size)
    if cfg.model in mm.RNNS:  # the cell's Linears ((E + H) -> H; 1 for the rnn, 3 for the gru) and lm_head
        E, H = cfg.embed, cfg.hidden
        return 3 * 2 * batch * cfg.block * ((1 if cfg.model == "rnn" else 3) * (E + H) * H + H * cfg.vocab_size)
    return 0.0


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
    parser.add_argument("--layers", type=int,
                        help="mlp hidden blocks, default 1; transformer blocks, default 4 (the wavenet has log2(block) levels)")
    parser.add_argument("--heads", type=int, help="transformer attention heads, default 4")
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
    if args.model in mm.WORD_MODELS:
        if args.variant != "autograd":
            parser.error(f"the {args.model} has the autograd variant only")
    if args.model == "transformer":
        args.hidden = None
    for name, value in DEFAULTS[args.model].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("embed", "hidden", "block", "layers", "heads", "threads", "steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.model == "wavenet" and mm.wavenet_levels(args.block) is None:
        parser.error(f"--block must be a power of two, at least 2, for the wavenet, got {args.block}")
    if args.model == "transformer" and args.embed % args.heads:
        parser.error(f"--embed {args.embed} is not a multiple of --heads {args.heads}")
    if args.batch < 2 and args.model not in mm.WORD_MODELS:
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


def word_model(args: argparse.Namespace, data: Path):
    """makemore's module of `args.model` (a word model) on `data`'s words, seeded with `args.seed`:
    (config, module, X, Y); sets `args.block` (the longest word + 1 unless given) and, for the
    bigram, `args.embed` and `args.hidden` to the vocabulary's size."""
    X, Y, vocab, block = word_split(data, args.block)
    args.block = block
    if args.model == "bigram":
        args.embed = args.hidden = len(vocab)
    hidden = 4 * args.embed if args.model == "transformer" else args.hidden
    cfg = mm.Config(model=args.model, vocab=vocab, embed=args.embed, hidden=hidden, block=block,
                    layers=args.layers, heads=args.heads)
    torch.manual_seed(args.seed)
    return cfg, mm.WORD_MODULES[args.model](cfg), X, Y


def transformer_main(args: argparse.Namespace) -> dict:
    """Times makemore's Transformer training steps; returns the result fields."""
    cfg, model, X, Y = word_model(args, args.data)
    optimizer = torch.optim.AdamW(model.parameters(), lr=TRANSFORMER_LEARNING_RATE, weight_decay=0.01,
                                  betas=(0.9, 0.99), eps=1e-8)
    g = torch.Generator().manual_seed(args.seed)

    def train(steps: int) -> torch.Tensor | None:
        loss = None
        for _ in range(steps):
            ix = torch.randint(0, X.shape[0], (args.batch,), generator=g)
            _, loss = model(X[ix], Y[ix])
            model.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return loss

    train(args.warmup)
    start = time.perf_counter()
    loss = train(args.steps)
    seconds = time.perf_counter() - start
    assert loss is not None
    steps_per_s = args.steps / seconds
    return {"seconds": seconds, "steps_per_s": steps_per_s, "final_loss": loss.item(), "layers": args.layers,
            "heads": args.heads, "gflops": word_model_flops(cfg, args.batch) * steps_per_s / 1e9}


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.model in mm.WORD_MODELS:
        try:
            timed = transformer_main(args)
        except mm.InputError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        result = {
            "variant": args.variant, "embed": args.embed, "hidden": args.hidden, "block": args.block, "batch": args.batch,
            "threads": args.threads, "steps": args.steps, "ms_per_step": 1000 * timed["seconds"] / args.steps,
            "peak_rss_mb": peak_rss_mb(), "model": args.model, "optimizer": "adamw", **timed,
        }
        if args.json:
            print(json.dumps(result))
        else:
            print(f"torch {torch.__version__} eager CPU: model {args.model}, embed {args.embed}, layers {args.layers}, "
                  f"heads {args.heads}, hidden {args.hidden}, block {args.block}, batch {args.batch} words, AdamW, threads {args.threads}")
            print(f"steps/s    {result['steps_per_s']:.1f}")
            print(f"ms/step    {result['ms_per_step']:.4f}")
            print(f"GFLOP/s    {result['gflops']:.2f} (matmuls, every word counted as {args.block} positions)")
            print(f"peak RSS   {result['peak_rss_mb']:.1f} MB")
            print(f"final loss {result['final_loss']:.4f} (last minibatch, after {args.warmup + args.steps} steps)")
        return 0
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
