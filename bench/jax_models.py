"""The models of `makemore train` as pure JAX functions, for the JAX peers of `bench/peers.py`.

Each is the model of reference/makemore_reference.py written functionally: the same tensors by
the same names (a dict of arrays: `C`, `W1`, ... for the mlp and wavenet, the state_dict names
of makemore's modules for the others) and the same arithmetic, so that the initial values of
the PyTorch reference can be handed over as they are.

  mlp      embedding C, `layers` blocks of Linear -> batch norm (the lecture's: batch mean and
           Bessel-corrected variance, running statistics updated with `momentum`) -> tanh,
           output Linear, mean cross-entropy.
  wavenet  FlattenConsecutive(2) -> Linear (no bias) -> batch norm over (batch, time) -> tanh,
           log2(block) levels, output Linear.
  transformer, bigram, bow, rnn, gru  karpathy/makemore's modules on padded words: X (B, T)
           `0, c1..cn` padded with 0, Y (B, T) `c1..cn, 0` padded with -1, the mean
           cross-entropy over the positions whose target is not -1.

The training step: SGD (lr 0.1) for the mlp and wavenet, torch.optim.AdamW's update (lr 5e-4,
betas (0.9, 0.99), eps 1e-8, weight decay 0.01, every tensor) for the word models, as
`bench/torch_baseline.py` trains them. `make_step` gives the step on a minibatch of indices
into the training split; `bench/peers.py` jits it, or runs many of them in one `lax.scan`.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

Params = dict[str, jax.Array]

SGD_LEARNING_RATE = 0.1
ADAMW = dict(lr=5e-4, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.01)
WORD_MODELS = ("transformer", "bigram", "bow", "rnn", "gru")


# ---------------------------------------------------------------------------------------------
# Pieces


def cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean of -log softmax(logits)[target] over rows; rows whose target is -1 are left out (as
    F.cross_entropy's ignore_index=-1). logits (n, V), targets (n,)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    keep = targets != -1
    picked = jnp.take_along_axis(logp, jnp.where(keep, targets, 0)[:, None], axis=-1)[:, 0]
    return -jnp.sum(jnp.where(keep, picked, 0.0)) / jnp.maximum(jnp.sum(keep), 1)


def linear(x: jax.Array, p: Params, name: str, bias: bool = True) -> jax.Array:
    """torch.nn.Linear: x @ weightᵀ + bias, weight (out, in)."""
    y = x @ p[f"{name}.weight"].T
    return y + p[f"{name}.bias"] if bias else y


def layer_norm(x: jax.Array, p: Params, name: str, eps: float = 1e-5) -> jax.Array:
    """torch.nn.LayerNorm over the last dimension (biased variance)."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * p[f"{name}.weight"] + p[f"{name}.bias"]


