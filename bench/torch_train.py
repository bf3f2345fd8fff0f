"""Train a model with the lecture's recipe in PyTorch eager and print its split losses.

The figures to compare with a Swift run of the same recipe. `torch.manual_seed(SEED)` before
the initial values; minibatches of 32 drawn with torch.randint from torch's global generator;
`--steps` SGD steps (200,000 by default) of F.cross_entropy with loss.backward(), lr 0.1, then
0.01 from the decay step; then the train / val / test mean cross-entropy in evaluation mode
(batch norm with running statistics). Recipes (`--model`):

  wavenet  makemore part 5, "scaled up": embed 24, hidden 128, block 8 (3 levels, 76,579
           parameters), the lecture's initial values, batch-norm momentum 0.1, lr decay at
           step 150,000; evaluated with the running statistics as they are.
  mlp      `makemore train`'s defaults: embed 10, hidden 200, block 3, one hidden block, the
           Swift side's initial values, batch-norm momentum 0.001, lr decay at step 100,000;
           after training, batch norm calibrated on the whole training split (as the Swift
           trainer does) before evaluating.

  bigram, bow  the same loop and optimizer for makemore's `Bigram` (a zero (vocab, vocab) table)
           and `BoW` (n_embd 64, n_embd2 64), `--steps` 25,000 and 100,000 by default.
  rnn, gru the same for makemore's `RNN` with its RNNCell or GRUCell (n_embd 64, n_embd2 64),
           10,000 steps by default.
  transformer  karpathy/makemore's own recipe for its default model: makemore's `Transformer`
           (n_layer 4, n_head 4, n_embd 64, block the longest word + 1: 204,544 parameters on
           the names) with PyTorch's default initial values, torch.optim.AdamW(lr 5e-4, betas
           (0.9, 0.99), eps 1e-8, weight_decay 0.01) at a constant learning rate, batches of 32
           whole words drawn with replacement (torch.randint), padded as makemore pads them (X
           with 0, Y with -1, ignored by the loss), `--steps` steps (default 10,000). The val
           loss over the whole split every `--eval-every` steps (the curve); at the end the
           train / val / test losses per predicted position, and the best val and its step.

The models, initial values, data and split are those of reference/makemore_reference.py.
Progress goes to stderr every `--log-every` steps.

Run:
    $(scripts/reference-env) bench/torch_train.py --model wavenet --seed 42 [--steps 200000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))
import makemore_reference as mm  # noqa: E402

BATCH = 32
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Recipe:
    embed: int
    hidden: int
    block: int
    layers: int
    momentum: float
    decay_step: int  # lr / 10 from this step (0-based) on
    calibrate: bool  # batch norm calibrated on the training split after training


RECIPES = {
    "wavenet": Recipe(embed=24, hidden=128, block=8, layers=3, momentum=0.1, decay_step=150_000, calibrate=False),
    "mlp": Recipe(embed=10, hidden=200, block=3, layers=1, momentum=0.001, decay_step=100_000, calibrate=True),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(RECIPES) + list(WORD_SIZES), required=True)
    parser.add_argument("--seed", type=int, default=42, help="torch.manual_seed before initialising (default 42)")
    parser.add_argument("--steps", type=int, help="steps (default 200,000; transformer 10,000; bigram 25,000; bow 100,000; rnn, gru 10,000)")
    parser.add_argument("--eval-every", type=int, default=500, help="transformer: the val loss every this many steps")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--log-every", type=int, default=10_000, help="print the minibatch loss every this many steps")
    parser.add_argument("--save", type=Path,
                        help="also write the trained model as safetensors (for torch_eval.py)")
    parser.add_argument("--data", type=Path, default=mm.DEFAULT_DATA,
                        help=f"names file (default: {mm.DEFAULT_DATA.relative_to(mm.REPO)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    args = parser.parse_args()
    if args.steps is None:
        args.steps = {"transformer": 10_000, "bigram": 25_000, "bow": 100_000, "rnn": 10_000, "gru": 10_000}.get(
            args.model, 200_000)
    if args.steps < 0:
        parser.error("--steps must be 0 or more")
    if args.threads < 1 or args.log_every < 1:
        parser.error("--threads and --log-every must be at least 1")
    return args


def train(cfg: mm.Config, recipe: Recipe, p: mm.Tensors, Xtr: torch.Tensor, Ytr: torch.Tensor,
          steps: int, log_every: int) -> None:
    """The lecture's loop: minibatch, forward, F.cross_entropy, zero grads, backward, SGD."""
    trainable = [p[name].requires_grad_(True) for name in mm.trainable_names(cfg)]
    for i in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (BATCH,))
        lr = LEARNING_RATE if i < recipe.decay_step else LEARNING_RATE / 10
        loss = mm.autograd_step(cfg, p, trainable, Xtr[ix], Ytr[ix], lr, recipe.momentum)
        if i % log_every == 0 or i == steps - 1:
            print(f"{i:7d}/{steps:7d}: {loss.item():.4f}", file=sys.stderr, flush=True)
    for t in trainable:
        t.requires_grad_(False)


