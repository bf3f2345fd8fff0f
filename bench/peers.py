"""The strongest CPU peers of `makemore bench`: JAX and torch.compile, timed on the same step.

Trains a model of `makemore train` on the lecture's training split with the optimizer
`bench/torch_baseline.py` uses (SGD lr 0.1 for the mlp and wavenet, AdamW lr 5e-4 for the word
models), the same batch and the same initial values (reference/makemore_reference.py's), and
times `--steps` steps after `--warmup` untimed ones. Systems (`--system`):

  jax-jit    the whole training step (gather of the minibatch, forward, backward by jax.grad,
             update) as one jitted function, one step per call (bench/jax_models.py).
  jax-scan   the same step, `--scan` steps per call in one `lax.scan`, the minibatch indices
             drawn with numpy beforehand.
  compile    torch.compile (inductor) of the whole step as one `fullgraph=True` graph:
             `torch.func.grad_and_value` of the model's loss and the in-place update (SGD, or
             AdamW written out), the minibatch gathered inside. makemore_reference.py's model.
  eager      that same step function run without compiling: the reference the CHECKS ranges
             are set from (bench/torch_baseline.py is the PyTorch eager of the table).

Minibatch indices are drawn beforehand with numpy for every system (a (steps, batch) array),
so the timed loop is the step alone. Before timing, with `--check NAME` (a configuration of
bench/compare), the step trains that configuration's number of steps from the initial values
and the mean minibatch loss of the last 200 must fall within 0.1 of PyTorch eager's for the same
initial values and minibatches (CHECKS), else the script exits 1. The compile time is that of
the first call (JAX: lowering and compiling ahead of time; torch.compile: the first call, which
traces, compiles and runs one step).

One thread: JAX with XLA's multi-threaded Eigen off and one intra-op thread, PyTorch with
torch.set_num_threads(1); `bench/compare` also pins every process to one core with taskset.

Prints one JSON object on one line with --json (steps_per_s, gflops as bench/torch_baseline.py
counts them, compile_s, check_loss, peak_rss_mb, version).

Run:
    $(scripts/bench-env) bench/peers.py --system jax-scan --hidden 200 --steps 20000 --check lecture
    $(scripts/bench-env) bench/peers.py --system compile --model gru --steps 500 --check gru
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SYSTEMS = ("jax-jit", "jax-scan", "compile", "eager")
# The training checks, by bench/compare's configuration name: the model and sizes (embed,
# hidden, block, layers, batch) they are for, the steps, and the range of the mean minibatch loss
# over the last 200 of them: 0.1 either side of `--system eager --check NAME` (the same initial
# values and minibatches, PyTorch eager). A step that does not train stays near ln 27 = 3.30.
CHECKS = {
    "seed": ("mlp", (10, 64, 3, 1, 32), 3000, 2.3936),
    "lecture": ("mlp", (10, 200, 3, 1, 32), 3000, 2.3833),
    "deep": ("mlp", (10, 100, 3, 5, 32), 3000, 2.3408),
    "large": ("mlp", (64, 1024, 8, 1, 512), 300, 2.3173),
    "wavenet": ("wavenet", (24, 128, 8, 3, 32), 3000, 2.2288),
    "transformer": ("transformer", (64, 256, 16, 4, 32), 1000, 2.1682),
    "bigram": ("bigram", (27, 27, 16, 1, 32), 3000, 2.6223),
    "bow": ("bow", (64, 64, 16, 1, 32), 2000, 2.2826),
    "rnn": ("rnn", (64, 64, 16, 1, 32), 1000, 2.2559),
    "gru": ("gru", (64, 64, 16, 1, 32), 1000, 2.2382),
}
CHECK_MARGIN = 0.1
CHECK_WINDOW = 200


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--system", choices=SYSTEMS, required=True)
    parser.add_argument("--model", choices=("mlp", "wavenet", "transformer", "bigram", "bow", "rnn", "gru"), default="mlp")
    parser.add_argument("--embed", type=int)
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--block", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=1000, help="timed steps (jax-scan: rounded up to --scan)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed steps before timing")
    parser.add_argument("--scan", type=int, default=100, help="jax-scan: steps per call (default 100)")
    parser.add_argument("--check", choices=tuple(CHECKS),
                        help="first train from the initial values and check the loss (CHECKS: the configuration's "
                             "steps and range; the model and sizes must be the configuration's)")
    parser.add_argument("--seed", type=int, default=2147483647)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for name in ("batch", "threads", "steps", "scan"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


args = parse_args()
if args.system.startswith("jax"):  # before jax is imported
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference"))
import makemore_reference as mm  # noqa: E402
import torch_baseline as tb  # noqa: E402


def setup(args: argparse.Namespace):
    """(cfg, initial values by name (torch), Xtr, Ytr (torch int64), FLOP per step, momentum)."""
    for name, value in tb.DEFAULTS[args.model].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    momentum = tb.DEFAULTS[args.model]["momentum"]
    if args.model in mm.WORD_MODELS:
        cfg, module, X, Y = tb.word_model(args, tb.DEFAULT_DATA)
        params = {k: v.detach().clone() for k, v in module.state_dict().items() if k in mm.word_shapes(cfg)}
        return cfg, params, X, Y, tb.word_model_flops(cfg, args.batch), momentum, module
    X, Y, vocab = tb.training_split(tb.DEFAULT_DATA, args.block)
    layers = args.layers if args.model == "mlp" else mm.wavenet_levels(args.block)
    cfg = mm.Config(model=args.model, vocab=vocab, embed=args.embed, hidden=args.hidden, block=args.block,
                    layers=layers, momentum=momentum)
    params = mm.init_parameters(cfg, torch.Generator().manual_seed(args.seed))
    return cfg, params, X, Y, mm.matmul_flops(cfg, args.batch), momentum, None


# ---------------------------------------------------------------------------------------------
# JAX


def jax_runner(args, cfg, params, X, Y, momentum):
    """(compile seconds, run(ixs) -> losses as numpy, finish() blocking on the state)."""
    import jax
    import jax.numpy as jnp

    import jax_models

    Xtr, Ytr = jnp.asarray(X.numpy().astype(np.int32)), jnp.asarray(Y.numpy().astype(np.int32))
    init_state, step = jax_models.make_step(cfg.model, Xtr, Ytr, layers=cfg.layers, heads=cfg.heads,
                                            momentum=momentum, eps=cfg.eps)
    state = init_state({k: jnp.asarray(v.numpy(), dtype=jnp.float32) for k, v in params.items()})
    holder = {"state": state}
    start = time.perf_counter()
    if args.system == "jax-jit":
        example = jnp.zeros((args.batch,), jnp.int32)
        compiled = jax.jit(step, donate_argnums=0).lower(state, example).compile()
    else:
        example = jnp.zeros((args.scan, args.batch), jnp.int32)
        compiled = jax.jit(jax_models.scan_steps(step), donate_argnums=0).lower(state, example).compile()
    compile_s = time.perf_counter() - start

    def run(ixs: np.ndarray) -> list:
        losses = []
        if args.system == "jax-jit":
            for ix in ixs:
                holder["state"], loss = compiled(holder["state"], ix)
                losses.append(loss)
        else:
            for chunk in ixs.reshape(-1, args.scan, args.batch):
                holder["state"], loss = compiled(holder["state"], chunk)
                losses.append(loss)
        return losses

    def finish() -> None:
        jax.block_until_ready(holder["state"])

    def values(losses: list) -> np.ndarray:
        return np.concatenate([np.ravel(np.asarray(v)) for v in losses])

    return compile_s, run, finish, values


# ---------------------------------------------------------------------------------------------
# torch.compile


def compile_runner(args, cfg, params, X, Y, momentum, module):
    """(compile seconds, run(ixs), finish(), values(losses)) for torch.compile of the whole step."""
    import torch.nn.functional as F
    from torch.func import functional_call, grad_and_value

    p = {k: v.clone().contiguous() for k, v in params.items()}
    if cfg.model in mm.WORD_MODELS:
        a = dict(lr=5e-4, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.01)
        buffers = {k: v for k, v in module.named_buffers()}
        m = {k: torch.zeros_like(v) for k, v in p.items()}
        v2 = {k: torch.zeros_like(v) for k, v in p.items()}
        t = torch.zeros((), dtype=torch.float32)

        def loss_fn(p, Xb, Yb):
            _, loss = functional_call(module, (p, buffers), (Xb, Yb))
            return loss

        def step(ix):
            grads, loss = grad_and_value(loss_fn)(p, X[ix], Y[ix])
            t.add_(1)
            c1 = 1 - a["beta1"] ** t
            c2 = (1 - a["beta2"] ** t).sqrt()
            for k in p:
                g = grads[k]
                m[k].mul_(a["beta1"]).add_(g, alpha=1 - a["beta1"])
                v2[k].mul_(a["beta2"]).addcmul_(g, g, value=1 - a["beta2"])
                p[k].mul_(1 - a["lr"] * a["weight_decay"])
                p[k].sub_(a["lr"] / c1 * m[k] / (v2[k].sqrt() / c2 + a["eps"]))
            return loss
    else:
        names = mm.trainable_names(cfg)
        trainable = {k: p[k] for k in names}
        L = cfg.layers

        def loss_fn(q, Xb, Yb):
            record: dict = {}
            logits = mm.forward(cfg, q, Xb, training=True, record=record)
            stats = [(record[f"bnmeani{i}"], record[f"bnvar{i}"]) for i in range(1, L + 1)]
            return F.cross_entropy(logits, Yb), stats

        def step(ix):
            grads, (loss, stats) = grad_and_value(loss_fn, has_aux=True)(trainable, X[ix], Y[ix])
            for k in names:
                trainable[k].sub_(tb.LEARNING_RATE * grads[k])
            for i, (mean, var) in enumerate(stats, start=1):
                p[f"bnmean{i}"].mul_(1 - momentum).add_(mean.view(1, -1), alpha=momentum)
                p[f"bnvar{i}"].mul_(1 - momentum).add_(var.view(1, -1), alpha=momentum)
            return loss

    compiled = step if args.system == "eager" else torch.compile(step, fullgraph=True)
    first = torch.zeros((args.batch,), dtype=torch.int32)  # the dtype of the drawn indices: no recompiling
    start = time.perf_counter()
    with torch.no_grad():
        compiled(first)  # traces, compiles and runs one step (on the minibatch of example 0)
    compile_s = time.perf_counter() - start

    def run(ixs: np.ndarray) -> list:
        losses = []
        with torch.no_grad():
            for ix in torch.from_numpy(ixs):
                losses.append(compiled(ix))
        return losses

    def values(losses: list) -> np.ndarray:
        return torch.stack(losses).numpy()

    return compile_s, run, lambda: None, values


def main() -> int:
    torch.set_num_threads(args.threads)
    cfg, params, X, Y, flops, momentum, module = setup(args)
    if args.system.startswith("jax"):
        compile_s, run, finish, values = jax_runner(args, cfg, params, X, Y, momentum)
    else:
        compile_s, run, finish, values = compile_runner(args, cfg, params, X, Y, momentum, module)

    rng = np.random.default_rng(args.seed)
    unit = args.scan if args.system == "jax-scan" else 1
    rounded = lambda n: -(-n // unit) * unit  # noqa: E731
    check_loss = None
    check_steps = None
    if args.check:
        model, sizes, check_steps, reference = CHECKS[args.check]
        if (model, sizes) != (cfg.model, (cfg.embed, cfg.hidden, cfg.block, cfg.layers, args.batch)):
            print(f"error: --check {args.check} is for the {model} of (embed, hidden, block, layers, batch) {sizes}, "
                  f"not this {cfg.model} of {(cfg.embed, cfg.hidden, cfg.block, cfg.layers, args.batch)}", file=sys.stderr)
            return 1
        low, high = reference - CHECK_MARGIN, reference + CHECK_MARGIN
        losses = values(run(rng.integers(0, X.shape[0], (rounded(check_steps), args.batch)).astype(np.int32)))
        check_loss = float(np.mean(losses[-CHECK_WINDOW:]))
        if not low <= check_loss <= high:
            print(f"error: {args.system} {args.model}: mean loss of the last {CHECK_WINDOW} of {len(losses)} steps is "
                  f"{check_loss:.4f}, outside the expected {low:.4f}-{high:.4f}: the step does not train as it should",
                  file=sys.stderr)
            return 1
    if args.warmup:
        run(rng.integers(0, X.shape[0], (rounded(args.warmup), args.batch)).astype(np.int32))
        finish()
    steps = rounded(args.steps)
    ixs = rng.integers(0, X.shape[0], (steps, args.batch)).astype(np.int32)
    start = time.perf_counter()
    losses = run(ixs)
    finish()
    seconds = time.perf_counter() - start
    final_loss = float(values(losses[-1:])[-1])

    if args.system.startswith("jax"):
        import jax
        version = f"jax {jax.__version__}"
    else:
        version = f"torch {torch.__version__}"
    steps_per_s = steps / seconds
    result = {
        "implementation": args.system, "version": version, "model": args.model, "embed": cfg.embed,
        "hidden": cfg.hidden, "block": cfg.block, "layers": cfg.layers, "batch": args.batch, "threads": args.threads,
        "steps": steps, "seconds": seconds, "steps_per_s": steps_per_s, "ms_per_step": 1000 * seconds / steps,
        "gflops": flops * steps_per_s / 1e9, "compile_s": compile_s, "check_loss": check_loss,
        "check_steps": check_steps, "final_loss": final_loss, "peak_rss_mb": tb.peak_rss_mb(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{version}, {args.system}: model {args.model}, batch {args.batch}, threads {args.threads}")
        print(f"compile    {compile_s:.2f} s")
        if check_loss is not None:
            print(f"check      mean loss {check_loss:.4f} over the last {CHECK_WINDOW} of {check_steps} steps")
        print(f"steps/s    {steps_per_s:.1f}")
        print(f"ms/step    {result['ms_per_step']:.4f}")
        print(f"GFLOP/s    {result['gflops']:.2f} (matmuls)")
        print(f"peak RSS   {result['peak_rss_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
