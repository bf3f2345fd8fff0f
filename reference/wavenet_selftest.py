"""Self-test of the wavenet in PyTorch before the Swift side writes its files.

Checks, without the Swift binary:

1. the module's wavenet (reference/makemore_reference.py) is makemore part 5's code: the
   lecture's own classes (Embedding, FlattenConsecutive, Linear, BatchNorm1d, Tanh, copied
   below) give the same initial values after torch.manual_seed(42) (76,579 parameters), the same
   logits, gradients and running statistics in training mode, and the same logits in
   evaluation mode;
2. the module's hand-written fused backward matches autograd;
3. `torch_parity.py` accepts an export written by `write_export` (what `makemore gradcheck
   --model wavenet --export F` is to write, its gradients from the hand-written backward in
   float32 and float64), and rejects copies with one gradient perturbed, a gradient missing,
   an unknown model, or a block that is not a power of two;
4. `torch_eval.py --json` on a wavenet checkpoint gives the lecture classes' split losses.

Exit status 0 if every check passes, 1 otherwise.

Run:
    $(scripts/reference-env) reference/wavenet_selftest.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import makemore_reference as mm
from makemore_reference import Config, Tensors

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------
# makemore part 5's classes, as in the lecture


class Linear:
    def __init__(self, fan_in, fan_out, bias=True):
        self.weight = torch.randn((fan_in, fan_out)) / fan_in**0.5
        self.bias = torch.zeros(fan_out) if bias else None

    def __call__(self, x):
        self.out = x @ self.weight
        if self.bias is not None:
            self.out += self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    def __init__(self, dim, eps=1e-5, momentum=0.1):
        self.eps = eps
        self.momentum = momentum
        self.training = True
        self.gamma = torch.ones(dim)
        self.beta = torch.zeros(dim)
        self.running_mean = torch.zeros(dim)
        self.running_var = torch.ones(dim)

    def __call__(self, x):
        if self.training:
            dim = 0 if x.ndim == 2 else (0, 1)
            xmean = x.mean(dim, keepdim=True)
            xvar = x.var(dim, keepdim=True)
        else:
            xmean = self.running_mean
            xvar = self.running_var
        xhat = (x - xmean) / torch.sqrt(xvar + self.eps)
        self.out = self.gamma * xhat + self.beta
        if self.training:
            with torch.no_grad():
                self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Tanh:
    def __call__(self, x):
        self.out = torch.tanh(x)
        return self.out

    def parameters(self):
        return []


class Embedding:
    def __init__(self, num_embeddings, embedding_dim):
        self.weight = torch.randn((num_embeddings, embedding_dim))

    def __call__(self, IX):
        self.out = self.weight[IX]
        return self.out

    def parameters(self):
        return [self.weight]


class FlattenConsecutive:
    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        B, T, C = x.shape
        x = x.view(B, T // self.n, C * self.n)
        if x.shape[1] == 1:
            x = x.squeeze(1)
        self.out = x
        return self.out

    def parameters(self):
        return []


class Sequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        self.out = x
        return self.out

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def lecture_model(cfg: Config) -> Sequential:
    """The lecture's model for `cfg`, initialised as the lecture does (global generator)."""
    layers: list = [Embedding(cfg.vocab_size, cfg.embed)]
    for i in range(1, cfg.layers + 1):
        layers += [FlattenConsecutive(2), Linear(mm.fan_in(cfg, i), cfg.hidden, bias=False),
                   BatchNorm1d(cfg.hidden, cfg.eps, cfg.momentum or 0.1), Tanh()]
    layers.append(Linear(cfg.hidden, cfg.vocab_size))
    with torch.no_grad():
        layers[-1].weight *= 0.1
    return Sequential(layers)


