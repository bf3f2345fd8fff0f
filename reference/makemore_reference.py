"""What the PyTorch reference scripts share: the data, the file format and the model.

`reference/torch_parity.py`, `reference/torch_eval.py`, `bench/torch_baseline.py` and
`bench/torch_train.py` all rebuild the Swift side's world in PyTorch; this module is the one
place that says what it is:

- data: the words of a names file, the vocabulary ('.' first, then the characters sorted), the
  lecture's split (`random.seed(42); random.shuffle(words)`, 80% / 10% / 10%) and the context
  windows of `block` previous characters;
- configuration: a `Config` read from (or written to) the metadata of a checkpoint or export,
  whose key `model` names the model (`mlp` when absent);
- the model: tensor names and shapes, the initial values, the forward in training mode (batch
  statistics, recorded for the running ones) and in evaluation mode (running statistics), the
  hand-written fused backward, one SGD step (autograd or hand-written), batch-norm calibration
  and split losses.

Models (the names are those of the safetensors files, `L` is `cfg.layers`):

  mlp      embedding C; L blocks of Linear(W{i}, b{i}) -> BatchNorm1d(bngain{i}, bnbias{i};
           running bnmean{i}, bnvar{i}) -> Tanh; output Linear(W{L+1}, b{L+1}).
  wavenet  makemore part 5: embedding C; for each of L = log2(block) levels FlattenConsecutive(2)
           -> Linear(W{i}, no bias) -> BatchNorm1d over (batch, time) -> Tanh; output
           Linear(W{L+1}, b{L+1}). For block 8: (B,8) -> (B,8,24) -> (B,4,48) -> (B,4,128) ->
           (B,2,256) -> (B,2,128) -> (B,256) -> (B,128) -> (B,27).
  transformer  karpathy/makemore's Transformer (class `Transformer` below, its code): wte, wpe;
           L = `layers` blocks x = x + attn(ln_1(x)), x = x + mlp(ln_2(x)) with causal
           multi-head attention (`heads`) and a tanh-GELU MLP 4 x embed wide; ln_f; lm_head
           without bias. Tensors are its state_dict's (`transformer.wte.weight`, ...). It reads
           whole words: X (B, block) is `0, c1..cn` padded with 0, Y (B, block) is `c1..cn, 0`
           padded with -1 (ignored by the loss).
  bigram   karpathy/makemore's Bigram: one (vocab, vocab) table `logits`, zeros to start; the
           next character from the previous one alone. Reads whole words as the transformer.
  bow      karpathy/makemore's BoW: wte, wpe; one block x = x + cbow(x) (the mean of the word's
           vectors up to each position), x = x + c_proj(tanh(c_fc(x))) `hidden` (n_embd2) wide;
           lm_head with bias. State_dict names (`wte.weight`, `context_block.mlp.c_fc.weight`,
           ...). Reads whole words as the transformer.
  rnn, gru karpathy/makemore's RNN (classes `RNN`, `RNNCell`, `GRUCell` below, its code): a
           learned initial state `start`, wte, the cell run along each word on [x_t, h_{t-1}]
           (rnn: tanh(xh_to_h); gru: gates xh_to_z, xh_to_r, candidate xh_to_hbar), lm_head on
           every state; embed = n_embd, hidden = n_embd2. Reads whole words as the transformer.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "Sources" / "Makemore" / "Resources" / "names.txt"
MODELS = ("mlp", "wavenet", "transformer", "bigram", "bow", "rnn", "gru")
RNNS = ("rnn", "gru")  # makemore's RNN with its two cells
WORD_MODELS = ("transformer", "bigram", "bow") + RNNS  # read whole words (`word_tensors`), makemore's modules
SPLIT_SEED = 42
EVAL_CHUNK = 65536  # examples per forward pass when evaluating a whole split, to bound memory

Tensors = dict[str, torch.Tensor]


class InputError(Exception):
    """A problem with an input: an unreadable file, missing or inconsistent metadata or tensors,
    an unknown model, data the vocabulary lacks. The message is one line."""


# ---------------------------------------------------------------------------------------------
# Data


def read_words(path: Path) -> list[str]:
    """The non-empty lines of a UTF-8 names file, stripped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    return [w for w in (line.strip() for line in text.splitlines()) if w]


def vocabulary(words: list[str]) -> str:
    """'.' (the terminator, index 0) then the characters of the words in code point order."""
    return "." + "".join(sorted(set("".join(words))))


def check_vocabulary(words: list[str], vocab: str, path: Path) -> None:
    """Raises if the words hold a character that `vocab` lacks."""
    known = set(vocab)
    for ch in sorted(set("".join(words))):
        if ch not in known:
            raise InputError(f"{path}: character {ch!r} (U+{ord(ch):04X}) is not in the "
                             f"checkpoint's vocabulary {vocab!r}")


def split(words: list[str]) -> dict[str, list[str]]:
    """The lecture's split: `random.seed(42); random.shuffle(words)`, then 80% / 10% / 10%."""
    words = list(words)
    random.Random(SPLIT_SEED).shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return {"train": words[:n1], "val": words[n1:n2], "test": words[n2:]}