# makemore's default sizes of the models that read whole words (None: the vocabulary's size).
WORD_SIZES = {"transformer": dict(embed=64, hidden=256, layers=4, heads=4),
              "bigram": dict(embed=None, hidden=None, layers=1), "bow": dict(embed=64, hidden=64, layers=1),
              "rnn": dict(embed=64, hidden=64, layers=1), "gru": dict(embed=64, hidden=64, layers=1)}


def train_transformer(args: argparse.Namespace, words: list[str]) -> int:
    """makemore's training loop for its Transformer, Bigram or BoW (AdamW, constant lr), the val
    curve as it goes."""
    vocab = mm.vocabulary(words)
    block = max(map(len, words)) + 1
    sizes = {k: len(vocab) if v is None else v for k, v in WORD_SIZES[args.model].items()}
    cfg = mm.Config(model=args.model, vocab=vocab, block=block, **sizes)
    data = mm.word_datasets(words, vocab, block)
    Xtr, Ytr = data["train"]
    torch.manual_seed(args.seed)
    model = mm.WORD_MODULES[args.model](cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
    curve: list[tuple[int, float]] = []
    seconds = 0.0
    for i in range(args.steps):
        start = time.perf_counter()
        ix = torch.randint(0, Xtr.shape[0], (BATCH,))
        _, loss = model(Xtr[ix], Ytr[ix])
        model.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seconds += time.perf_counter() - start
        if (i + 1) % args.eval_every == 0 or i + 1 == args.steps:
            val = mm.transformer_split_loss(model, *data["val"])
            curve.append((i + 1, val))
            print(f"step {i + 1} | loss {loss.item():.4f} | val {val:.4f} | {1000 * seconds / (i + 1):.2f} ms/step",
                  file=sys.stderr, flush=True)
    losses = {name: mm.transformer_split_loss(model, X, Y) for name, (X, Y) in data.items()}
    best_step, best_val = min(curve, key=lambda c: c[1]) if curve else (0, float("nan"))
    result = {"model": args.model, "seed": args.seed, "steps": args.steps,
              "parameters": sum(p.numel() for p in model.parameters()), "threads": args.threads, "seconds": seconds,
              "steps_per_s": args.steps / seconds if seconds > 0 else None, **losses,
              "best_val": best_val, "best_step": best_step, "curve": curve}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"torch {torch.__version__} eager CPU, {args.threads} thread(s): makemore's {args.model}, "
              f"{sizes}, block {block}, {result['parameters']:,} parameters, seed {args.seed}; "
              f"AdamW lr 5e-4 constant, weight decay 0.01, batch {BATCH}")
        rate = f" ({result['steps_per_s']:.0f} steps/s)" if result["steps_per_s"] else ""
        print(f"{args.steps:,} steps in {seconds:.1f} s{rate}")
        for name, loss in losses.items():
            print(f"{name:<5} {loss:.4f}")
        print(f"best val {best_val:.4f} at step {best_step}")
    return 0


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.model in WORD_SIZES:
        try:
            words = mm.read_words(args.data)
        except mm.InputError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return train_transformer(args, words)
    recipe = RECIPES[args.model]
    try:
        words = mm.read_words(args.data)
    except mm.InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    vocab = mm.vocabulary(words)
    cfg = mm.Config(model=args.model, vocab=vocab, embed=recipe.embed, hidden=recipe.hidden, block=recipe.block,
                    layers=recipe.layers, momentum=recipe.momentum)
    data = mm.datasets(words, vocab, cfg.block)

    torch.manual_seed(args.seed)
    p = mm.init_parameters(cfg)
    start = time.perf_counter()
    train(cfg, recipe, p, *data["train"], args.steps, args.log_every)
    seconds = time.perf_counter() - start
    if recipe.calibrate:
        mm.calibrate_batch_norm(cfg, p, data["train"][0])
    losses = mm.split_losses(cfg, p, data)
    if args.save:
        mm.save_model(args.save, cfg, p, {"seed": str(args.seed), "steps": str(args.steps)})

    result = {"model": args.model, "seed": args.seed, "steps": args.steps, "parameters": mm.parameter_count(cfg),
              "threads": args.threads, "seconds": seconds,
              "steps_per_s": args.steps / seconds if seconds > 0 else None, **losses}
    if args.json:
        print(json.dumps(result))
    else:
        depth = f"{cfg.layers} {'levels' if args.model == 'wavenet' else 'layers'}"
        print(f"torch {torch.__version__} eager CPU, {args.threads} thread(s): model {args.model}, embed {cfg.embed}, "
              f"hidden {cfg.hidden}, block {cfg.block}, {depth}, {result['parameters']:,} parameters, seed {args.seed}")
        rate = f" ({result['steps_per_s']:.0f} steps/s)" if result["steps_per_s"] else ""
        print(f"{args.steps:,} steps in {seconds:.1f} s{rate}")
        for name, loss in losses.items():
            print(f"{name:<5} {loss:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
