"""Evaluate a Swift checkpoint in PyTorch: the train / val / test losses of the lecture's split.

Loads CHECKPOINT (the `model.safetensors` written by `makemore train`) with the safetensors
package, rebuilds the model in PyTorch (float32; batch norm in evaluation mode, using the
running statistics bnmean{i}/bnvar{i}), recomputes the split with Python's own `random.seed(42);
random.shuffle(words)` on the data file, and prints the mean cross-entropy (F.cross_entropy) over
each whole split. Compare with the losses the Swift side reports for the same checkpoint.

The metadata key `model` names the model (`mlp`, the default when absent). An mlp checkpoint
must hold C, W{i}, b{i}, bngain{i}, bnbias{i}, bnmean{i}, bnvar{i} (i = 1..layers),
W{layers+1}, b{layers+1} (F32), and metadata embed, hidden, block, layers, eps (decimal strings)
and vocab (the characters in index order, '.' first). A wavenet checkpoint has no b{i} and no
`layers` (its levels are log2(block), block a power of two). A transformer checkpoint holds
makemore's state_dict names (`transformer.wte.weight`, ..., `lm_head.weight`) and metadata embed,
layers, heads, block, eps: it is loaded into makemore's own `Transformer` module with
`load_state_dict(..., strict=False)`, the `optimizer.*` tensors (AdamW's moments) left out, and
the only keys missing must be the attention's causal-mask buffers `*.attn.bias`; its loss is
per predicted position over whole words (padding ignored). Characters in the data that the
vocab lacks are an error. The models, data and split are those of
reference/makemore_reference.py.

Run:
    $(scripts/reference-env) reference/torch_eval.py CHECKPOINT [--data FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import makemore_reference as mm
from makemore_reference import Config, InputError

REPO = mm.REPO
DEFAULT_DATA = mm.DEFAULT_DATA


def load_checkpoint(path: str) -> tuple[Config, dict[str, torch.Tensor]]:
    """The configuration and the model's tensors (float32, shapes as the metadata implies)."""
    meta, tensors = mm.load_safetensors(path)
    try:
        cfg = mm.read_config(meta)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    shapes = mm.parameter_shapes(cfg)
    absent = [name for name in shapes if name not in tensors]
    if absent:
        raise InputError(f"{path}: tensors missing: {', '.join(absent)}")
    problems = mm.shape_problems(tensors, {name: (shape, torch.float32) for name, shape in shapes.items()})
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    return cfg, {name: tensors[name] for name in shapes}


def transformer_losses(path: str, cfg: Config, words: list[str]) -> dict[str, float]:
    """The split losses of makemore's `Transformer` with the checkpoint's whole state_dict loaded
    into it: every tensor but the optimizer's, strict=False, and nothing missing but the
    attention's causal-mask buffers (`*.attn.bias`, which the file does not store)."""
    _, tensors = mm.load_safetensors(path)
    state = {name: t for name, t in tensors.items() if not name.startswith("optimizer.")}
    model = mm.Transformer(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [n for n in missing if not n.endswith(".attn.bias")]
    if bad or unexpected:
        raise InputError(f"{path}: state_dict keys missing {bad}, unexpected {unexpected}")
    assert len(missing) == cfg.layers, missing  # one causal mask per block
    data = mm.word_datasets(words, cfg.vocab, cfg.block)
    return {name: mm.transformer_split_loss(model, X, Y) for name, (X, Y) in data.items()}


def word_model_losses(path: str, cfg: Config, words: list[str]) -> dict[str, float]:
    """The split losses of makemore's `Bigram`, `BoW` or `RNN` (rnn, gru) with the checkpoint's whole state_dict
    loaded into it: every tensor but the optimizer's, strict=False, and nothing missing but the
    bag of words' causal-mask buffer (`context_block.cbow.bias`, which the file does not store)."""
    _, tensors = mm.load_safetensors(path)
    state = {name: t for name, t in tensors.items() if not name.startswith("optimizer.")}
    model = mm.WORD_MODULES[cfg.model](cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [n for n in missing if n != "context_block.cbow.bias"]
    if bad or unexpected:
        raise InputError(f"{path}: state_dict keys missing {bad}, unexpected {unexpected}")
    data = mm.word_datasets(words, cfg.vocab, cfg.block)
    return {name: mm.transformer_split_loss(model, X, Y) for name, (X, Y) in data.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="model.safetensors written by `makemore train`")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"names file, one word a line (default: {DEFAULT_DATA.relative_to(REPO)})")
    parser.add_argument("--json", action="store_true", help='print {"train": ..., "val": ..., "test": ...}')
    args = parser.parse_args()

    try:
        cfg, params = load_checkpoint(args.checkpoint)
        words = mm.read_words(args.data)
        mm.check_vocabulary(words, cfg.vocab, args.data)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    if cfg.model in ("bigram", "bow") + mm.RNNS:
        try:
            losses = word_model_losses(args.checkpoint, cfg, words)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    elif cfg.model == "transformer":
        try:
            losses = transformer_losses(args.checkpoint, cfg, words)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    else:
        losses = mm.split_losses(cfg, params, mm.datasets(words, cfg.vocab, cfg.block))
    if args.json:
        print(json.dumps(losses))
    else:
        for name, loss in losses.items():
            print(f"{name:<5} {loss:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