def build_dataset(words: list[str], vocab: str, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Context windows X (n, block) and next characters Y (n,), int64: one example per character
    of each word and one for its terminating '.', the context starting as `block` dots."""
    stoi = {ch: i for i, ch in enumerate(vocab)}
    X, Y = [], []
    for w in words:
        context = [0] * block
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X, dtype=torch.int64).view(-1, block), torch.tensor(Y, dtype=torch.int64)


def datasets(words: list[str], vocab: str, block: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(X, Y) of each split of `words`: train, val, test."""
    return {name: build_dataset(part, vocab, block) for name, part in split(words).items()}


# ---------------------------------------------------------------------------------------------
# Configuration and metadata


@dataclass
class Config:
    """A model's shape. `layers` is the number of hidden blocks of the mlp, and the number of
    levels of the wavenet (log2(block), not stored in its metadata). `momentum`, `batch` and
    `seed` are None where the file does not need them."""

    model: str
    vocab: str
    embed: int
    hidden: int
    block: int
    layers: int
    eps: float = 1e-5
    momentum: float | None = None
    batch: int | None = None
    seed: int | None = None
    heads: int | None = None  # the transformer's

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def metadata(self) -> dict[str, str]:
        """The metadata keys of this configuration, as the Swift side writes them."""
        meta = {"model": self.model, "vocab": self.vocab, "embed": str(self.embed), "hidden": str(self.hidden),
                "block": str(self.block), "eps": repr(self.eps)}
        if self.model in ("mlp", "transformer"):
            meta["layers"] = str(self.layers)
        if self.model == "transformer":
            del meta["hidden"]
            meta["heads"] = str(self.heads)
        if self.model in ("bigram", "bow") + RNNS:
            del meta["eps"]
        if self.model == "bigram":
            del meta["embed"], meta["hidden"]
        for key in ("momentum", "batch", "seed"):
            if getattr(self, key) is not None:
                meta[key] = repr(getattr(self, key))
        return meta


def wavenet_levels(block: int) -> int | None:
    """log2(block) if block is a power of two of at least 2, else None."""
    if block >= 2 and block & (block - 1) == 0:
        return block.bit_length() - 1
    return None


def model_name(meta: dict[str, str]) -> str:
    """The metadata's `model` (`mlp` when absent); an unknown name is an error."""
    name = meta.get("model", "mlp")
    if name not in MODELS:
        raise InputError(f"metadata model={name!r} is not a known model ({', '.join(MODELS)})")
    return name


def read_config(meta: dict[str, str] | None, require: tuple[str, ...] = ()) -> Config:
    """The configuration in a file's metadata. Always needed: the model's sizes (embed, hidden,
    block, and layers for the mlp), eps and vocab; `require` names further keys among momentum,
    batch and seed. Raises InputError naming every missing key, or the first bad value."""
    meta = meta or {}
    model = model_name(meta)
    int_keys = ["embed", "hidden", "block"] + (["layers"] if model == "mlp" else [])
    if model == "transformer":
        int_keys = ["embed", "block", "layers", "heads"]
    if model == "bigram":
        int_keys = ["block"]
    if model in ("bow",) + RNNS:
        int_keys = ["embed", "hidden", "block"]
    int_keys += [k for k in ("batch", "seed") if k in require]
    float_keys = ([] if model in ("bigram", "bow") + RNNS else ["eps"]) + [k for k in ("momentum",) if k in require]
    missing = [k for k in int_keys + float_keys + ["vocab"] if k not in meta]
    if missing:
        raise InputError(f"metadata keys missing: {', '.join(missing)}")
    values: dict[str, object] = {}
    for key in int_keys:
        try:
            values[key] = int(meta[key])
        except ValueError:
            raise InputError(f"metadata {key}={meta[key]!r} is not an integer") from None
    for key in float_keys:
        try:
            values[key] = float(meta[key])
        except ValueError:
            raise InputError(f"metadata {key}={meta[key]!r} is not a number") from None
        if not math.isfinite(values[key]):  # type: ignore[arg-type]
            raise InputError(f"metadata {key}={meta[key]!r} is not finite")
    if model == "wavenet":
        values["layers"] = wavenet_levels(values["block"]) or 0  # type: ignore[arg-type]
    if model == "transformer":
        values["hidden"] = 4 * values["embed"]  # type: ignore[operator]
    if model == "bigram":  # no sizes of its own: the table is (vocab, vocab)
        values["embed"] = values["hidden"] = len(meta["vocab"])
    if model in ("bigram", "bow") + RNNS:
        values["layers"] = 1
    cfg = Config(model=model, vocab=meta["vocab"], **values)  # type: ignore[arg-type]
    problems = config_problems(cfg, meta)
    if problems:
        raise InputError("; ".join(problems))
    return cfg


def config_problems(cfg: Config, meta: dict[str, str]) -> list[str]:
    """What is wrong with a configuration read from metadata (empty if nothing)."""
    problems = []
    for key in ("embed", "hidden", "block") + (("layers",) if cfg.model in ("mlp", "transformer") else ()):
        if getattr(cfg, key) < 1:
            problems.append(f"metadata {key}={getattr(cfg, key)} must be at least 1")
    if cfg.model == "wavenet" and cfg.block >= 1:
        if cfg.layers == 0:
            problems.append(f"metadata block={cfg.block} must be a power of two, at least 2, for the wavenet")
        elif "layers" in meta and meta["layers"] != str(cfg.layers):
            problems.append(f"metadata layers={meta['layers']!r} disagrees with block {cfg.block} "
                            f"(the wavenet has log2(block) = {cfg.layers} levels)")
    if cfg.model == "transformer" and (cfg.heads or 0) < 1:
        problems.append(f"metadata heads={cfg.heads} must be at least 1")
    elif cfg.model == "transformer" and cfg.embed % cfg.heads:  # type: ignore[operator]
        problems.append(f"metadata embed={cfg.embed} is not a multiple of heads={cfg.heads}")
    if cfg.batch is not None and cfg.batch < (1 if cfg.model in WORD_MODELS else 2):
        problems.append(f"metadata batch={cfg.batch} must be at least 2 (Bessel's 1/(n-1))")
    if not cfg.vocab.startswith("."):
        problems.append(f"metadata vocab {cfg.vocab!r} does not start with '.'")
    if len(set(cfg.vocab)) != len(cfg.vocab):
        problems.append(f"metadata vocab {cfg.vocab!r} repeats a character")
    if list(cfg.vocab[1:]) != sorted(cfg.vocab[1:]):
        problems.append(f"metadata vocab {cfg.vocab!r} is not sorted after '.'")
    return problems


def load_safetensors(path: str | Path) -> tuple[dict[str, str], Tensors]:
    """The metadata and every tensor of a safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (OSError, SafetensorError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    return meta, tensors


def save_model(path: str | Path, cfg: Config, p: Tensors, extra: dict[str, str] | None = None) -> None:
    """Writes the model's tensors (float32) and its configuration as metadata."""
    tensors = {name: p[name].detach().to(torch.float32).contiguous() for name in parameter_shapes(cfg)}
    save_file(tensors, str(path), metadata={**cfg.metadata(), **(extra or {})})


# ---------------------------------------------------------------------------------------------
# Tensor names and shapes


def trainable_names(cfg: Config) -> list[str]:
    """Trainable parameters, in the order of the Swift parameter table (and of initialisation)."""
    if cfg.model in WORD_MODELS:
        return list(word_shapes(cfg))
    L, names = cfg.layers, ["C"]
    for i in range(1, L + 1):
        names += [f"W{i}"] + ([f"b{i}"] if cfg.model == "mlp" else []) + [f"bngain{i}", f"bnbias{i}"]
    return names + [f"W{L + 1}", f"b{L + 1}"]


def running_names(cfg: Config) -> list[str]:
    """Running batch-norm statistics (not used by the training-mode forward, not trained)."""
    if cfg.model in WORD_MODELS:
        return []
    return [name for i in range(1, cfg.layers + 1) for name in (f"bnmean{i}", f"bnvar{i}")]


def fan_in(cfg: Config, i: int) -> int:
    """Inputs of hidden Linear i (1-based)."""
    if cfg.model == "mlp":
        return cfg.block * cfg.embed if i == 1 else cfg.hidden
    return 2 * (cfg.embed if i == 1 else cfg.hidden)


def parameter_shapes(cfg: Config) -> dict[str, list[int]]:
    """Every tensor of the model by name, trainable parameters first, then running statistics."""
    if cfg.model in WORD_MODELS:
        return word_shapes(cfg)
    H, V = cfg.hidden, cfg.vocab_size
    shapes = {"C": [V, cfg.embed]}
    for i in range(1, cfg.layers + 1):
        shapes[f"W{i}"] = [fan_in(cfg, i), H]
        shapes[f"b{i}"] = [H]
        shapes[f"bngain{i}"] = shapes[f"bnbias{i}"] = [1, H]
    shapes[f"W{cfg.layers + 1}"] = [H, V]
    shapes[f"b{cfg.layers + 1}"] = [V]
    for name in running_names(cfg):
        shapes[name] = [1, H]
    names = trainable_names(cfg) + running_names(cfg)
    return {name: shapes[name] for name in names}


def shape_problems(tensors: Tensors, expected: dict[str, tuple[list[int], torch.dtype]]) -> list[str]:
    """A line for each tensor of `expected` (name: (shape, dtype)) whose shape or dtype differs.
    Every name must be in `tensors`."""
    problems = []
    for name, (shape, dtype) in expected.items():
        t = tensors[name]
        if list(t.shape) != shape:
            problems.append(f"{name} has shape {list(t.shape)}, metadata implies {shape}")
        if t.dtype != dtype:
            problems.append(f"{name} is {t.dtype}, expected {dtype}")
    return problems


def parameter_count(cfg: Config) -> int:
    """Number of trainable parameters (76,579 for the default wavenet)."""
    shapes = parameter_shapes(cfg)
    return sum(math.prod(shapes[name]) for name in trainable_names(cfg))


# ---------------------------------------------------------------------------------------------
# Initial values


def init_parameters(cfg: Config, generator: torch.Generator | None = None) -> Tensors:
    """Initial values drawn from `generator` (torch's global one when None), running statistics
    mean 0 and variance 1.

    mlp: the Swift side's `ParameterTable.initialized`, deliberately non-trivial: C ~ N(0,1);
    hidden W ~ N(0,1)·(5/3)/sqrt(fan_in), b ~ 0.1·N(0,1); bngain ~ 1 + 0.1·N(0,1),
    bnbias ~ 0.1·N(0,1); output W, b ~ 0.1·N(0,1). Drawn in the order of the table.

    wavenet: the lecture's: C ~ N(0,1); every Linear W ~ N(0,1)/sqrt(fan_in), the output one
    then x0.1; output bias 0; bngain 1, bnbias 0. Drawn in the order C, W1, ..., W{L+1}."""
    shapes, L = parameter_shapes(cfg), cfg.layers
    p: Tensors = {}

    def randn(name: str) -> torch.Tensor:
        return torch.randn(shapes[name], generator=generator)

    for name in trainable_names(cfg):
        if name == "C":
            p[name] = randn(name)
        elif cfg.model == "wavenet":
            p[name] = wavenet_initial(name, shapes[name], L, randn)
        elif name in (f"W{L + 1}", f"b{L + 1}"):
            p[name] = randn(name) * 0.1
        elif name.startswith("W"):
            p[name] = randn(name) * (5 / 3) / shapes[name][0] ** 0.5
        elif name.startswith("bngain"):
            p[name] = randn(name) * 0.1 + 1.0
        else:  # b{i}, bnbias{i}
            p[name] = randn(name) * 0.1
    for i in range(1, L + 1):
        p[f"bnmean{i}"] = torch.zeros(shapes[f"bnmean{i}"])
        p[f"bnvar{i}"] = torch.ones(shapes[f"bnvar{i}"])
    return p


def wavenet_initial(name: str, shape: list[int], L: int, randn) -> torch.Tensor:
    """The lecture's initial value of wavenet tensor `name` (not C); `randn(name)` draws."""
    if name.startswith("W"):
        w = randn(name) / shape[0] ** 0.5
        return w * 0.1 if name == f"W{L + 1}" else w
    return torch.ones(shape) if name.startswith("bngain") else torch.zeros(shape)


# ---------------------------------------------------------------------------------------------
# Forward


def batch_norm_stepwise(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor, eps: float, i: int,
                        record: Tensors) -> torch.Tensor:
    """Training-mode batch norm over the rows of a 2-D `x`, written out step by step as in
    makemore part 4 (every intermediate is a row of the gradient table), recorded as
    bnmeani{i}, bndiff{i}, bndiff2{i}, bnvar{i} (the batch's unbiased variance), bnvar_inv{i},
    bnraw{i}, hpreact{i}."""
    n = x.shape[0]
    bnmeani = 1 / n * x.sum(0, keepdim=True)
    bndiff = x - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)
    bnvar_inv = (bnvar + eps) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = gain * bnraw + bias
    record.update({f"bnmeani{i}": bnmeani, f"bndiff{i}": bndiff, f"bndiff2{i}": bndiff2, f"bnvar{i}": bnvar,
                   f"bnvar_inv{i}": bnvar_inv, f"bnraw{i}": bnraw, f"hpreact{i}": hpreact})
    return hpreact


