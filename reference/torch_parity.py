"""Check the Swift hand-written backward pass against PyTorch autograd.

`makemore gradcheck --export FILE` writes one training step of a model to a safetensors file:
the parameters and running statistics, the batch `Xb`/`Yb`, the loss, and the hand-written
gradient of every intermediate and parameter (`grad.<name>`). This script rebuilds the forward
in PyTorch (float32) from those parameters, runs `loss.backward()` with `retain_grad()` on
every intermediate, and prints a table like the lecture's `cmp`:

    name | exact (torch.all(a == b)) | approx (torch.allclose, default tolerances) | maxdiff | shape

The metadata key `model` says which model (`mlp` when absent):

  mlp      the lecture's step-by-step forward (makemore part 4); rows for every intermediate
           from logprobs back to C, plus the fused forms `grad_fused.logits` and
           `grad_fused.hprebn{i}`.
  wavenet  makemore part 5's hierarchical model, loss F.cross_entropy; rows logits, W{L+1},
           b{L+1}, then for each level h{i}, hpreact{i}, bngain{i}, bnbias{i}, hprebn{i}, W{i};
           then emb and C.
  transformer  makemore's Transformer (makemore_reference.Transformer), loss F.cross_entropy
           with ignore_index=-1 over the padded (B, block) words; rows logits, lm_head.weight,
           ln_f and its parameters, then for each block (last first) its output, the MLP half
           and the attention half (each layer's output, then its parameters); then emb, wpe,
           wte. Layer outputs are compared at the positions the Swift side computes (each
           word's, gathered from the padded tensors in row-major order).
  bigram   makemore's Bigram (makemore_reference.Bigram), read as the transformer: rows
           row_logits (the batch's lookups) and logits (the table).
  bow      makemore's BoW (makemore_reference.BoW), read as the transformer: rows logits,
           lm_head, out, mlp.out, c_proj, mlp.tanh, mlp.fc, c_fc, mid, cbow, emb, wpe, wte.
  rnn, gru makemore's RNN with its RNNCell or GRUCell (makemore_reference.RNN), read as the
           transformer; rows logits, lm_head, the state of every step `h.{t}` (B, hidden; last
           step first; zero gradient past a word's end on both sides), the cell's Linears,
           start, emb, wte.

The run fails (exit status 1) if any row is not approx, if a tensor the file should hold is
missing, if a shape differs, if the metadata disagrees with the tensors, or if its `model` is
not one this script knows. The forward, the names and the shapes are those of
reference/makemore_reference.py.

Float32 rounding: the file also holds the same step computed by the Swift model in Double from
the same parameters (`grad64.<name>`, for the mlp `grad64_fused.<name>`, and `loss64`). If a
row misses allclose in float32, the whole step is rerun in PyTorch float64 from the same
parameters (cast up) and the Swift Double gradients are compared with float64 autograd at
rtol=0, atol=1e-10. A failing float32 row is accepted as "float32 rounding" only if its float64
row passes AND the file's float32 value is no further from the float64 autograd value than
float32 rounding explains: it passes allclose against the float64 value, or its distance is at
most 10x the largest distance of PyTorch's own float32 computations of the row (autograd and a
hand-written backward run in float32: the lecture's, step by step and fused, for the mlp; the
module's fused one for the wavenet; on the file's parameters and on 4 copies perturbed by about
one float32 rounding). The numbers are printed for every such row; the float32 tolerance itself
is never changed.
`--float64` prints the float64 table even when every float32 row passes.

Run:
    $(scripts/reference-env) reference/torch_parity.py FILE [--float64]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import makemore_reference as mm
from makemore_reference import Config, InputError

F64_ATOL = 1e-10
ROUNDING_FACTOR = 10.0  # see judge_rounding
PERTURBED_COPIES = 4  # see float32_estimates


# ---------------------------------------------------------------------------------------------
# Rows of the table


def gradient_rows(cfg: Config) -> list[str]:
    """The rows of the cmp table, in the lecture's (backward) order."""
    L = cfg.layers
    if cfg.model == "transformer":
        rows = ["logits", "lm_head.weight", "ln_f", "transformer.ln_f.weight", "transformer.ln_f.bias"]
        for i in range(L - 1, -1, -1):
            h, k = f"transformer.h.{i}", f"h.{i}"
            rows += [f"{k}.out", f"{k}.mlp.out", f"{h}.mlp.c_proj.weight", f"{h}.mlp.c_proj.bias", f"{k}.mlp.gelu",
                     f"{k}.mlp.fc", f"{h}.mlp.c_fc.weight", f"{h}.mlp.c_fc.bias", f"{k}.ln_2", f"{h}.ln_2.weight",
                     f"{h}.ln_2.bias", f"{k}.mid", f"{k}.attn.out", f"{h}.attn.c_proj.weight", f"{h}.attn.c_proj.bias",
                     f"{k}.attn.y", f"{k}.attn.qkv", f"{h}.attn.c_attn.weight", f"{h}.attn.c_attn.bias", f"{k}.ln_1",
                     f"{h}.ln_1.weight", f"{h}.ln_1.bias"]
        return rows + ["emb", "transformer.wpe.weight", "transformer.wte.weight"]
    if cfg.model == "bigram":
        return ["row_logits", "logits"]
    if cfg.model in mm.RNNS:
        cell = ["xh_to_h"] if cfg.model == "rnn" else ["xh_to_z", "xh_to_r", "xh_to_hbar"]
        return (["logits", "lm_head.weight", "lm_head.bias"] + [f"h.{t}" for t in range(cfg.block - 1, -1, -1)]
                + [f"cell.{n}.{p}" for n in cell for p in ("weight", "bias")] + ["start", "emb", "wte.weight"])
    if cfg.model == "bow":
        return ["logits", "lm_head.weight", "lm_head.bias", "out", "mlp.out", "context_block.mlp.c_proj.weight",
                "context_block.mlp.c_proj.bias", "mlp.tanh", "mlp.fc", "context_block.mlp.c_fc.weight",
                "context_block.mlp.c_fc.bias", "mid", "cbow", "emb", "wpe.weight", "wte.weight"]
    if cfg.model == "wavenet":
        rows = ["logits", f"W{L + 1}", f"b{L + 1}"]
        for i in range(L, 0, -1):
            rows += [f"h{i}", f"hpreact{i}", f"bngain{i}", f"bnbias{i}", f"hprebn{i}", f"W{i}"]
        return rows + ["emb", "C"]
    rows = ["logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits",
            "logit_maxes", "logits", f"h{L}", f"W{L + 1}", f"b{L + 1}"]
    for i in range(L, 0, -1):
        rows += [f"hpreact{i}", f"bngain{i}", f"bnbias{i}", f"bnraw{i}", f"bnvar_inv{i}",
                 f"bnvar{i}", f"bndiff2{i}", f"bndiff{i}", f"bnmeani{i}", f"hprebn{i}",
                 f"W{i}", f"b{i}"]
        if i > 1:
            rows.append(f"h{i - 1}")
    rows += ["embcat", "emb", "C"]
    return rows


