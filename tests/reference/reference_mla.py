"""Independent float64 reference of deepseek2 (DeepSeek V2/V3/R1, Kimi K2,
GLM-4.7-Flash): multi-head latent attention and DeepSeek's mixture of
experts, written from the model's definition (Hugging Face's
modeling_deepseek.py, V2 and V3) and reading the GGUF form of llama.cpp's
convert_hf_to_gguf.py (DeepseekV2Model, the MLA tensors split). reference_forward's
Model hands a deepseek2 file to MLAModel (same interface: forward, step, greedy).

Attention, per token at position pos (H heads; a query/key head of
key_length_mla = qk_nope + qk_rope dimensions, qk_rope = rope.dimension_count;
values of value_length_mla; latents of kv_lora_rank and q_lora_rank):
    h = rmsnorm(x) * attn_norm
    q = Wq h                                  attn_q [H (qk_nope + qk_rope), dim], or
    q = Wq_b (rmsnorm(Wq_a h) * q_a_norm)     attn_q_a [q_lora, dim], attn_q_b [H (..), q_lora]
        (where attention.q_lora_rank is given and not 0)
    per head q = [q_nope (qk_nope); q_pe (qk_rope)]
    [c; k_pe] = Wkv_a h                       attn_kv_a_mqa [kv_lora + qk_rope, dim]
    c = rmsnorm(c) * kv_a_norm                the latent, one for every head
    q_pe, k_pe turned by RoPE in ADJACENT pairs (llama.cpp's rope type NORM; the
        Hugging Face code's de-interleave then rotate_half is the same rotation),
        k_pe one for every head
    decompressed (not absorbed), per head h:
        k_h = [Wk_b[h] c ; k_pe]              attn_k_b: ggml {qk_nope, kv_lora, H}, numpy
                                              (H, kv_lora, qk_nope): kv_b_proj's key rows,
                                              transposed per head by the converter
        v_h = Wv_b[h] c                       attn_v_b: ggml {kv_lora, v_dim, H}, numpy
                                              (H, v_dim, kv_lora)
        o_h = softmax_causal(kq_scale q_h . k_j) v_j
    x = x + Wo [o_1 .. o_H]                   attn_output [dim, H v_dim]

RoPE scaling and the score scale, as llama.cpp computes them (llama-context.cpp,
ggml's rope_yarn, src/models/deepseek2.cpp); s = rope.scaling.factor,
L = rope.scaling.yarn_log_multiplier / 0.1 (the file holds convert's 0.1
mscale_all_dim), a = rope.scaling.attn_factor (default 1):
    yarn: the pairs' frequencies as YaRN's (beta_fast 32, beta_slow 1 over
        rope.scaling.original_context_length), and
        A = a / (1 + 0.1 ln s)            (with L: llama.cpp's mscale ratio is 1 for
                                           deepseek2, then the ramp's own factor cancelled)
        A = a                             (without L: 1 + 0.1 ln s, cancelled)
        cos and sin times A (1 + 0.1 ln s)   (ggml's rope multiplies its attn_factor)
    linear: frequencies times 1/s, A = a, cos and sin times A
    none: A = a, cos and sin times A
    kq_scale = m^2 / sqrt(qk_nope + qk_rope), m = A (1 + 0.1 ln s) (1 + 0.1 L ln s)
        (ln s = 0 unscaled). With YaRN and L this is Hugging Face's softmax_scale
        (yarn_get_mscale(s, mscale_all_dim)^2 / sqrt(q_head_dim), cos and sin times
        1); without L llama.cpp's cos and sin keep 1 + 0.1 ln s and the scale gets
        its square too (Hugging Face: the first only), and under linear scaling
        llama.cpp scales the scores by (1 + 0.1 ln s)^2 (Hugging Face: not):
        llama.cpp's, the target, are followed.

Feed-forward: the first leading_dense_block_count layers SwiGLU of
feed_forward_length; the others DeepSeek's experts (llama.cpp's build_moe_ffn):
    r = Wr h                                  ffn_gate_inp [E, dim]
    p = softmax(r) (expert_gating_func 1; absent: V2's files, except llama.cpp's
        GLM-4.7-Flash guess of 47 or 48 layers and a vocabulary of 154880) or
        sigmoid(r) (2)
    keys = p + b                              b: exp_probs_b.bias [E], optional
    with expert_group_count G > 1: E / G experts a group in id order, a group's
        score the sum of its two highest keys, the expert_group_used_count best
        groups kept, the other groups' keys -inf (V3's noaux_tc; llama.cpp uses it
        for V2's group_limited_greedy too, whose group score is the max)
    the expert_used_count experts of the highest keys (lower id first among equals)
    w_e = p_e (unbiased) / max(sum of the chosen p, 6.103515625e-5) where
        expert_weights_norm, times expert_weights_scale unless it is 0 or 1
    ffn(h) = sum_e w_e Wdown_e (silu(Wgate_e h) * (Wup_e h)) + shared(h),
        the shared expert SwiGLU of expert_feed_forward_length x expert_shared_count
logits = Wout (rmsnorm(x) * output_norm), Wout = output.weight or token_embd.weight.
block_count counts nextn_predict_layers trailing layers, not run.

The KV cache holds what MLA caches, a token's latent c (kv_lora values) and its
turned k_pe (qk_rope values) and nothing per head; kv_dtype "f16" rounds those
(to float32, then the nearest half), as llama.cpp's K cache row [c; k_pe] of
halves holds them (its V is a view of the c part); "q8_0" rounds that row in
blocks of 32, as a Q8_0 K cache would (kv_lora + qk_rope a multiple of 32).
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_forward as R  # noqa: E402
from gguf_reader import GGUFReader  # noqa: E402
from reference_hparams import required_int  # noqa: E402

MLA_ARCHS = ("deepseek2",)
F16_TINY = 6.103515625e-5       # llama.cpp's clamp of the weights' sum


class MLAHParams:
    def __init__(self, r):
        arch = r.get("general.architecture")
        if arch not in MLA_ARCHS:
            raise ValueError("%s: not a deepseek2 file (%r)" % (r.path, arch))
        self.arch = arch

        def req(key):
            return required_int(r, arch, key)

        def opt(key, default):
            return r.get_int("%s.%s" % (arch, key), default)

        self.mla = True
        # reference_forward's Model pieces read these: no embedding or logit scale, no soft-cap
        self.embedding_scale, self.gemma, self.logit_scale, self.final_softcap = 0.0, False, 1.0, 0.0
        self.dim = req("embedding_length")
        self.n_layers = req("block_count") - opt("nextn_predict_layers", 0)
        self.ffn = req("feed_forward_length")
        self.n_head = req("attention.head_count")
        self.n_head_kv = opt("attention.head_count_kv", 1)
        self.context = opt("context_length", 0)
        self.eps = r.get_float(arch + ".attention.layer_norm_rms_epsilon", 1e-6)
        self.freq_base = r.get_float(arch + ".rope.freq_base", 10000.0)
        self.kv_lora = req("attention.kv_lora_rank")
        self.q_lora = opt("attention.q_lora_rank", 0)
        self.head_dim = r.get_int(arch + ".attention.key_length_mla")
        self.v_dim = r.get_int(arch + ".attention.value_length_mla")
        if self.head_dim is None or self.v_dim is None:
            raise ValueError("%s: no attention.key_length_mla / value_length_mla (a file of the unsplit "
                             "attn_kv_b form is not supported)" % r.path)
        self.n_rot = req("rope.dimension_count")
        self.nope = self.head_dim - self.n_rot
        if self.n_head_kv != 1 or self.nope < 1 or self.n_rot % 2:
            raise ValueError("%s: head_count_kv %d, key_length_mla %d, rope dims %d invalid for MLA"
                             % (r.path, self.n_head_kv, self.head_dim, self.n_rot))
        for key, want in (("attention.key_length", self.kv_lora + self.n_rot),
                          ("attention.value_length", self.kv_lora)):
            if opt(key, want) != want:
                raise ValueError("%s: %s.%s is %d, not %d" % (r.path, arch, key, opt(key, want), want))
        self.dense_lead = opt("leading_dense_block_count", 0)
        self.n_expert = opt("expert_count", 0)
        self.n_expert_used = opt("expert_used_count", 0)
        self.expert_ffn = opt("expert_feed_forward_length", 0)
        self.shared_count = req("expert_shared_count")
        self.shared_ffn = self.expert_ffn * self.shared_count
        self.expert_scale = r.get_float(arch + ".expert_weights_scale", 0.0)
        self.normalize = bool(r.get(arch + ".expert_weights_norm", False))
        vocab = opt("vocab_size", len(r.get("tokenizer.ggml.tokens") or []))
        gating = opt("expert_gating_func", 0)
        if gating == 0:
            gating = 2 if self.n_layers in (47, 48) and vocab == 154880 else 1
        if gating not in (1, 2):
            raise ValueError("%s: expert_gating_func %d not supported" % (r.path, gating))
        self.sigmoid = gating == 2
        self.groups = opt("expert_group_count", 0)
        self.groups_used = opt("expert_group_used_count", 0)
        if self.dense_lead < self.n_layers and (not self.n_expert or not self.n_expert_used):
            raise ValueError("%s: expert layers without expert_count / expert_used_count" % r.path)
        if self.groups > 1 and (self.n_expert % self.groups or not 0 < self.groups_used < self.groups):
            raise ValueError("%s: %d experts in %d groups, %d used" % (r.path, self.n_expert, self.groups,
                                                                      self.groups_used))
        self._rope(r)

    def _rope(self, r):
        arch = self.arch
        kind = r.get(arch + ".rope.scaling.type", "linear")
        factor = r.get_float(arch + ".rope.scaling.factor", 0.0)
        attn = r.get_float(arch + ".rope.scaling.attn_factor", 1.0)
        log_mul = r.get_float(arch + ".rope.scaling.yarn_log_multiplier", 0.0) / float(np.float32(0.1))
        s = factor if factor else 1.0
        if kind == "none":
            s = 1.0
        elif kind not in ("linear", "yarn"):
            raise ValueError("%s: rope scaling %r not supported for deepseek2" % (r.path, kind))
        ln_s = math.log(s)
        self.freq_scale = 1.0 / s
        self.rope_inv_freq = None
        magnitude = attn
        if kind == "yarn":
            self.rope_inv_freq, _ = R.yarn_inv_freq(self.n_rot, self.freq_base, s, r.get_float(
                arch + ".rope.scaling.original_context_length", float(self.context)))
            ramp = 1.0 + 0.1 * ln_s                 # ggml's rope_yarn multiplies cos and sin by it
            attn = attn / ramp if log_mul else attn
            magnitude = attn * ramp
        self.rope_mscale = magnitude                # cos and sin times this
        m = attn * (1.0 + 0.1 * ln_s) * (1.0 + 0.1 * log_mul * ln_s)
        self.query_scale = m * m / math.sqrt(self.head_dim)
        self.yarn_log_mul = log_mul

    def __repr__(self):
        return "MLAHParams(%s)" % ", ".join("%s=%r" % kv for kv in sorted(vars(self).items()))


class MLAModel(R.Model):
    def __init__(self, path, kv_dtype="f32", lora=None):
        self.path = str(path)
        if kv_dtype not in ("f32", "f16", "q8_0"):
            raise ValueError("kv_dtype must be f32, f16 or q8_0")
        if lora:
            raise ValueError("%s: LoRA adapters are not supported for deepseek2" % self.path)
        self.kv_dtype = kv_dtype
        r = GGUFReader(self.path)
        self.reader = r
        hp = self.hp = MLAHParams(r)
        if kv_dtype == "q8_0" and (hp.kv_lora + hp.n_rot) % 32:
            raise ValueError("%s: a Q8_0 cache row of %d values" % (self.path, hp.kv_lora + hp.n_rot))

        def w(name, shape):
            if not r.has_tensor(name):
                raise ValueError("%s: missing tensor %s" % (self.path, name))
            t = r.tensor(name).astype(np.float64)
            if t.shape != tuple(shape):
                raise ValueError("%s: tensor %s has shape %r, expected %r" % (self.path, name, t.shape, tuple(shape)))
            return t

        self.embd = w("token_embd.weight", (r.tensors["token_embd.weight"].shape[0], hp.dim))
        self.vocab = self.embd.shape[0]
        H, qk = hp.n_head, hp.head_dim
        self.layers = []
        for i in range(hp.n_layers):
            p = "blk.%d." % i
            L = R.Layer()
            L.attn_norm = w(p + "attn_norm.weight", (hp.dim,))
            if hp.q_lora:
                L.wq = None
                L.wq_a = w(p + "attn_q_a.weight", (hp.q_lora, hp.dim))
                L.q_a_norm = w(p + "attn_q_a_norm.weight", (hp.q_lora,))
                L.wq_b = w(p + "attn_q_b.weight", (H * qk, hp.q_lora))
            else:
                L.wq = w(p + "attn_q.weight", (H * qk, hp.dim))
            L.wkv_a = w(p + "attn_kv_a_mqa.weight", (hp.kv_lora + hp.n_rot, hp.dim))
            L.kv_a_norm = w(p + "attn_kv_a_norm.weight", (hp.kv_lora,))
            L.wk_b = w(p + "attn_k_b.weight", (H, hp.kv_lora, hp.nope))
            L.wv_b = w(p + "attn_v_b.weight", (H, hp.v_dim, hp.kv_lora))
            L.wo = w(p + "attn_output.weight", (hp.dim, H * hp.v_dim))
            L.ffn_norm = w(p + "ffn_norm.weight", (hp.dim,))
            if i < hp.dense_lead:
                L.router = L.shared = L.selection_bias = None
                L.wgate = w(p + "ffn_gate.weight", (hp.ffn, hp.dim))
                L.wup = w(p + "ffn_up.weight", (hp.ffn, hp.dim))
                L.wdown = w(p + "ffn_down.weight", (hp.dim, hp.ffn))
            else:
                E, F, S = hp.n_expert, hp.expert_ffn, hp.shared_ffn
                L.router = w(p + "ffn_gate_inp.weight", (E, hp.dim))
                L.selection_bias = w(p + "exp_probs_b.bias", (E,)) if r.has_tensor(p + "exp_probs_b.bias") else None
                L.gate_exps = w(p + "ffn_gate_exps.weight", (E, F, hp.dim))
                L.up_exps = w(p + "ffn_up_exps.weight", (E, F, hp.dim))
                L.down_exps = w(p + "ffn_down_exps.weight", (E, hp.dim, F))
                L.shared = (w(p + "ffn_gate_shexp.weight", (S, hp.dim)), w(p + "ffn_up_shexp.weight", (S, hp.dim)),
                            w(p + "ffn_down_shexp.weight", (hp.dim, S)))
            self.layers.append(L)
        self.output_norm = w("output_norm.weight", (hp.dim,))
        self.end_ids = R.end_of_generation_ids(r)
        self.tied = not r.has_tensor("output.weight")
        self.output = self.embd if self.tied else w("output.weight", (self.vocab, hp.dim))

    # -- attention ------------------------------------------------------------
    def _rope(self, x, positions):
        hp = self.hp
        return R.rope(x, positions, hp.n_rot, hp.freq_base, False, hp.freq_scale, None, hp.rope_inv_freq,
                      hp.rope_mscale)

    def _latent(self, L, h, positions):
        """The queries (T, H, qk) with their RoPE part turned, and the cache's
        rows (T, kv_lora + qk_rope): the normed latent, then the turned k_pe."""
        hp = self.hp
        T = h.shape[0]
        if L.wq is not None:
            q = h @ L.wq.T
        else:
            q = R.rms_norm(h @ L.wq_a.T, L.q_a_norm, hp.eps) @ L.wq_b.T
        q = q.reshape(T, hp.n_head, hp.head_dim)
        q_pe = self._rope(q[:, :, hp.nope:], positions)
        q = np.concatenate([q[:, :, :hp.nope], q_pe], axis=2)
        kv = h @ L.wkv_a.T
        c = R.rms_norm(kv[:, :hp.kv_lora], L.kv_a_norm, hp.eps)
        k_pe = self._rope(kv[:, None, hp.kv_lora:], positions)[:, 0, :]
        return q, np.concatenate([c, k_pe], axis=1)

    def _attend(self, L, q, rows, start):
        """Query t (at position start + t) over the cached rows 0 .. start + t,
        decompressed per head; returns (T, H v_dim)."""
        hp = self.hp
        T, n = q.shape[0], rows.shape[0]
        c, k_pe = rows[:, :hp.kv_lora], rows[:, hp.kv_lora:]
        k_nope = np.einsum("jc,hcn->hjn", c, L.wk_b)                 # (H, n, qk_nope)
        keys = np.concatenate([k_nope, np.broadcast_to(k_pe, (hp.n_head,) + k_pe.shape)], axis=2)
        values = np.einsum("jc,hvc->hjv", c, L.wv_b)                 # (H, n, v_dim)
        scores = np.einsum("thd,hjd->htj", q, keys) * hp.query_scale  # (H, T, n)
        visible = np.arange(n)[None, :] <= (start + np.arange(T))[:, None]
        scores = np.where(visible[None], scores, -np.inf)
        p = R.softmax_sink(scores.reshape(-1, n)).reshape(scores.shape)
        return np.einsum("htj,hjv->thv", p, values).reshape(T, hp.n_head * hp.v_dim)

    # -- experts ----------------------------------------------------------------
    def _choose(self, L, h):
        """Per row of h: the chosen experts and their weights."""
        hp = self.hp
        logits = h @ L.router.T
        if hp.sigmoid:
            p = 1.0 / (1.0 + np.exp(-logits))
        else:
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
        keys = p + L.selection_bias if L.selection_bias is not None else p.copy()
        choices = []
        for t in range(h.shape[0]):
            key = keys[t].copy()
            if hp.groups > 1:
                groups = key.reshape(hp.groups, -1)
                score = np.sort(groups, axis=1)[:, -2:].sum(axis=1)
                kept = np.argsort(-score, kind="stable")[:hp.groups_used]
                masked = np.full_like(groups, -np.inf)
                masked[kept] = groups[kept]
                key = masked.reshape(-1)
            chosen = np.argsort(-key, kind="stable")[:hp.n_expert_used]
            weights = p[t, chosen]
            if hp.normalize:
                weights = weights / max(weights.sum(), F16_TINY)
            if hp.expert_scale not in (0.0, 1.0):
                weights = weights * hp.expert_scale
            choices.append((chosen, weights))
        return choices

    def _ffn(self, L, x):
        h = R.rms_norm(x, L.ffn_norm, self.hp.eps)
        if L.router is None:
            return x + (R.silu(h @ L.wgate.T) * (h @ L.wup.T)) @ L.wdown.T
        out = np.zeros_like(h)
        for t, (chosen, weights) in enumerate(self._choose(L, h)):
            for e, wt in zip(chosen, weights):
                out[t] += wt * (L.down_exps[e] @ (R.silu(L.gate_exps[e] @ h[t]) * (L.up_exps[e] @ h[t])))
        gate, up, down = L.shared
        return x + out + (R.silu(h @ gate.T) * (h @ up.T)) @ down.T

    # -- the passes -------------------------------------------------------------
    def forward(self, tokens):
        """Logits (T, vocab) for positions 0..T-1, keys unrounded."""
        x = self._embed(tokens)
        T = x.shape[0]
        if T == 0:
            return np.zeros((0, self.vocab))
        pos = np.arange(T)
        for L in self.layers:
            q, rows = self._latent(L, R.rms_norm(x, L.attn_norm, self.hp.eps), pos)
            x = x + self._attend(L, q, rows, 0) @ L.wo.T
            x = self._ffn(L, x)
        return self._logits(x)

    def new_cache(self):
        width = self.hp.kv_lora + self.hp.n_rot
        return {"n": 0, "rows": [np.zeros((0, width)) for _ in self.layers]}

    def step(self, tokens, cache):
        """Append `tokens` at positions cache['n']..; returns their logits (len, vocab)."""
        x = self._embed(tokens)
        start = cache["n"]
        pos = np.arange(start, start + x.shape[0])
        for li, L in enumerate(self.layers):
            q, rows = self._latent(L, R.rms_norm(x, L.attn_norm, self.hp.eps), pos)
            rows = R.kv_round(rows[:, None, :], self.kv_dtype)[:, 0, :]
            cached = cache["rows"][li] = np.concatenate([cache["rows"][li], rows], axis=0)
            x = x + self._attend(L, q, cached, start) @ L.wo.T
            x = self._ffn(L, x)
        cache["n"] = start + x.shape[0]
        return self._logits(x)