def lecture_tensors(model: Sequential) -> Tensors:
    """The lecture model's tensors under the module's names (its own tensors, whose shapes may
    differ from the module's: gamma (H,) for bngain (1, H); running statistics as (1, H))."""
    layers = model.layers
    t: Tensors = {"C": layers[0].weight}
    linears = [layer for layer in layers if isinstance(layer, Linear)]
    norms = [layer for layer in layers if isinstance(layer, BatchNorm1d)]
    for i, (lin, bn) in enumerate(zip(linears, norms), start=1):
        t[f"W{i}"], t[f"bngain{i}"], t[f"bnbias{i}"] = lin.weight, bn.gamma, bn.beta
        t[f"bnmean{i}"], t[f"bnvar{i}"] = bn.running_mean.view(1, -1), bn.running_var.view(1, -1)
    t[f"W{len(linears)}"], t[f"b{len(linears)}"] = linears[-1].weight, linears[-1].bias
    return t


def load_into_lecture(model: Sequential, p: Tensors) -> None:
    """Sets the lecture model's tensors to the module's values `p`."""
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm1d)]
    model.layers[0].weight = p["C"].clone()
    for i, (lin, bn) in enumerate(zip(linears, norms), start=1):
        lin.weight = p[f"W{i}"].clone()
        bn.gamma, bn.beta = p[f"bngain{i}"].view(-1).clone(), p[f"bnbias{i}"].view(-1).clone()
        bn.running_mean, bn.running_var = p[f"bnmean{i}"].view(-1).clone(), p[f"bnvar{i}"].view(-1).clone()
    L = len(linears)
    linears[-1].weight, linears[-1].bias = p[f"W{L}"].clone(), p[f"b{L}"].clone()


def set_training(model: Sequential, training: bool) -> None:
    for layer in model.layers:
        if isinstance(layer, BatchNorm1d):
            layer.training = training


# ---------------------------------------------------------------------------------------------
# Files


def nontrivial_parameters(cfg: Config, generator: torch.Generator) -> Tensors:
    """Initial values with every tensor away from 0 and 1 (so that no gradient hides behind
    a zero or a one), running statistics included."""
    p = mm.init_parameters(cfg, generator)
    for name in p:
        if name.startswith(("bngain", "bnvar")):
            p[name] = 1 + 0.1 * torch.randn(p[name].shape, generator=generator).abs()
        elif name.startswith(("bnbias", "bnmean", "b")):
            p[name] = 0.1 * torch.randn(p[name].shape, generator=generator)
    return p


def export_rows(cfg: Config) -> list[str]:
    """Names with a grad.<name> in a wavenet export."""
    L = cfg.layers
    rows = ["emb", "logits"] + [f"{n}{i}" for i in range(1, L + 1) for n in ("hprebn", "hpreact", "h")]
    return rows + mm.trainable_names(cfg)


def hand_written_step(cfg: Config, p: Tensors, Xb: torch.Tensor, Yb: torch.Tensor, dtype: torch.dtype):
    """(loss, gradients) of one training-mode step in `dtype` by the module's hand-written backward."""
    q = {name: t.to(dtype) for name, t in p.items()}
    record: Tensors = {}
    with torch.no_grad():
        logits = mm.forward(cfg, q, Xb, training=True, record=record)
        loss = F.cross_entropy(logits, Yb)
    return loss, mm.backward(cfg, q, record, Xb, Yb)


def write_export(path: Path, cfg: Config, p: Tensors, Xb: torch.Tensor, Yb: torch.Tensor) -> None:
    """The file `makemore gradcheck --model wavenet --export` is to write (see torch_parity.py)."""
    tensors = {name: p[name].contiguous() for name in mm.parameter_shapes(cfg)}
    tensors["Xb"], tensors["Yb"] = Xb.contiguous(), Yb.contiguous()
    loss32, d32 = hand_written_step(cfg, p, Xb, Yb, torch.float32)
    loss64, d64 = hand_written_step(cfg, p, Xb, Yb, torch.float64)
    tensors["loss"], tensors["loss64"] = loss32.reshape(1), loss64.reshape(1)
    for name in export_rows(cfg):
        tensors[f"grad.{name}"] = d32[name].contiguous()
        tensors[f"grad64.{name}"] = d64[name].contiguous()
    save_file(tensors, str(path), metadata={**cfg.metadata(), "format": "makemore-gradcheck"})