def batch_norm(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor, eps: float, i: int,
               record: Tensors) -> torch.Tensor:
    """Training-mode batch norm as makemore part 5's BatchNorm1d: mean and unbiased variance
    (torch.var) over dims (0, 1) of a 3-D x, over dim 0 of a 2-D one. Records bnmeani{i} and
    bnvar{i} (the batch statistics, shape (1, H)), bnraw{i} (x normalised) and hpreact{i}."""
    dims = (0, 1) if x.ndim == 3 else 0
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True)
    xhat = (x - mean) / torch.sqrt(var + eps)
    out = gain * xhat + bias
    record.update({f"bnmeani{i}": mean.view(1, -1), f"bnvar{i}": var.view(1, -1), f"bnraw{i}": xhat,
                   f"hpreact{i}": out})
    return out


def batch_norm_eval(x: torch.Tensor, p: Tensors, i: int, eps: float) -> torch.Tensor:
    """Evaluation-mode batch norm of level i: the running statistics bnmean{i}, bnvar{i}."""
    bnraw = (x - p[f"bnmean{i}"]) * (p[f"bnvar{i}"] + eps) ** -0.5
    return p[f"bngain{i}"] * bnraw + p[f"bnbias{i}"]


def flatten_consecutive(x: torch.Tensor) -> torch.Tensor:
    """makemore part 5's FlattenConsecutive(2): (B, T, C) -> (B, T/2, 2C), and (B, 2C) when
    T/2 is 1."""
    B, T, C = x.shape
    x = x.view(B, T // 2, 2 * C)
    return x.squeeze(1) if x.shape[1] == 1 else x


def forward(cfg: Config, p: Tensors, X: torch.Tensor, *, training: bool, record: Tensors | None = None) -> torch.Tensor:
    """Logits (n, vocab) of contexts X (n, block). Training mode uses the batch's statistics
    (and needs only the trainable parameters in `p`), evaluation mode the running ones.
    `record` receives the intermediates by name: emb, then per level i the input of its Linear
    (embcat for the mlp's first, x{i} for the wavenet's), hprebn{i}, the batch-norm
    intermediates (training mode), hpreact{i}, h{i}; then logits."""
    record = {} if record is None else record
    L, wavenet = cfg.layers, cfg.model == "wavenet"
    x = record["emb"] = p["C"][X]
    if not wavenet:
        x = record["embcat"] = x.view(X.shape[0], -1)
    for i in range(1, L + 1):
        if wavenet:
            x = record[f"x{i}"] = flatten_consecutive(x)
            hprebn = record[f"hprebn{i}"] = x @ p[f"W{i}"]
        else:
            hprebn = record[f"hprebn{i}"] = x @ p[f"W{i}"] + p[f"b{i}"]
        if training and wavenet:
            hpreact = batch_norm(hprebn, p[f"bngain{i}"], p[f"bnbias{i}"], cfg.eps, i, record)
        elif training:
            hpreact = batch_norm_stepwise(hprebn, p[f"bngain{i}"], p[f"bnbias{i}"], cfg.eps, i, record)
        else:
            hpreact = record[f"hpreact{i}"] = batch_norm_eval(hprebn, p, i, cfg.eps)
        x = record[f"h{i}"] = torch.tanh(hpreact)
    logits = record["logits"] = x @ p[f"W{L + 1}"] + p[f"b{L + 1}"]
    return logits


@torch.no_grad()
def update_running(cfg: Config, p: Tensors, record: Tensors, momentum: float) -> None:
    """running = (1 - momentum) running + momentum batch, for the batch statistics that a
    training-mode forward recorded."""
    for i in range(1, cfg.layers + 1):
        for running, batch in ((f"bnmean{i}", f"bnmeani{i}"), (f"bnvar{i}", f"bnvar{i}")):
            p[running].mul_(1 - momentum).add_(record[batch], alpha=momentum)


# ---------------------------------------------------------------------------------------------
# Backward (hand-written, fused), training, evaluation


def cross_entropy_backward(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """d(mean cross-entropy)/d(logits): (softmax - one_hot(Y)) / n."""
    n = logits.shape[0]
    dlogits = F.softmax(logits, 1)
    dlogits[torch.arange(n), Y] -= 1
    return dlogits / n


def batch_norm_backward(dhpreact: torch.Tensor, bnraw: torch.Tensor, gain: torch.Tensor,
                        bnvar_inv: torch.Tensor) -> torch.Tensor:
    """The fused backward of training-mode batch norm (unbiased variance) to its input."""
    n = dhpreact.shape[0]
    return gain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))


