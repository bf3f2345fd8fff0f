"""Evaluate a Swift checkpoint in PyTorch: the train / val / test losses of the lecture's split.

Loads CHECKPOINT (the `model.safetensors` written by `makemore train`) with the safetensors
package, rebuilds the MLP in PyTorch (float32; batch norm in evaluation mode, using the running
statistics bnmean{i}/bnvar{i}), recomputes the split with Python's own `random.seed(42);
random.shuffle(words)` on the data file, and prints the mean cross-entropy (F.cross_entropy) over
each whole split. Compare with the losses the Swift side reports for the same checkpoint.

The checkpoint must hold C, W{i}, b{i}, bngain{i}, bnbias{i}, bnmean{i}, bnvar{i} (i = 1..layers),
W{layers+1}, b{layers+1} (F32), and metadata embed, hidden, block, layers, eps (decimal strings)
and vocab (the characters in index order, '.' first). Characters in the data that the vocab
lacks are an error.

Run:
    $(scripts/reference-env) reference/torch_eval.py CHECKPOINT [--data FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "Sources" / "Makemore" / "Resources" / "names.txt"
CHUNK = 65536  # examples per forward pass, to bound memory for large hidden sizes


class EvalError(Exception):
    pass


def load_checkpoint(path: str) -> tuple[dict[str, str | int | float], dict[str, torch.Tensor]]:
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (OSError, SafetensorError) as error:
        raise EvalError(f"cannot read {path}: {error}") from None

    missing = [k for k in ("embed", "hidden", "block", "layers", "eps", "vocab") if k not in meta]
    if missing:
        raise EvalError(f"{path}: metadata keys missing: {', '.join(missing)}")
    cfg: dict[str, str | int | float] = {"vocab": meta["vocab"]}
    try:
        for key in ("embed", "hidden", "block", "layers"):
            cfg[key] = int(meta[key])
        cfg["eps"] = float(meta["eps"])
    except ValueError as error:
        raise EvalError(f"{path}: bad metadata value: {error}") from None
    vocab = str(cfg["vocab"])
    if not vocab.startswith(".") or len(set(vocab)) != len(vocab):
        raise EvalError(f"{path}: metadata vocab {vocab!r} must start with '.' and not repeat characters")

    V, E, H, B, L = len(vocab), int(cfg["embed"]), int(cfg["hidden"]), int(cfg["block"]), int(cfg["layers"])
    if min(E, H, B, L) < 1:
        raise EvalError(f"{path}: embed, hidden, block and layers must be at least 1")
    shapes: dict[str, list[int]] = {"C": [V, E]}
    for i in range(1, L + 1):
        shapes[f"W{i}"] = [B * E if i == 1 else H, H]
        shapes[f"b{i}"] = [H]
        for name in ("bngain", "bnbias", "bnmean", "bnvar"):
            shapes[f"{name}{i}"] = [1, H]
    shapes[f"W{L + 1}"] = [H, V]
    shapes[f"b{L + 1}"] = [V]

    absent = [name for name in shapes if name not in tensors]
    if absent:
        raise EvalError(f"{path}: tensors missing: {', '.join(absent)}")
    problems = []
    for name, shape in shapes.items():
        t = tensors[name]
        if list(t.shape) != shape:
            problems.append(f"{name} has shape {list(t.shape)}, metadata implies {shape}")
        if t.dtype != torch.float32:
            problems.append(f"{name} is {t.dtype}, expected torch.float32")
    if problems:
        raise EvalError(f"{path}: " + "; ".join(problems))
    return cfg, {name: tensors[name] for name in shapes}


def read_words(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EvalError(f"cannot read {path}: {error}") from None
    return [w for w in (line.strip() for line in text.splitlines()) if w]


def build_dataset(words: list[str], stoi: dict[str, int], block: int) -> tuple[torch.Tensor, torch.Tensor]:
    X, Y = [], []
    for w in words:
        context = [0] * block
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X, dtype=torch.int64).view(-1, block), torch.tensor(Y, dtype=torch.int64)


@torch.no_grad()
def forward(p: dict[str, torch.Tensor], X: torch.Tensor, layers: int, eps: float) -> torch.Tensor:
    """Logits, batch norm in evaluation mode (running statistics)."""
    x = p["C"][X].view(X.shape[0], -1)
    for i in range(1, layers + 1):
        hprebn = x @ p[f"W{i}"] + p[f"b{i}"]
        bnraw = (hprebn - p[f"bnmean{i}"]) * (p[f"bnvar{i}"] + eps) ** -0.5
        x = torch.tanh(p[f"bngain{i}"] * bnraw + p[f"bnbias{i}"])
    return x @ p[f"W{layers + 1}"] + p[f"b{layers + 1}"]


def split_loss(p: dict[str, torch.Tensor], X: torch.Tensor, Y: torch.Tensor, layers: int, eps: float) -> float:
    """Mean F.cross_entropy over the whole split (summed per chunk, accumulated in float64)."""
    if X.shape[0] == 0:
        return math.nan
    total = 0.0
    for start in range(0, X.shape[0], CHUNK):
        logits = forward(p, X[start:start + CHUNK], layers, eps)
        total += float(F.cross_entropy(logits, Y[start:start + CHUNK], reduction="sum").double())
    return total / X.shape[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="model.safetensors written by `makemore train`")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"names file, one word a line (default: {DEFAULT_DATA.relative_to(REPO)})")
    parser.add_argument("--json", action="store_true", help='print {"train": ..., "val": ..., "test": ...}')
    args = parser.parse_args()

    try:
        cfg, params = load_checkpoint(args.checkpoint)
        words = read_words(args.data)
        vocab = str(cfg["vocab"])
        stoi = {ch: i for i, ch in enumerate(vocab)}
        for ch in sorted(set("".join(words))):
            if ch not in stoi:
                raise EvalError(f"{args.data}: character {ch!r} (U+{ord(ch):04X}) is not in the "
                                f"checkpoint's vocabulary {vocab!r}")
    except EvalError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    random.seed(42)
    random.shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    splits = {"train": words[:n1], "val": words[n1:n2], "test": words[n2:]}

    block, layers, eps = int(cfg["block"]), int(cfg["layers"]), float(cfg["eps"])
    losses = {}
    for name, split_words in splits.items():
        X, Y = build_dataset(split_words, stoi, block)
        losses[name] = split_loss(params, X, Y, layers, eps)

    if args.json:
        print(json.dumps(losses))
    else:
        for name, loss in losses.items():
            print(f"{name:<5} {loss:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
