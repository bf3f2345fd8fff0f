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
    parser.add_argument("--model", choices=sorted(RECIPES), required=True)
    parser.add_argument("--seed", type=int, default=42, help="torch.manual_seed before initialising (default 42)")
    parser.add_argument("--steps", type=int, default=200_000, help="SGD steps (default 200,000)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--log-every", type=int, default=10_000, help="print the minibatch loss every this many steps")
    parser.add_argument("--save", type=Path,
                        help="also write the trained model as safetensors (for torch_eval.py)")
    parser.add_argument("--data", type=Path, default=mm.DEFAULT_DATA,
                        help=f"names file (default: {mm.DEFAULT_DATA.relative_to(mm.REPO)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    args = parser.parse_args()
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


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
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