def damaged_copy(src: Path, dst: Path, change) -> None:
    """Copies a safetensors file, `change(meta, tensors)` applied in place."""
    meta, tensors = mm.load_safetensors(src)
    change(meta, tensors)
    save_file(tensors, str(dst), metadata=meta)


# ---------------------------------------------------------------------------------------------
# Checks


class Checks:
    def __init__(self) -> None:
        self.failures = 0

    def check(self, ok: bool, what: str) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        self.failures += not ok


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def check_lecture(c: Checks, cfg: Config, data: dict) -> None:
    """1 and 2: the module against the lecture's classes, and its backward against autograd."""
    torch.manual_seed(42)
    ours = mm.init_parameters(cfg)
    torch.manual_seed(42)
    lecture = lecture_model(cfg)
    theirs = lecture_tensors(lecture)
    c.check(all(torch.equal(ours[n], theirs[n].view(ours[n].shape)) for n in mm.parameter_shapes(cfg)),
            "initial values after torch.manual_seed(42) equal the lecture's, bit for bit")
    count = sum(t.numel() for t in lecture.parameters())
    c.check(mm.parameter_count(cfg) == count == 76579,
            f"{mm.parameter_count(cfg):,} trainable parameters (lecture {count:,}, 76,579 expected)")

    g = torch.Generator().manual_seed(1)
    p = nontrivial_parameters(cfg, g)
    Xtr, Ytr = data["train"]
    ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
    Xb, Yb = Xtr[ix], Ytr[ix]
    load_into_lecture(lecture, p)
    for t in lecture.parameters():
        t.requires_grad_(True)
    logits_lecture = lecture(Xb)
    F.cross_entropy(logits_lecture, Yb).backward()

    q = {n: t.clone().requires_grad_(n in mm.trainable_names(cfg)) for n, t in p.items()}
    trainable = [q[n] for n in mm.trainable_names(cfg)]
    record: Tensors = {}
    logits = mm.forward(cfg, q, Xb, training=True, record=record)
    c.check(close(logits, logits_lecture), "training-mode logits equal the lecture's")
    mm.update_running(cfg, q, record, cfg.momentum or 0.1)
    after = lecture_tensors(lecture)
    c.check(all(close(q[n], after[n].view(q[n].shape)) for n in mm.running_names(cfg)),
            "running statistics after one step equal the lecture's")
    F.cross_entropy(logits, Yb).backward()
    grads_lecture = lecture_tensors(lecture)
    c.check(all(close(t.grad, grads_lecture[n].grad.view(t.shape)) for n, t in zip(mm.trainable_names(cfg), trainable)),
            "autograd gradients of every parameter equal the lecture model's")

    manual = mm.backward(cfg, {n: t.detach() for n, t in q.items()}, {k: v.detach() for k, v in record.items()}, Xb, Yb)
    c.check(all(close(manual[n], t.grad) for n, t in zip(mm.trainable_names(cfg), trainable)),
            "the module's hand-written backward equals autograd (float32, allclose)")

    set_training(lecture, False)
    Xv = data["val"][0][:500]
    with torch.no_grad():
        c.check(close(mm.forward(cfg, q, Xv, training=False), lecture(Xv)),
                "evaluation-mode logits (running statistics) equal the lecture's")


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True)