def batch_norm(x: jax.Array, gain: jax.Array, bias: jax.Array, eps: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Training-mode batch norm over the rows of x (n, H) with the Bessel-corrected variance, as
    the lecture writes it: (out, batch mean, batch variance)."""
    n = x.shape[0]
    mean = x.mean(0, keepdims=True)
    diff = x - mean
    var = (diff * diff).sum(0, keepdims=True) / (n - 1)
    return gain * diff * (var + eps) ** -0.5 + bias, mean, var


# ---------------------------------------------------------------------------------------------
# The mlp and the wavenet: (loss, batch statistics) of a minibatch


def mlp_loss(p: Params, X: jax.Array, Y: jax.Array, layers: int, eps: float = 1e-5):
    """The lecture's MLP in training mode: (mean cross-entropy, [(mean, var) per level])."""
    x = p["C"][X].reshape(X.shape[0], -1)  # (B, block * embed)
    stats = []
    for i in range(1, layers + 1):
        hprebn = x @ p[f"W{i}"] + p[f"b{i}"]
        hpreact, mean, var = batch_norm(hprebn, p[f"bngain{i}"], p[f"bnbias{i}"], eps)
        stats.append((mean, var))
        x = jnp.tanh(hpreact)
    logits = x @ p[f"W{layers + 1}"] + p[f"b{layers + 1}"]
    return cross_entropy(logits, Y), stats


def wavenet_loss(p: Params, X: jax.Array, Y: jax.Array, layers: int, eps: float = 1e-5):
    """makemore part 5's WaveNet in training mode: (mean cross-entropy, [(mean, var) per level])."""
    x = p["C"][X]  # (B, T, embed)
    B = X.shape[0]
    stats = []
    for i in range(1, layers + 1):
        _, T, Cw = x.shape
        x = x.reshape(B, T // 2, 2 * Cw)  # FlattenConsecutive(2)
        h = x @ p[f"W{i}"]  # (B, T/2, hidden)
        rows = h.reshape(-1, h.shape[-1])  # batch norm over (batch, time) = over these rows
        out, mean, var = batch_norm(rows, p[f"bngain{i}"], p[f"bnbias{i}"], eps)
        stats.append((mean, var))
        x = jnp.tanh(out).reshape(h.shape)
    logits = x.reshape(B, -1) @ p[f"W{layers + 1}"] + p[f"b{layers + 1}"]
    return cross_entropy(logits, Y), stats


# ---------------------------------------------------------------------------------------------
# The word models: makemore's modules, logits (B, T, V) of X (B, T)


def gelu(x: jax.Array) -> jax.Array:
    """makemore's NewGELU (the tanh approximation)."""
    return 0.5 * x * (1.0 + jnp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def transformer_logits(p: Params, X: jax.Array, layers: int, heads: int) -> jax.Array:
    B, T = X.shape
    x = p["transformer.wte.weight"][X] + p["transformer.wpe.weight"][:T][None]
    C = x.shape[-1]
    causal = jnp.tril(jnp.ones((T, T), dtype=bool))
    for i in range(layers):
        h = f"transformer.h.{i}"
        qkv = linear(layer_norm(x, p, f"{h}.ln_1"), p, f"{h}.attn.c_attn")
        q, k, v = (t.reshape(B, T, heads, C // heads).transpose(0, 2, 1, 3) for t in jnp.split(qkv, 3, axis=-1))
        att = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(C // heads))
        att = jax.nn.softmax(jnp.where(causal, att, -jnp.inf), axis=-1)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + linear(y, p, f"{h}.attn.c_proj")
        fc = linear(layer_norm(x, p, f"{h}.ln_2"), p, f"{h}.mlp.c_fc")
        x = x + linear(gelu(fc), p, f"{h}.mlp.c_proj")
    return layer_norm(x, p, "transformer.ln_f") @ p["lm_head.weight"].T


def bigram_logits(p: Params, X: jax.Array) -> jax.Array:
    return p["logits"][X]


def bow_logits(p: Params, X: jax.Array) -> jax.Array:
    B, T = X.shape
    x = p["wte.weight"][X] + p["wpe.weight"][:T][None]
    # CausalBoW: softmax of zeros under the causal mask, the mean of the positions so far
    att = jax.nn.softmax(jnp.where(jnp.tril(jnp.ones((T, T), dtype=bool)), 0.0, -jnp.inf), axis=-1)
    x = x + att @ x
    x = x + linear(jnp.tanh(linear(x, p, "context_block.mlp.c_fc")), p, "context_block.mlp.c_proj")
    return linear(x, p, "lm_head")


def rnn_logits(p: Params, X: jax.Array, gru: bool) -> jax.Array:
    """makemore's RNN with its RNNCell or GRUCell, run along the word one position at a time."""
    B, T = X.shape
    emb = p["wte.weight"][X]  # (B, T, embed)
    h = jnp.broadcast_to(p["start"], (B, p["start"].shape[1]))
    hiddens = []
    for t in range(T):
        xt = emb[:, t]
        xh = jnp.concatenate([xt, h], axis=1)
        if gru:
            r = jax.nn.sigmoid(linear(xh, p, "cell.xh_to_r"))
            hbar = jnp.tanh(linear(jnp.concatenate([xt, r * h], axis=1), p, "cell.xh_to_hbar"))
            z = jax.nn.sigmoid(linear(xh, p, "cell.xh_to_z"))
            h = (1 - z) * h + z * hbar
        else:
            h = jnp.tanh(linear(xh, p, "cell.xh_to_h"))
        hiddens.append(h)
    return linear(jnp.stack(hiddens, 1), p, "lm_head")


def word_loss(model: str, layers: int, heads: int | None) -> Callable[[Params, jax.Array, jax.Array], jax.Array]:
    """The masked mean cross-entropy of a word model as a function (params, X, Y) -> loss."""
    def logits(p: Params, X: jax.Array) -> jax.Array:
        if model == "transformer":
            return transformer_logits(p, X, layers, heads or 1)
        if model == "bigram":
            return bigram_logits(p, X)
        if model == "bow":
            return bow_logits(p, X)
        return rnn_logits(p, X, gru=model == "gru")

    def loss(p: Params, X: jax.Array, Y: jax.Array) -> jax.Array:
        out = logits(p, X)
        return cross_entropy(out.reshape(-1, out.shape[-1]), Y.reshape(-1))

    return loss


# ---------------------------------------------------------------------------------------------
# The training step


def make_step(model: str, Xtr: jax.Array, Ytr: jax.Array, *, layers: int, heads: int | None = None,
              momentum: float = 0.0, eps: float = 1e-5):
    """(init_state, step): `step(state, ix) -> (state, loss)` trains on the minibatch
    Xtr[ix], Ytr[ix] (the gather is part of the step). The state holds the parameters, and the
    running batch-norm statistics (mlp, wavenet) or AdamW's moments and step count (word models).
    `init_state(params)` makes it from a dict of initial values (float32)."""
    if model in WORD_MODELS:
        loss_fn = word_loss(model, layers, heads)
        a = ADAMW

        def init_state(params: Params):
            def zeros():  # separate buffers: the state is donated to the step
                return {k: jnp.zeros_like(v) for k, v in params.items()}
            return {"params": params, "m": zeros(), "v": zeros(), "t": jnp.zeros((), jnp.float32)}

        def step(state, ix):
            loss, grads = jax.value_and_grad(loss_fn)(state["params"], Xtr[ix], Ytr[ix])
            t = state["t"] + 1
            c1, c2 = 1 - a["beta1"] ** t, 1 - a["beta2"] ** t
            new = {"params": {}, "m": {}, "v": {}, "t": t}
            for k, p in state["params"].items():
                g = grads[k]
                m = a["beta1"] * state["m"][k] + (1 - a["beta1"]) * g
                v = a["beta2"] * state["v"][k] + (1 - a["beta2"]) * g * g
                p = p * (1 - a["lr"] * a["weight_decay"])
                new["params"][k] = p - (a["lr"] / c1) * m / (jnp.sqrt(v) / jnp.sqrt(c2) + a["eps"])
                new["m"][k], new["v"][k] = m, v
            return new, loss

        return init_state, step

    forward = mlp_loss if model == "mlp" else wavenet_loss

    def init_state(params: Params):
        trainable = {k: v for k, v in params.items() if not k.startswith(("bnmean", "bnvar"))}
        running = {k: v for k, v in params.items() if k.startswith(("bnmean", "bnvar"))}
        return {"params": trainable, "running": running}

    def step(state, ix):
        def loss_fn(p):
            return forward(p, Xtr[ix], Ytr[ix], layers, eps)

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        params = {k: v - SGD_LEARNING_RATE * grads[k] for k, v in state["params"].items()}
        running = dict(state["running"])
        for i, (mean, var) in enumerate(stats, start=1):
            running[f"bnmean{i}"] = (1 - momentum) * running[f"bnmean{i}"] + momentum * mean
            running[f"bnvar{i}"] = (1 - momentum) * running[f"bnvar{i}"] + momentum * var
        return {"params": params, "running": running}, loss

    return init_state, step


def scan_steps(step):
    """Many steps in one call: `run(state, ixs) -> (state, losses)`, ixs (K, batch) the indices
    of K minibatches drawn beforehand, `lax.scan` over them."""
    def run(state, ixs):
        return jax.lax.scan(step, state, ixs)
    return run
