"""Check the Swift optimizer (AdamW, or SGD) against torch.optim, step by step.

`makemore gradcheck --export-steps FILE --optimizer adamw [--lr LR --steps N ...]` runs N
training steps of a model from its initial values on N batches of the training split and writes
them to a safetensors file (see Sources/Makemore/Check/TrainingStepsExport.swift): the initial
tensors by name, the batches `Xb` (N, batch, block) and `Yb` (N, batch), the loss of every step
`losses`, the gradient of every trainable tensor at every step `grad.<k>.<name>`, the tensors
after the last step `final.<name>` and AdamW's moments then `final.optimizer.exp_avg.<name>` /
`final.optimizer.exp_avg_sq.<name>`; the metadata names the model, its configuration, the
optimizer and its hyper-parameters (`adamw_beta1`, `adamw_beta2`, `adamw_eps`, `weight_decay`)
and `lr`. This script replays the steps in PyTorch (float32) twice:

  1. the optimizer alone: torch.optim.AdamW(lr, betas, eps, weight_decay) (torch.optim.SGD(lr)
     for sgd) on the Swift side's own gradients, step by step; the final tensors and moments must
     equal the file's to OPTIMIZER_RTOL. The same arithmetic in the same order: the moments come
     out exact; a parameter may differ by an ulp where PyTorch's vectorised sqrt is not correctly
     rounded (its AVX-512 kernel is not; Swift's squareRoot is);
  2. end to end: the model's forward in PyTorch (reference/makemore_reference.py, by the
     metadata's `model`, so any model it knows plugs in; for the transformer makemore's own
     `Transformer` module on the padded batches, `Xb`/`Yb` (N, batch, block)) in training mode, the running statistics
     updated, F.cross_entropy, autograd, and the same torch.optim step: the loss of every step
     must equal the file's to 1e-5 relative, every final tensor to 1e-5 (max|diff| <= 1e-5 *
     max(1, max|value|)).

One exception in (2), printed as such: a bias right before a batch norm (the mlp's b{i}), or the
key's third of the transformer's `attn.c_attn.bias` (softmax ignores `q·b_k`, the same for every
key of a row), has a gradient that is zero but for rounding (the batch norm subtracts the batch
mean), and AdamW
divides that rounding by its own size, so such a tensor moves by up to lr a step in a direction
that rounding chooses, on either side. Its rows are shown, checked against 2·N·lr, and left out
of the verdict: it does not change the loss (the loss rows check that), and (1) checks its update
from the same gradients. The running mean after it (bnmean{i}) follows it, by at most
momentum·lr·N·(N+1) more than the tolerance.

Exit status 1 on any failed row, a missing tensor or a model this script does not know.

Run:
    $(scripts/reference-env) reference/adamw_parity.py FILE
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F

import makemore_reference as mm
from makemore_reference import InputError

LOSS_RTOL = 1e-5
WEIGHT_TOL = 1e-5
OPTIMIZER_RTOL = 1e-6


def optimizer_for(meta: dict[str, str], tensors: list[torch.Tensor]) -> torch.optim.Optimizer:
    """torch.optim's optimizer of the file's metadata over `tensors`."""
    lr = float(meta["lr"])
    name = meta.get("optimizer", "sgd")
    if name == "sgd":
        return torch.optim.SGD(tensors, lr=lr)
    if name == "adamw":
        betas = (float(meta["adamw_beta1"]), float(meta["adamw_beta2"]))
        return torch.optim.AdamW(tensors, lr=lr, betas=betas, eps=float(meta["adamw_eps"]),
                                 weight_decay=float(meta["weight_decay"]), foreach=False)
    raise InputError(f"metadata optimizer={name!r} is neither sgd nor adamw")


def difference(ours: torch.Tensor, theirs: torch.Tensor) -> tuple[float, float]:
    """(max|ours - theirs|, max(1, max|theirs|))."""
    diff = (ours.double() - theirs.double()).abs().max().item() if ours.numel() else 0.0
    scale = max(1.0, theirs.double().abs().max().item() if theirs.numel() else 0.0)
    return diff, scale


def zero_gradient_biases(cfg: mm.Config) -> set[str]:
    """Biases that a batch norm follows: their true gradient is zero."""
    return {f"b{i}" for i in range(1, cfg.layers + 1)} if cfg.model == "mlp" else set()


def running_means_after(biases: set[str]) -> set[str]:
    """The running means of the batch norms after `biases` (b{i} -> bnmean{i})."""
    return {f"bnmean{name[1:]}" for name in biases}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="written by makemore gradcheck --export-steps")
    args = parser.parse_args()
    try:
        meta, tensors = mm.load_safetensors(args.file)
        transformer = mm.model_name(meta) in mm.WORD_MODELS  # makemore's modules on whole words
        cfg = mm.read_config(meta, require=("batch",) if transformer else ("momentum", "batch"))  # no batch norm
        shapes = mm.parameter_shapes(cfg)
        steps = int(meta["steps"])
        needed = (list(shapes) + ["Xb", "Yb", "losses"] + [f"final.{n}" for n in shapes]
                  + [f"grad.{k}.{n}" for k in range(1, steps + 1) for n in mm.trainable_names(cfg)])
        absent = [name for name in needed if name not in tensors]
        if absent:
            raise InputError(f"tensors missing: {', '.join(absent[:8])}{' ...' if len(absent) > 8 else ''}")
    except (InputError, KeyError, ValueError) as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 1
    trainable = mm.trainable_names(cfg)
    is_adamw = meta.get("optimizer") == "adamw"
    print(f"model {cfg.model}: embed {cfg.embed}, hidden {cfg.hidden}, block {cfg.block}, layers {cfg.layers}; "
          f"{steps} steps of {meta.get('optimizer')} at lr {meta['lr']}, batch {cfg.batch}")
    failures: list[str] = []

    # 1. torch.optim on the Swift gradients.
    p1 = {name: tensors[name].clone() for name in trainable}
    opt = optimizer_for(meta, list(p1.values()))
    for k in range(1, steps + 1):
        for name in trainable:
            p1[name].grad = tensors[f"grad.{k}.{name}"].clone()
        opt.step()
    print(f"\n1. torch.optim on our gradients: tensors after step {steps} (a row passes at maxdiff <= "
          f"{OPTIMIZER_RTOL:g} * max(1, max|value|))")
    width1 = max(28, max(len(f"exp_avg_sq.{n}") for n in trainable))
    print(f"{'tensor':<{width1}} {'exact':<6} {'maxdiff':>9}  result")
    for name in trainable:
        rows = [(name, p1[name], tensors[f"final.{name}"])]
        if is_adamw:
            state = opt.state[p1[name]]
            for key in ("exp_avg", "exp_avg_sq"):
                stored = tensors.get(f"final.optimizer.{key}.{name}")
                if stored is None:
                    failures.append(f"final.optimizer.{key}.{name} missing")
                    continue
                rows.append((f"{key}.{name}", state[key], stored))
        for label, theirs, ours in rows:
            diff, scale = difference(ours, theirs)
            ok = diff <= OPTIMIZER_RTOL * scale
            exact = bool(torch.equal(ours, theirs))
            print(f"{label:<{width1}} {str(exact):<6} {diff:9.2e}  {'ok' if ok else 'FAIL'}")
            if not ok:
                failures.append(f"1. {label}")

    # 2. Autograd and torch.optim from the same initial values on the same batches.
    if transformer:  # makemore's own module, its state_dict loaded from the file
        model = mm.word_model(cfg, tensors)
        p2 = dict(model.named_parameters())
        leaves = [p2[name] for name in trainable]
    else:
        p2 = {name: tensors[name].clone() for name in shapes}
        leaves = [p2[name].requires_grad_() for name in trainable]
    opt = optimizer_for(meta, leaves)
    print(f"\n2. PyTorch autograd and torch.optim: loss of every step (relative {LOSS_RTOL:g})")
    print(f"{'step':>4}  {'ours':>12}  {'torch':>12}  {'rel diff':>9}  result")
    worst_loss = 0.0
    for k in range(steps):
        if transformer:  # padded words, the loss over the positions of Yb that are not -1
            _, loss = model(tensors["Xb"][k], tensors["Yb"][k])
        else:
            record: mm.Tensors = {}
            logits = mm.forward(cfg, p2, tensors["Xb"][k], training=True, record=record)
            mm.update_running(cfg, p2, record, cfg.momentum)
            loss = F.cross_entropy(logits, tensors["Yb"][k])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ours = tensors["losses"][k].item()
        rel = abs(ours - loss.item()) / abs(loss.item())
        worst_loss = max(worst_loss, rel)
        ok = rel <= LOSS_RTOL
        print(f"{k + 1:>4}  {ours:12.8f}  {loss.item():12.8f}  {rel:9.2e}  {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(f"2. loss at step {k + 1}")
    print(f"\n   tensors after step {steps} (a row passes at maxdiff <= {WEIGHT_TOL:g} * max(1, max|value|))")
    width = max(12, max(map(len, shapes)))
    print(f"{'tensor':<{width}} {'maxdiff':>9} {'scale':>9}  result")
    worst_weight = 0.0
    exempt = zero_gradient_biases(cfg)
    following = running_means_after(exempt)
    lr = float(meta["lr"])
    for name in shapes:
        diff, scale = difference(tensors[f"final.{name}"], p2[name].detach())
        if transformer and name.endswith(".attn.c_attn.bias"):
            # The key's third [C, 2C) has a zero gradient (softmax ignores q·b_k, the same for
            # every key of a row): checked as the biases before a batch norm are; q and v as any.
            ours, theirs = tensors[f"final.{name}"], p2[name].detach()
            C = cfg.embed
            key_diff, _ = difference(ours[C:2 * C], theirs[C:2 * C])
            diff, _ = difference(torch.cat([ours[:C], ours[2 * C:]]), torch.cat([theirs[:C], theirs[2 * C:]]))
            ok = diff <= WEIGHT_TOL * scale and key_diff <= steps * lr * 2 + WEIGHT_TOL * scale
            worst_weight = max(worst_weight, diff / scale)
            verdict = (f"q, v ok; key bias (zero gradient) {key_diff:.2e} within 2·N·lr" if ok else
                       f"FAIL (q, v {diff:.2e}; key bias {key_diff:.2e}, limit 2·N·lr)")
            if not ok:
                failures.append(f"2. {name}")
        elif name in exempt:
            ok = diff <= steps * lr * 2 + WEIGHT_TOL * scale
            verdict = "zero gradient: rounding steps it (within 2·N·lr)" if ok else "FAIL (beyond 2·N·lr)"
            if not ok:
                failures.append(f"2. {name}")
        elif name in following:
            ok = diff <= cfg.momentum * lr * steps * (steps + 1) + WEIGHT_TOL * scale
            verdict = f"follows b{name[6:]} (within momentum·lr·N·(N+1))" if ok else "FAIL (beyond momentum·lr·N·(N+1))"
            if not ok:
                failures.append(f"2. {name}")
        else:
            ok = diff <= WEIGHT_TOL * scale
            worst_weight = max(worst_weight, diff / scale)
            verdict = "ok" if ok else "FAIL"
            if not ok:
                failures.append(f"2. {name}")
        print(f"{name:<{width}} {diff:9.2e} {scale:9.2e}  {verdict}")

    print(f"\nlargest loss difference {worst_loss:.2e} (relative, limit {LOSS_RTOL:g}); largest tensor "
          f"difference {worst_weight:.2e} (limit {WEIGHT_TOL:g}; zero-gradient biases and their running means aside)")
    if failures:
        print(f"adamw_parity: FAILED: {', '.join(failures)}")
        return 1
    print("adamw_parity: all rows passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