def check_parity(c: Checks, cfg: Config, data: dict, work: Path) -> None:
    """3: torch_parity.py accepts a correct export and rejects damaged ones."""
    g = torch.Generator().manual_seed(7)
    p = nontrivial_parameters(cfg, g)
    Xtr, Ytr = data["train"]
    ix = torch.randint(0, Xtr.shape[0], (cfg.batch,), generator=g)
    good = work / "wavenet-export.safetensors"
    write_export(good, cfg, p, Xtr[ix], Ytr[ix])
    result = run_script("torch_parity.py", str(good))
    c.check(result.returncode == 0, f"torch_parity accepts a correct export: {result.stdout.strip().splitlines()[-1]}")

    def perturb(meta, t):
        g = t["grad.W2"] = t["grad.W2"].clone()
        g.view(-1)[g.abs().argmax()] *= 1.001

    def drop(meta, t):
        del t["grad.hpreact1"]

    def unknown(meta, t):
        meta["model"] = "transformer"

    def block6(meta, t):
        meta["block"] = "6"

    for name, change in (("one gradient perturbed by 0.1%", perturb), ("a gradient missing", drop),
                         ("an unknown model", unknown), ("block 6", block6)):
        bad = work / "damaged.safetensors"
        damaged_copy(good, bad, change)
        result = run_script("torch_parity.py", str(bad))
        lines = result.stdout.strip().splitlines() or ["(no output)"]
        why = next((line for line in lines if line.startswith("error:")), lines[-1])
        c.check(result.returncode == 1, f"torch_parity rejects {name}: {why[:150]}")


@torch.no_grad()
def lecture_loss(model: Sequential, X: torch.Tensor, Y: torch.Tensor, chunk: int = 20000) -> float:
    """Mean cross-entropy of the lecture model over X, in chunks."""
    total = sum(float(F.cross_entropy(model(X[i:i + chunk]), Y[i:i + chunk], reduction="sum"))
                for i in range(0, X.shape[0], chunk))
    return total / X.shape[0]


def check_eval(c: Checks, cfg: Config, data: dict, work: Path) -> None:
    """4: torch_eval.py on a wavenet checkpoint gives the lecture model's split losses."""
    torch.manual_seed(3)
    p = mm.init_parameters(cfg)
    names = mm.trainable_names(cfg)
    trainable = [p[n].requires_grad_(True) for n in names]
    Xtr, Ytr = data["train"]
    for _ in range(300):
        ix = torch.randint(0, Xtr.shape[0], (32,))
        mm.autograd_step(cfg, p, trainable, Xtr[ix], Ytr[ix], 0.1, cfg.momentum or 0.1)
    path = work / "wavenet-model.safetensors"
    mm.save_model(path, cfg, p)
    result = run_script("torch_eval.py", str(path), "--json")
    if result.returncode != 0:
        c.check(False, f"torch_eval reads a wavenet checkpoint: {result.stderr.strip()}")
        return
    losses = json.loads(result.stdout)
    lecture = lecture_model(cfg)
    load_into_lecture(lecture, p)
    set_training(lecture, False)
    theirs = {k: lecture_loss(lecture, X, Y) for k, (X, Y) in data.items()}
    worst = max(abs(losses[k] - theirs[k]) for k in theirs)
    c.check(worst < 1e-5, f"torch_eval --json {losses} equals the lecture model's losses "
                          f"(largest difference {worst:.1e})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    torch.set_num_threads(1)
    words = mm.read_words(mm.DEFAULT_DATA)
    vocab = mm.vocabulary(words)
    data = mm.datasets(words, vocab, 8)
    cfg = Config(model="wavenet", vocab=vocab, embed=24, hidden=128, block=8, layers=3, momentum=0.1)
    small = Config(model="wavenet", vocab=vocab, embed=7, hidden=33, block=8, layers=3, momentum=0.1, batch=5, seed=7)
    c = Checks()
    check_lecture(c, cfg, data)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        check_parity(c, dataclasses.replace(cfg, batch=32, seed=42), data, work)
        check_parity(c, small, data, work)
        check_eval(c, cfg, data, work)
    print(f"wavenet self-test: {'all passed' if not c.failures else f'{c.failures} FAILED'}")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