def fused_rows(cfg: Config) -> list[str]:
    """Rows of the fused backward forms (the mlp's only)."""
    if cfg.model == "wavenet" or cfg.model in mm.WORD_MODELS:
        return []
    return ["logits"] + [f"hprebn{i}" for i in range(cfg.layers, 0, -1)]


# ---------------------------------------------------------------------------------------------
# Reading and checking the file


def load(path: str) -> tuple[Config, dict[str, torch.Tensor]]:
    meta, tensors = mm.load_safetensors(path)
    momentum = () if mm.model_name(meta) in mm.WORD_MODELS else ("momentum",)  # no batch norm
    return mm.read_config(meta, require=momentum + ("batch", "seed")), tensors


def check_inputs(cfg: Config, tensors: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Returns (errors, missing gradient names). Raises InputError if the step cannot be rebuilt."""
    expected = {name: (shape, torch.float32) for name, shape in mm.parameter_shapes(cfg).items()}
    expected["Xb"] = ([cfg.batch, cfg.block], torch.int64)
    expected["Yb"] = ([cfg.batch], torch.int64)
    if cfg.model in mm.WORD_MODELS:
        expected["Yb"] = ([cfg.batch, cfg.block], torch.int64)
    expected["loss"] = ([1], torch.float32)
    required = list(expected)
    grads = [f"grad.{n}" for n in gradient_rows(cfg)] + [f"grad_fused.{n}" for n in fused_rows(cfg)]
    grads64 = [f"grad64.{n}" for n in gradient_rows(cfg)] + [f"grad64_fused.{n}" for n in fused_rows(cfg)] + ["loss64"]

    missing_inputs = [n for n in required if n not in tensors]
    missing_grads = [n for n in grads if n not in tensors]
    if missing_inputs:
        raise InputError("missing from the file: " + ", ".join(missing_inputs + missing_grads))

    errors = []
    table = {"transformer": "transformer.wte.weight", "bigram": "logits", "bow": "wte.weight", "rnn": "wte.weight",
             "gru": "wte.weight"}.get(cfg.model, "C")
    if cfg.vocab_size != tensors[table].shape[0]:
        errors.append(f"metadata vocab has {cfg.vocab_size} characters but {table} has {tensors[table].shape[0]} rows")
    errors += mm.shape_problems(tensors, expected)
    for name in grads:
        if name in tensors and tensors[name].dtype != torch.float32:
            errors.append(f"{name} is {tensors[name].dtype}, expected torch.float32")
    for name in grads64:
        if name not in tensors:
            missing_grads.append(name)
        elif tensors[name].dtype != torch.float64:
            errors.append(f"{name} is {tensors[name].dtype}, expected torch.float64")
    for name in ("Xb", "Yb"):
        t = tensors[name]
        lowest = -1 if name == "Yb" and cfg.model in mm.WORD_MODELS else 0  # -1: past a word's end
        if t.numel() and (t.min() < lowest or t.max() >= cfg.vocab_size):
            errors.append(f"{name} holds indices outside 0..<{cfg.vocab_size}")
    known = set(required) | set(grads) | set(grads64)
    extra = sorted(n for n in tensors if n not in known)
    if extra:
        print(f"note: ignoring {len(extra)} tensor(s) not in the format: {', '.join(extra)}")
    return errors, missing_grads


# ---------------------------------------------------------------------------------------------
# The step in PyTorch


@dataclass
class Step:
    params: dict[str, torch.Tensor]  # leaves (requires_grad)
    inter: dict[str, torch.Tensor]   # intermediates (retain_grad); note inter["bnvar{i}"] is the batch variance
    loss: torch.Tensor
    mask: torch.Tensor | None = None  # the transformer's: intermediates' gradients at these positions

    def grad(self, name: str) -> torch.Tensor:
        t = self.inter[name] if name in self.inter else self.params[name]
        assert t.grad is not None, name
        positions = self.mask is not None and name in self.inter and t.grad.dim() == 3  # not the rnn's h.{t}
        return t.grad[self.mask] if positions else t.grad


def stepwise_cross_entropy(logits: torch.Tensor, Yb: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """The lecture's cross-entropy written out step by step; records its intermediates in `t`."""
    n = logits.shape[0]
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    t.update({"logit_maxes": logit_maxes, "norm_logits": norm_logits, "counts": counts,
              "counts_sum": counts_sum, "counts_sum_inv": counts_sum_inv, "probs": probs, "logprobs": logprobs})
    return -logprobs[range(n), Yb].mean()


def forward_backward(cfg: Config, tensors: dict[str, torch.Tensor], dtype: torch.dtype) -> Step:
    """The shared training-mode forward, then the loss (the mlp's cross-entropy step by step as
    in the lecture, the wavenet's F.cross_entropy), then autograd."""
    Xb, Yb = tensors["Xb"], tensors["Yb"]
    if cfg.model in mm.WORD_MODELS:
        model = mm.word_model(cfg, tensors, dtype)
        t: dict[str, torch.Tensor] = {}
        _, loss = model(Xb, Yb, record=t)
        for v in t.values():
            v.retain_grad()
        loss.backward()
        return Step(dict(model.named_parameters()), t, loss, mask=mm.word_mask(Yb))
    p = {name: tensors[name].to(dtype).clone().requires_grad_(True) for name in mm.trainable_names(cfg)}
    t: dict[str, torch.Tensor] = {}
    logits = mm.forward(cfg, p, Xb, training=True, record=t)
    loss = F.cross_entropy(logits, Yb) if cfg.model == "wavenet" else stepwise_cross_entropy(logits, Yb, t)

    assert not set(t) & set(p)
    for v in t.values():
        v.retain_grad()
    loss.backward()
    return Step(p, t, loss)


def manual_backward(cfg: Config, step: Step, Xb: torch.Tensor, Yb: torch.Tensor) -> tuple[dict, dict]:
    """A hand-written backward in torch ops: for the mlp the lecture's (step by step, and the
    fused forms), for the wavenet the module's fused one (no fused rows)."""
    L, eps = cfg.layers, cfg.eps
    p = {k: v.detach() for k, v in step.params.items()}
    t = {k: v.detach() for k, v in step.inter.items()}
    if cfg.model in mm.WORD_MODELS:  # no hand-written backward in PyTorch: autograd twice
        return {name: step.grad(name) for name in gradient_rows(cfg)}, {}
    if cfg.model == "wavenet":
        return mm.backward(cfg, p, t, Xb, Yb), {}
    n = Xb.shape[0]
    d: dict[str, torch.Tensor] = {}
    fused: dict[str, torch.Tensor] = {}

    dlogprobs = torch.zeros_like(t["logprobs"])
    dlogprobs[range(n), Yb] = -1.0 / n
    d["logprobs"] = dlogprobs
    d["probs"] = (1.0 / t["probs"]) * dlogprobs
    d["counts_sum_inv"] = (t["counts"] * d["probs"]).sum(1, keepdim=True)
    dcounts = t["counts_sum_inv"] * d["probs"]
    d["counts_sum"] = -t["counts_sum"] ** -2 * d["counts_sum_inv"]
    d["counts"] = dcounts + torch.ones_like(t["counts"]) * d["counts_sum"]
    d["norm_logits"] = t["counts"] * d["counts"]
    d["logit_maxes"] = (-d["norm_logits"]).sum(1, keepdim=True)
    onehot_max = F.one_hot(t["logits"].max(1).indices, num_classes=t["logits"].shape[1])
    d["logits"] = d["norm_logits"] + onehot_max * d["logit_maxes"]

    fused["logits"] = mm.cross_entropy_backward(t["logits"], Yb)

    x_out = t[f"h{L}"]
    d[f"W{L + 1}"] = x_out.T @ d["logits"]
    d[f"b{L + 1}"] = d["logits"].sum(0)
    dh = d["logits"] @ p[f"W{L + 1}"].T
    for i in range(L, 0, -1):
        d[f"h{i}"] = dh
        bnraw, bndiff, bnvar = t[f"bnraw{i}"], t[f"bndiff{i}"], t[f"bnvar{i}"]
        bnvar_inv, bngain = t[f"bnvar_inv{i}"], p[f"bngain{i}"]
        dhpreact = (1.0 - t[f"h{i}"] ** 2) * dh
        d[f"hpreact{i}"] = dhpreact
        d[f"bngain{i}"] = (bnraw * dhpreact).sum(0, keepdim=True)
        d[f"bnbias{i}"] = dhpreact.sum(0, keepdim=True)
        dbnraw = bngain * dhpreact
        d[f"bnraw{i}"] = dbnraw
        d[f"bnvar_inv{i}"] = (bndiff * dbnraw).sum(0, keepdim=True)
        d[f"bnvar{i}"] = (-0.5 * (bnvar + eps) ** -1.5) * d[f"bnvar_inv{i}"]
        d[f"bndiff2{i}"] = 1.0 / (n - 1) * torch.ones_like(t[f"bndiff2{i}"]) * d[f"bnvar{i}"]
        d[f"bndiff{i}"] = bnvar_inv * dbnraw + 2 * bndiff * d[f"bndiff2{i}"]
        d[f"bnmeani{i}"] = (-d[f"bndiff{i}"]).sum(0, keepdim=True)
        d[f"hprebn{i}"] = d[f"bndiff{i}"] + 1.0 / n * torch.ones_like(t[f"hprebn{i}"]) * d[f"bnmeani{i}"]
        fused[f"hprebn{i}"] = mm.batch_norm_backward(dhpreact, bnraw, bngain, bnvar_inv)
        x_in = t[f"h{i - 1}"] if i > 1 else t["embcat"]
        d[f"W{i}"] = x_in.T @ d[f"hprebn{i}"]
        d[f"b{i}"] = d[f"hprebn{i}"].sum(0)
        dh = d[f"hprebn{i}"] @ p[f"W{i}"].T
    d["embcat"] = dh
    d["emb"] = dh.view(t["emb"].shape)
    dC = torch.zeros_like(p["C"])
    dC.index_add_(0, Xb.view(-1), d["emb"].view(-1, cfg.embed))
    d["C"] = dC
    return d, fused


# ---------------------------------------------------------------------------------------------
# Comparing


@dataclass
class Row:
    name: str
    ours: torch.Tensor | None
    ref: torch.Tensor
    rtol: float = 1e-5
    atol: float = 1e-8
    exact: bool = False
    approx: bool = False
    maxdiff: float = math.nan
    shape_ok: bool = False
    note: str = ""
    accepted: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.ours is None:
            self.note = "MISSING from file"
            return
        self.shape_ok = list(self.ours.shape) == list(self.ref.shape)
        if not self.shape_ok:
            self.note = f"SHAPE file {list(self.ours.shape)} vs torch {list(self.ref.shape)}"
            return
        a, b = self.ours.to(self.ref.dtype), self.ref
        self.exact = bool(torch.all(a == b))
        self.approx = bool(torch.allclose(a, b, rtol=self.rtol, atol=self.atol))
        self.maxdiff = float((a - b).abs().max()) if a.numel() else 0.0
        self.accepted = self.approx

    @property
    def shape(self) -> str:
        return "[" + ", ".join(map(str, self.ref.shape)) + "]"


def print_table(title: str, rows: list[Row], with_exact: bool = True) -> None:
    print(title)
    width = max(len(r.name) for r in rows)
    for r in rows:
        maxdiff = "-" if r.ours is None or not r.shape_ok else f"{r.maxdiff:.3e}"
        cells = [f"{r.name:<{width}}"]
        if with_exact:
            cells.append(f"exact: {str(r.exact):<5}")
        cells += [f"approx: {str(r.approx):<5}", f"maxdiff: {maxdiff:<9}",
                  f"shape: {'-' if r.ours is None else 'ok' if r.shape_ok else 'MISMATCH':<8} {r.shape}"]
        line = " | ".join(cells)
        if r.note:
            line += f" | {r.note}"
        print(line)
    print()


def compare_step(cfg: Config, tensors: dict[str, torch.Tensor], step: Step) -> list[Row]:
    """Rows comparing the file's gradients (and loss) with autograd."""
    rows = [Row(name, tensors.get(f"grad.{name}"), step.grad(name)) for name in gradient_rows(cfg)]
    rows.append(Row("loss", tensors["loss"], step.loss.detach().reshape(1)))
    rows += [Row(f"fused.{name}", tensors.get(f"grad_fused.{name}"), step.grad(name))
             for name in fused_rows(cfg)]
    return rows


def compare_float64(cfg: Config, tensors: dict[str, torch.Tensor]) -> tuple[Step, dict[str, Row]]:
    """The Swift model run in Double (the file's grad64.* and loss64) vs PyTorch float64 autograd,
    at rtol=0, atol=1e-10."""
    step = forward_backward(cfg, tensors, torch.float64)
    rows = {name: Row(name, tensors.get(f"grad64.{name}"), step.grad(name), rtol=0, atol=F64_ATOL)
            for name in gradient_rows(cfg)}
    rows["loss"] = Row("loss", tensors.get("loss64"), step.loss.detach().reshape(1), rtol=0, atol=F64_ATOL)
    for name in fused_rows(cfg):
        rows[f"fused.{name}"] = Row(f"fused.{name}", tensors.get(f"grad64_fused.{name}"), step.grad(name),
                                    rtol=0, atol=F64_ATOL)
    return step, rows


def float32_estimates(cfg: Config, tensors: dict[str, torch.Tensor]) -> dict[str, list[torch.Tensor]]:
    """PyTorch's own float32 computations of every row, to measure how far float32 rounding alone
    moves it: autograd and this script's hand-written backward (step by step, fused), each on the
    file's parameters and on PERTURBED_COPIES copies with every parameter perturbed by about one
    float32 rounding (relative 2**-24 * randn, fixed seed)."""
    generator = torch.Generator().manual_seed(0)
    out: dict[str, list[torch.Tensor]] = {}
    for copy in range(PERTURBED_COPIES + 1):
        t = dict(tensors)
        if copy:
            for name in mm.trainable_names(cfg):
                x = tensors[name]
                t[name] = x * (1 + 2.0**-24 * torch.randn(x.shape, generator=generator))
        step = forward_backward(cfg, t, torch.float32)
        d, fused = manual_backward(cfg, step, t["Xb"], t["Yb"])
        for name in gradient_rows(cfg):
            out.setdefault(name, []).extend([step.grad(name), d[name]])
        logits = step.inter["row_logits" if cfg.model == "bigram" else "logits"].detach()
        Yb = t["Yb"]  # the loss by the other formula
        if cfg.model in mm.WORD_MODELS:
            logits, Yb = logits[step.mask], Yb[step.mask]
        ce = stepwise_cross_entropy(logits, Yb, {}) if cfg.model != "mlp" else F.cross_entropy(logits, Yb)
        ce = ce.reshape(1)
        out.setdefault("loss", []).extend([step.loss.detach().reshape(1), ce])
        for name in fused_rows(cfg):
            out.setdefault(f"fused.{name}", []).extend([step.grad(name), fused[name]])
    return out


def reference64(step64: Step, row_name: str) -> torch.Tensor:
    if row_name == "loss":
        return step64.loss.detach().reshape(1)
    return step64.grad(row_name.removeprefix("fused."))


def judge_rounding(cfg: Config, tensors: dict[str, torch.Tensor], rows32: list[Row], step64: Step,
                   rows64: dict[str, Row]) -> list[str]:
    """Decide, for each float32 row that missed allclose, whether float32 rounding explains it.
    Sets the row's `accepted` and `note`; returns the lines explaining the decisions."""
    failing = [r for r in rows32 if r.ours is not None and r.shape_ok and not r.approx]
    if not failing:
        return []
    estimates = float32_estimates(cfg, tensors)
    lines = [
        "float32 rows that missed allclose. Each is accepted as float32 rounding only if its float64 row",
        "passes AND the file value is close to the float64 autograd value: torch.allclose with default",
        f"tolerances, or a distance at most {ROUNDING_FACTOR:g}x the largest distance of PyTorch's own float32",
        "computations of that row (autograd and this script's hand-written backward, on the file's",
        f"parameters and on {PERTURBED_COPIES} copies perturbed by about one float32 rounding).",
    ]
    width = max(len(r.name) for r in failing)
    for r in failing:
        assert r.ours is not None
        ref = reference64(step64, r.name)
        ours = r.ours.to(torch.float64)
        file_err = float((ours - ref).abs().max())
        f32_err = max(float((e.to(torch.float64) - ref).abs().max()) for e in estimates[r.name])
        close = bool(torch.allclose(ours, ref))
        if not rows64[r.name].approx:
            verdict = "FAIL: the float64 row does not pass either"
        elif close or file_err <= ROUNDING_FACTOR * f32_err:
            verdict = f"float32 rounding (passes in float64 at {F64_ATOL:g})"
            r.accepted = True
        else:
            verdict = "FAIL: further from the float64 value than float32 rounding explains"
        r.note = verdict
        lines.append(f"  {r.name:<{width}} | file vs f64: {file_err:.3e} | PyTorch f32 vs f64: {f32_err:.3e} "
                     f"| file allclose f64: {str(close):<5} | {verdict}")
    return lines


def run(path: str, force_float64: bool) -> int:
    cfg, tensors = load(path)
    shape = f"layers {cfg.layers}" if cfg.model == "mlp" else f"levels {cfg.layers}"
    if cfg.model == "transformer":
        shape = f"layers {cfg.layers}, heads {cfg.heads}"
    if cfg.model in ("bigram", "bow"):
        shape = "one block"
    if cfg.model in mm.RNNS:
        shape = "one cell"
    model = "" if cfg.model == "mlp" else f"model {cfg.model}, "
    print(f"{path}: {model}embed {cfg.embed}, hidden {cfg.hidden}, block {cfg.block}, {shape}, "
          f"batch {cfg.batch}, vocab {len(cfg.vocab)}, eps {cfg.eps:g}, seed {cfg.seed}")
    errors, missing = check_inputs(cfg, tensors)
    if errors:
        for e in errors:
            print(f"error: {e}")
        print(f"parity FAIL: {len(errors)} metadata/shape error(s) in {path}")
        return 1
    print()

    step32 = forward_backward(cfg, tensors, torch.float32)
    rows = compare_step(cfg, tensors, step32)
    need64 = force_float64 or any(r.ours is not None and r.shape_ok and not r.approx for r in rows)

    rows64: dict[str, Row] = {}
    rounding_lines: list[str] = []
    if need64:
        step64, rows64 = compare_float64(cfg, tensors)
        rounding_lines = judge_rounding(cfg, tensors, rows, step64, rows64)

    print_table("float32: file vs PyTorch autograd (torch.allclose default rtol=1e-5, atol=1e-8)", rows)
    if rounding_lines:
        print("\n".join(rounding_lines) + "\n")
    if need64:
        print_table(f"float64: the Swift model run in Double vs PyTorch float64 autograd "
                    f"(rtol=0, atol={F64_ATOL:g})", list(rows64.values()), with_exact=False)

    failed = [r for r in rows if not r.accepted]
    failed64 = [r for r in rows64.values() if not r.approx]
    finite = [r for r in rows if not math.isnan(r.maxdiff)]
    largest = max(finite, key=lambda r: r.maxdiff, default=None)
    largest_text = f"largest maxdiff {largest.maxdiff:.2g} ({largest.name})" if largest else ""
    if missing:
        print(f"missing from the file: {', '.join(missing)}")
    if failed or failed64:
        names = [f"{r.name} ({r.note or 'not approx, maxdiff %.2g' % r.maxdiff})" for r in failed]
        names += [f"float64 {r.name} (maxdiff {r.maxdiff:.2g})" for r in failed64]
        print(f"parity FAIL: {len(failed) + len(failed64)} of {len(rows)} rows: {'; '.join(names)}")
        return 1
    rounding = [r.name for r in rows if not r.approx]
    extra = f" ({len(rounding)} by float32 rounding: {', '.join(rounding)})" if rounding else ""
    f64 = f"; float64 check: {len(rows64)} rows pass at {F64_ATOL:g}" if rows64 else ""
    print(f"parity: {len(rows)} rows, all approx{extra}; {largest_text}{f64}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="safetensors file from `makemore gradcheck --export FILE`")
    parser.add_argument("--float64", action="store_true",
                        help="also print the float64 check (the Swift model in Double vs float64 autograd)")
    args = parser.parse_args()
    try:
        return run(args.file, args.float64)
    except InputError as error:
        print(f"error: {error}")
        print(f"parity FAIL: {args.file} cannot be checked")
        return 1


if __name__ == "__main__":
    sys.exit(main())