def rows(t: torch.Tensor) -> torch.Tensor:
    """A 3-D (B, T, C) tensor as (B*T, C) rows; a 2-D one as it is."""
    return t if t.ndim == 2 else t.reshape(-1, t.shape[-1])


def linear_input(cfg: Config, record: Tensors, i: int) -> torch.Tensor:
    """The input of hidden Linear i in a recorded forward."""
    if cfg.model == "wavenet":
        return record[f"x{i}"]
    return record["embcat"] if i == 1 else record[f"h{i - 1}"]


@torch.no_grad()
def backward(cfg: Config, p: Tensors, record: Tensors, X: torch.Tensor, Y: torch.Tensor) -> Tensors:
    """Hand-written gradients of the mean cross-entropy of a training-mode forward (`record`),
    with the fused cross-entropy and batch-norm backward: every trainable parameter, and the
    intermediates logits, h{i}, hpreact{i}, hprebn{i}, emb.

    A wavenet level works on rows: its (B, T, C) tensors as (B*T, C), since batch norm over
    dims (0, 1) is batch norm over those rows; its input's gradient goes back to h{i-1}'s shape
    (FlattenConsecutive is a view)."""
    L = cfg.layers
    d: Tensors = {"logits": cross_entropy_backward(record["logits"], Y)}
    d[f"W{L + 1}"] = record[f"h{L}"].T @ d["logits"]
    d[f"b{L + 1}"] = d["logits"].sum(0)
    dh = d["logits"] @ p[f"W{L + 1}"].T
    for i in range(L, 0, -1):
        h = record[f"h{i}"]
        if dh.shape != h.shape:
            dh = dh.view(h.shape)
        d[f"h{i}"] = dh
        dhpreact = d[f"hpreact{i}"] = (1.0 - h**2) * dh
        dhpreact, bnraw = rows(dhpreact), rows(record[f"bnraw{i}"])
        d[f"bngain{i}"] = (bnraw * dhpreact).sum(0, keepdim=True)
        d[f"bnbias{i}"] = dhpreact.sum(0, keepdim=True)
        bnvar_inv = record.get(f"bnvar_inv{i}")
        if bnvar_inv is None:  # the wavenet's batch norm divides by the square root instead
            bnvar_inv = (record[f"bnvar{i}"] + cfg.eps) ** -0.5
        dhprebn = batch_norm_backward(dhpreact, bnraw, p[f"bngain{i}"], bnvar_inv)
        d[f"hprebn{i}"] = dhprebn if dhprebn.shape == h.shape else dhprebn.view(h.shape)
        d[f"W{i}"] = rows(linear_input(cfg, record, i)).T @ dhprebn
        if cfg.model == "mlp":
            d[f"b{i}"] = dhprebn.sum(0)
        dh = dhprebn @ p[f"W{i}"].T
    d["emb"] = dh.view(record["emb"].shape)
    dC = torch.zeros_like(p["C"])
    dC.index_add_(0, X.view(-1), dh.view(-1, cfg.embed))
    d["C"] = dC
    return d


def autograd_step(cfg: Config, p: Tensors, trainable: list[torch.Tensor], Xb: torch.Tensor, Yb: torch.Tensor,
                  lr: float, momentum: float) -> torch.Tensor:
    """One SGD step as the lectures run it: training-mode forward (updating the running
    statistics), F.cross_entropy, grads set to None, loss.backward(), p.data -= lr * p.grad.
    `trainable` are the tensors of `p` to update (requires_grad set). Returns the loss."""
    record: Tensors = {}
    logits = forward(cfg, p, Xb, training=True, record=record)
    update_running(cfg, p, record, momentum)
    loss = F.cross_entropy(logits, Yb)
    for t in trainable:
        t.grad = None
    loss.backward()
    for t in trainable:
        t.data -= lr * t.grad
    return loss.detach()


@torch.no_grad()
def manual_step(cfg: Config, p: Tensors, names: list[str], Xb: torch.Tensor, Yb: torch.Tensor,
                lr: float, momentum: float) -> torch.Tensor:
    """One SGD step without autograd: training-mode forward (updating the running statistics),
    the hand-written fused `backward`, p -= lr * grad. Returns the loss."""
    record: Tensors = {}
    logits = forward(cfg, p, Xb, training=True, record=record)
    update_running(cfg, p, record, momentum)
    loss = F.cross_entropy(logits, Yb)
    grads = backward(cfg, p, record, Xb, Yb)
    for name in names:
        p[name].sub_(grads[name], alpha=lr)
    return loss


@torch.no_grad()
def calibrate_batch_norm(cfg: Config, p: Tensors, X: torch.Tensor) -> None:
    """Sets the running statistics to the mean and unbiased variance of each batch norm's input
    over all of X, level by level (each level sees the ones before it calibrated), accumulating
    sums of x and x^2 in float64 as the Swift side does after training."""
    for i in range(1, cfg.layers + 1):
        total = torch.zeros(cfg.hidden, dtype=torch.float64)
        squares = torch.zeros(cfg.hidden, dtype=torch.float64)
        count = 0
        for start in range(0, X.shape[0], EVAL_CHUNK):
            record: Tensors = {}
            forward(cfg, p, X[start:start + EVAL_CHUNK], training=False, record=record)
            pre = rows(record[f"hprebn{i}"]).double()
            total += pre.sum(0)
            squares += (pre * pre).sum(0)
            count += pre.shape[0]
        mean = total / count
        var = ((squares - count * mean * mean) / (count - 1)).clamp(min=0)
        p[f"bnmean{i}"].copy_(mean.view(1, -1))
        p[f"bnvar{i}"].copy_(var.view(1, -1))


@torch.no_grad()
def split_loss(cfg: Config, p: Tensors, X: torch.Tensor, Y: torch.Tensor) -> float:
    """Mean F.cross_entropy over a whole split in evaluation mode (summed per chunk of
    EVAL_CHUNK examples, accumulated in float64); NaN for an empty split."""
    if X.shape[0] == 0:
        return math.nan
    total = 0.0
    for start in range(0, X.shape[0], EVAL_CHUNK):
        logits = forward(cfg, p, X[start:start + EVAL_CHUNK], training=False)
        total += float(F.cross_entropy(logits, Y[start:start + EVAL_CHUNK], reduction="sum").double())
    return total / X.shape[0]


def split_losses(cfg: Config, p: Tensors, data: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """`split_loss` of each split of `datasets(...)`, by name."""
    return {name: split_loss(cfg, p, X, Y) for name, (X, Y) in data.items()}


def matmul_flops(cfg: Config, batch: int) -> float:
    """2·m·k·n for each of the three products of every Linear (forward, dx, dW), m the rows of
    its input: the batch for the mlp, batch x (block / 2^i) at the wavenet's level i. As the
    Swift benchmark counts them (the first layer's dx too, which dC needs); element-wise work
    is not counted."""
    flops = 0.0
    for i in range(1, cfg.layers + 1):
        m = batch if cfg.model == "mlp" else batch * (cfg.block >> i)
        flops += 3 * 2 * m * fan_in(cfg, i) * cfg.hidden
    return flops + 3 * 2 * batch * cfg.hidden * cfg.vocab_size


# ---------------------------------------------------------------------------------------------
# The transformer: karpathy/makemore's code (its `Transformer`, `Block`, `CausalSelfAttention`,
# `NewGELU`), with an optional `record` dict that keeps each layer's output by the Swift side's
# names, and a mask to gather the positions the Swift side computes (each word's, unpadded).


def transformer_shapes(cfg: Config) -> dict[str, list[int]]:
    """makemore's Transformer state_dict (without the attention's causal-mask buffers)."""
    C, V = cfg.embed, cfg.vocab_size
    shapes = {"transformer.wte.weight": [V, C], "transformer.wpe.weight": [cfg.block, C]}
    for i in range(cfg.layers):
        h = f"transformer.h.{i}"
        for name, shape in (("ln_1.weight", [C]), ("ln_1.bias", [C]), ("attn.c_attn.weight", [3 * C, C]),
                            ("attn.c_attn.bias", [3 * C]), ("attn.c_proj.weight", [C, C]), ("attn.c_proj.bias", [C]),
                            ("ln_2.weight", [C]), ("ln_2.bias", [C]), ("mlp.c_fc.weight", [4 * C, C]),
                            ("mlp.c_fc.bias", [4 * C]), ("mlp.c_proj.weight", [C, 4 * C]), ("mlp.c_proj.bias", [C])):
            shapes[f"{h}.{name}"] = shape
    shapes["transformer.ln_f.weight"] = shapes["transformer.ln_f.bias"] = [C]
    shapes["lm_head.weight"] = [V, C]
    return shapes


class NewGELU(torch.nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CausalSelfAttention(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        assert cfg.embed % cfg.heads == 0
        self.c_attn = torch.nn.Linear(cfg.embed, 3 * cfg.embed)
        self.c_proj = torch.nn.Linear(cfg.embed, cfg.embed)
        self.register_buffer("bias", torch.tril(torch.ones(cfg.block, cfg.block)).view(1, 1, cfg.block, cfg.block))
        self.n_head = cfg.heads
        self.n_embd = cfg.embed

    def forward(self, x, record=None, prefix=""):
        B, T, C = x.size()
        qkv = self.c_attn(x)
        q, k, v = qkv.split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        out = self.c_proj(y)
        if record is not None:
            record.update({f"{prefix}.attn.qkv": qkv, f"{prefix}.attn.y": y, f"{prefix}.attn.out": out})
        return out


class Block(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(cfg.embed, eps=cfg.eps)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = torch.nn.LayerNorm(cfg.embed, eps=cfg.eps)
        self.mlp = torch.nn.ModuleDict(dict(c_fc=torch.nn.Linear(cfg.embed, 4 * cfg.embed),
                                            c_proj=torch.nn.Linear(4 * cfg.embed, cfg.embed), act=NewGELU()))

    def forward(self, x, record=None, prefix=""):
        m, r = self.mlp, {} if record is None else record
        ln_1 = r[f"{prefix}.ln_1"] = self.ln_1(x)
        x = r[f"{prefix}.mid"] = x + self.attn(ln_1, record, prefix)
        ln_2 = r[f"{prefix}.ln_2"] = self.ln_2(x)
        fc = r[f"{prefix}.mlp.fc"] = m.c_fc(ln_2)
        gelu = r[f"{prefix}.mlp.gelu"] = m.act(fc)
        out = r[f"{prefix}.mlp.out"] = m.c_proj(gelu)
        x = r[f"{prefix}.out"] = x + out
        return x


class Transformer(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.block_size = cfg.block
        self.transformer = torch.nn.ModuleDict(dict(
            wte=torch.nn.Embedding(cfg.vocab_size, cfg.embed),
            wpe=torch.nn.Embedding(cfg.block, cfg.embed),
            h=torch.nn.ModuleList([Block(cfg) for _ in range(cfg.layers)]),
            ln_f=torch.nn.LayerNorm(cfg.embed, eps=cfg.eps),
        ))
        self.lm_head = torch.nn.Linear(cfg.embed, cfg.vocab_size, bias=False)

    def forward(self, idx, targets=None, record=None):
        b, t = idx.size()
        assert t <= self.block_size, f"Cannot forward sequence of length {t}, block size is only {self.block_size}"
        r = {} if record is None else record
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device).unsqueeze(0)
        x = r["emb"] = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for i, block in enumerate(self.transformer.h):
            x = block(x, record, f"h.{i}")
        x = r["ln_f"] = self.transformer.ln_f(x)
        logits = r["logits"] = self.lm_head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def transformer_model(cfg: Config, tensors: Tensors, dtype: torch.dtype = torch.float32) -> Transformer:
    """A `Transformer` holding the file's parameters (state_dict names), in `dtype`."""
    model = Transformer(cfg)
    missing, unexpected = model.load_state_dict({n: tensors[n] for n in transformer_shapes(cfg)}, strict=False)
    assert all(n.endswith(".attn.bias") for n in missing) and not unexpected, (missing, unexpected)
    return model.to(dtype)


# ---------------------------------------------------------------------------------------------
# The bigram and the bag of words: karpathy/makemore's `Bigram`, `CausalBoW`, `BoWBlock`, `BoW`,
# with the same optional `record` as the transformer's (the Swift side's names).


def bigram_shapes(cfg: Config) -> dict[str, list[int]]:
    return {"logits": [cfg.vocab_size, cfg.vocab_size]}


def bow_shapes(cfg: Config) -> dict[str, list[int]]:
    """makemore's BoW state_dict (without the bag of words' causal-mask buffer)."""
    C, H, V = cfg.embed, cfg.hidden, cfg.vocab_size
    return {"wte.weight": [V, C], "wpe.weight": [cfg.block, C],
            "context_block.mlp.c_fc.weight": [H, C], "context_block.mlp.c_fc.bias": [H],
            "context_block.mlp.c_proj.weight": [C, H], "context_block.mlp.c_proj.bias": [C],
            "lm_head.weight": [V, C], "lm_head.bias": [V]}


def word_shapes(cfg: Config) -> dict[str, list[int]]:
    """The state_dict shapes of a model of WORD_MODELS."""
    return {"transformer": transformer_shapes, "bigram": bigram_shapes, "bow": bow_shapes, "rnn": rnn_shapes,
            "gru": rnn_shapes}[cfg.model](cfg)


class Bigram(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        n = cfg.vocab_size
        self.logits = torch.nn.Parameter(torch.zeros((n, n)))

    def get_block_size(self):
        return 1  # this model only needs one previous character to predict the next

    def forward(self, idx, targets=None, record=None):
        logits = self.logits[idx]
        if record is not None:
            record["row_logits"] = logits
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


class CausalBoW(torch.nn.Module):
    """Causal bag of words: averages the preceding elements (makemore's code)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.block_size = cfg.block
        self.register_buffer("bias", torch.tril(torch.ones(cfg.block, cfg.block)).view(1, cfg.block, cfg.block))

    def forward(self, x):
        B, T, C = x.size()
        att = torch.zeros((B, T, T), device=x.device, dtype=x.dtype)
        att = att.masked_fill(self.bias[:, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ x
        return y


class BoWBlock(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cbow = CausalBoW(cfg)
        self.mlp = torch.nn.ModuleDict(dict(c_fc=torch.nn.Linear(cfg.embed, cfg.hidden),
                                            c_proj=torch.nn.Linear(cfg.hidden, cfg.embed)))

    def forward(self, x, record=None):
        m, r = self.mlp, {} if record is None else record
        cbow = r["cbow"] = self.cbow(x)
        x = r["mid"] = x + cbow
        fc = r["mlp.fc"] = m.c_fc(x)
        h = r["mlp.tanh"] = torch.tanh(fc)
        out = r["mlp.out"] = m.c_proj(h)
        x = r["out"] = x + out
        return x


class BoW(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.block_size = cfg.block
        self.vocab_size = cfg.vocab_size
        self.wte = torch.nn.Embedding(cfg.vocab_size, cfg.embed)
        self.wpe = torch.nn.Embedding(cfg.block, cfg.embed)
        self.context_block = BoWBlock(cfg)
        self.lm_head = torch.nn.Linear(cfg.embed, cfg.vocab_size)

    def forward(self, idx, targets=None, record=None):
        b, t = idx.size()
        assert t <= self.block_size, f"Cannot forward sequence of length {t}, block size is only {self.block_size}"
        r = {} if record is None else record
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device).unsqueeze(0)
        x = r["emb"] = self.wte(idx) + self.wpe(pos)
        x = self.context_block(x, record)
        logits = r["logits"] = self.lm_head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


# ---------------------------------------------------------------------------------------------
# The RNN and GRU: karpathy/makemore's code (its `RNNCell`, `GRUCell`, `RNN`), with an optional
# `record` dict that keeps `emb` (B, T, n_embd), each step's state `h.{t}` (B, n_embd2) and
# `logits` (B, T, vocab) under the Swift side's names.


def rnn_shapes(cfg: Config) -> dict[str, list[int]]:
    """makemore's RNN state_dict: start, wte, the cell's Linears, lm_head."""
    E, H, V = cfg.embed, cfg.hidden, cfg.vocab_size
    shapes = {"start": [1, H], "wte.weight": [V, E]}
    for name in (("xh_to_h",) if cfg.model == "rnn" else ("xh_to_z", "xh_to_r", "xh_to_hbar")):
        shapes[f"cell.{name}.weight"] = [H, E + H]
        shapes[f"cell.{name}.bias"] = [H]
    shapes["lm_head.weight"] = [V, H]
    shapes["lm_head.bias"] = [V]
    return shapes


class RNNCell(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.xh_to_h = torch.nn.Linear(cfg.embed + cfg.hidden, cfg.hidden)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        ht = F.tanh(self.xh_to_h(xh))
        return ht


class GRUCell(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.xh_to_z = torch.nn.Linear(cfg.embed + cfg.hidden, cfg.hidden)
        self.xh_to_r = torch.nn.Linear(cfg.embed + cfg.hidden, cfg.hidden)
        self.xh_to_hbar = torch.nn.Linear(cfg.embed + cfg.hidden, cfg.hidden)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        r = F.sigmoid(self.xh_to_r(xh))
        hprev_reset = r * hprev
        xhr = torch.cat([xt, hprev_reset], dim=1)
        hbar = F.tanh(self.xh_to_hbar(xhr))
        z = F.sigmoid(self.xh_to_z(xh))
        ht = (1 - z) * hprev + z * hbar
        return ht


class RNN(torch.nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.block_size = cfg.block
        self.vocab_size = cfg.vocab_size
        self.start = torch.nn.Parameter(torch.zeros(1, cfg.hidden))  # the starting hidden state
        self.wte = torch.nn.Embedding(cfg.vocab_size, cfg.embed)  # token embeddings table
        self.cell = RNNCell(cfg) if cfg.model == "rnn" else GRUCell(cfg)
        self.lm_head = torch.nn.Linear(cfg.hidden, self.vocab_size)

    def forward(self, idx, targets=None, record=None):
        r = {} if record is None else record
        b, t = idx.size()
        emb = r["emb"] = self.wte(idx)  # (b, t, n_embd)
        hprev = self.start.expand((b, -1))
        hiddens = []
        for i in range(t):
            xt = emb[:, i, :]  # (b, n_embd)
            ht = r[f"h.{i}"] = self.cell(xt, hprev)  # (b, n_embd2)
            hprev = ht
            hiddens.append(ht)
        hidden = torch.stack(hiddens, 1)  # (b, t, n_embd2)
        logits = r["logits"] = self.lm_head(hidden)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


WORD_MODULES = {"transformer": Transformer, "bigram": Bigram, "bow": BoW, "rnn": RNN, "gru": RNN}


def word_model(cfg: Config, tensors: Tensors, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """makemore's module for `cfg.model` (of WORD_MODELS) holding the file's parameters
    (state_dict names, strict=False: only causal-mask buffers may be missing), in `dtype`."""
    model = WORD_MODULES[cfg.model](cfg)
    missing, unexpected = model.load_state_dict({n: tensors[n] for n in word_shapes(cfg)}, strict=False)
    assert all(n.endswith("bias") and n not in word_shapes(cfg) for n in missing) and not unexpected, (missing, unexpected)
    return model.to(dtype)


def word_tensors(words: list[str], vocab: str, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """makemore's CharDataset for the Transformer: X (n, block) is `0, c1..cn` padded with 0, Y
    (n, block) is `c1..cn, 0` padded with -1, int64. A word of `block` characters or more is an
    InputError (makemore's block is the longest word + 1)."""
    stoi = {ch: i for i, ch in enumerate(vocab)}
    X = torch.zeros(len(words), block, dtype=torch.int64)
    Y = torch.full((len(words), block), -1, dtype=torch.int64)
    for i, w in enumerate(words):
        if len(w) >= block:
            raise InputError(f"the word {w!r} has {len(w)} characters; block {block} fits at most {block - 1}")
        ix = [stoi[ch] for ch in w]
        X[i, 1:1 + len(ix)] = torch.tensor(ix, dtype=torch.int64)
        Y[i, :len(ix)] = torch.tensor(ix, dtype=torch.int64)
        Y[i, len(ix)] = 0
    return X, Y


def word_datasets(words: list[str], vocab: str, block: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """`word_tensors` of each split of `words`: train, val, test."""
    return {name: word_tensors(part, vocab, block) for name, part in split(words).items()}


@torch.no_grad()
def transformer_split_loss(model: Transformer, X: torch.Tensor, Y: torch.Tensor, chunk: int = 4096) -> float:
    """Mean F.cross_entropy per predicted position (padding ignored) over a whole split, summed in
    float64, as the Swift side's `loss(on:)` counts it (per character, terminators included)."""
    if X.shape[0] == 0:
        return math.nan
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, X.shape[0], chunk):
        x, y = X[start:start + chunk], Y[start:start + chunk]
        logits, _ = model(x)
        total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-1,
                                       reduction="sum").double())
        count += int((y != -1).sum())
    model.train(was_training)
    return total / count


def word_mask(Y: torch.Tensor) -> torch.Tensor:
    """(B, block) bools: the positions each word predicts (targets not -1), which the Swift side
    packs as rows in this (row-major) order."""
    return Y != -1
