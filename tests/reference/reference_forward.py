#!/usr/bin/env python3
"""Independent float64 reference of the llama / qwen2 / qwen3 / qwen3moe / phi3 / glm4 / granite / gpt-oss / gemma2 /
gemma3 forward pass (GGUF); deepseek2's (multi-head latent attention) in reference_mla.py, which Model hands
such a file to. The file's hyperparameters (HParams, RoPE scaling) are read in reference_hparams.py.

Python standard library + numpy only.  Weights are the file's values
dequantized to float32 (gguf_reader), then computed on in float64.

Architecture, as llama.cpp defines it for GGUF:

    x = token_embd[token]                                   token_embd: [vocab, dim]
    for each layer:
        h = rmsnorm(x) * attn_norm
        q = Wq h (+ bq)   k = Wk h (+ bk)   v = Wv h (+ bv)   biases: qwen2 always, llama if present
            Wq: [n_head * head_dim, dim], Wk/Wv: [n_head_kv * head_dim, dim];
            head_dim = attention.key_length (default dim / n_head)
        qwen3: each head of q and k = rmsnorm(head) * attn_q_norm / attn_k_norm  [head_dim]
        q, k = rope(q, pos), rope(k, pos)
            llama: "normal" mode, rotates ADJACENT pairs (2i, 2i+1)
            qwen2, qwen3: NeoX mode, rotates pairs (i, i + n_rot/2)
            theta_i = pos * freq_scale * freq_base^(-2i/n_rot) / factor_i
                (n_rot = rope.dimension_count, default head_dim; dims >= n_rot are
                not rotated; llama only: freq_scale = 1 / rope.scaling.factor for
                rope.scaling.type linear (the default type), factor_i from the
                rope_freqs.weight tensor, or for rope.scaling.type llama3 Meta's
                Llama 3 formula from factor, original_context_length and the
                low/high frequency factors; any arch but gemma2: rope.scaling.type
                yarn, Hugging Face's _compute_yarn_parameters (beta_fast 32,
                beta_slow 1), cos and sin times 1 + 0.1 ln factor; cos and sin
                times rope.scaling.attn_factor)
        attention: causal, scale 1/sqrt(head_dim), query head h reads kv head
                   h // (n_head / n_head_kv)
        x = x + Wo attn                                      Wo: [dim, n_head * head_dim]
        h = rmsnorm(x) * ffn_norm
        x = x + Wdown (silu(Wgate h) * (Wup h))
    logits = Wout (rmsnorm(x) * output_norm), Wout = output.weight or token_embd.weight

Mixtures of experts (qwen3moe; llama with <arch>.expert_count, Mixtral's form), as
llama.cpp's build_moe_ffn with softmax gating and normalized weights:
    p = softmax(Wr h)                                        Wr: ffn_gate_inp [experts, dim]
    the token's k = expert_used_count experts of the highest p (lower id first
    among equals), w_e = p_e / max(sum of their p, 2^-14)
    ffn(h) = sum_e w_e Wdown_e (silu(Wgate_e h) * (Wup_e h))  the _exps stacks [experts, ...]
    (an expert is expert_feed_forward_length wide for qwen3moe, else feed_forward_length /
    expert_used_count; feed_forward_length for llama)
Qwen2-MoE (qwen2moe), as llama.cpp's src/models/qwen2moe.cpp: qwen2's layer, the
experts' weights w_e = p_e (not renormalized), and a shared expert every token goes to:
    ffn(h) += sigmoid(g . h) Wdown_s (silu(Wgate_s h) * (Wup_s h))
    g: ffn_gate_inp_shexp [dim]; the _shexp matrices expert_shared_feed_forward_length wide
    (feed_forward_length where the key is absent or 0)
granitemoe files with expert_shared_feed_forward_length (granitemoeshared's) add the
shared expert's output without the sigmoid.
GLM-4.5 (glm4moe), as llama.cpp's src/models/glm4-moe.cpp: NeoX RoPE over the first
rope.dimension_count dimensions of each head, q/k/v biases where the file has them, the
feed-forward's norm named post_attention_norm; the first leading_dense_block_count layers
dense, the others
    p = sigmoid(Wr h); the k experts of the highest p + b (b: exp_probs_b.bias)
    w_e = p_e (/ their sum where expert_weights_norm) * expert_weights_scale (0: 1)
    ffn(h) = sum_e w_e expert_e(h) + shared(h), the shared expert expert_shared_count
             experts wide;
block_count counts nextn_predict_layers trailing layers, which are not run.

Phi-3 (phi3), as llama.cpp's src/models/phi3.cpp builds it: llama's layer
with NeoX RoPE; Wq, Wk, Wv the rows of blk.N.attn_qkv (in that order) when
the file has it; Wgate, Wup the first and second halves of the rows of
ffn_up; LongRoPE: factor_i from rope_factors_long when context_length
exceeds rope.scaling.original_context_length, else rope_factors_short, and
cos and sin times rope.scaling.attn_factor.

Granite (granite), as llama.cpp's src/models/granite.cpp builds it: llama's
layer, the embeddings times embedding_scale, attention scores times
attention.scale instead of 1/sqrt(head_dim), each block's output times
residual_scale before its residual add, the logits divided by logit_scale;
granitemoe the same with Mixtral's experts (feed_forward_length wide).

GLM-4 (glm4), as llama.cpp's src/models/glm4.cpp builds it: llama's
adjacent-pair RoPE over the first rope.dimension_count dimensions of each
head; Wq, Wk, Wv and their biases (optional) apart or the rows of attn_qkv
and attn_qkv.bias; gate and up as Phi-3's; the attention's and the
feed-forward's outputs RMSNormed (post_attention_norm, post_ffw_norm)
before their residual adds, as Gemma's.

Gemma 3 (gemma3), as llama.cpp's src/models/gemma3.cpp builds it:
    x = token_embd[token] * sqrt(dim)
    q/k heads normed as qwen3's, NeoX RoPE
    layer l is local when attention.sliding_window is given and
        l % p < p - 1 (p = attention.sliding_window_pattern, default 6; an
        array of bools instead says it per layer): a local layer's query at
        position i attends to keys i - sliding_window + 1 .. i only, its RoPE
        base is rope.freq_base_swa (default 10000) and unscaled; global
        layers use rope.freq_base and rope.scaling (linear)
    queries scaled by 1/sqrt(head_dim), except with 62 layers (Gemma 3 27B):
        1/sqrt(dim / n_head)
    x = x + rmsnorm(Wo attn) * post_attention_norm
    h = rmsnorm(x) * ffn_norm
    x = x + rmsnorm(Wdown (gelu(Wgate h) * (Wup h))) * post_ffw_norm,
        gelu(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))

GPT-OSS (gpt-oss), as llama.cpp's src/models/openai-moe-iswa.cpp builds it:
    NeoX RoPE (rope.scaling as any arch's, on every layer), q/k/v biases
    layer l is local when l % p < p - 1 (p = attention.sliding_window_pattern,
        default 2): it attends to the last attention.sliding_window (default
        128) keys, its RoPE the global layers' (base rope.freq_base_swa,
        default rope.freq_base)
    attention: each query head's softmax has one logit more, attn_sinks[head],
        with no value: p_j = e^(s_j) / (e^sink + sum_i e^(s_i))
    x = x + (Wo attn + attn_output.bias)
    h = rmsnorm(x) * post_attention_norm        (the feed-forward's norm)
    router logits r = Wrouter h + ffn_gate_inp.bias; the expert_used_count
        highest (the lower id first among equals), w = softmax of those r
    ffn(h) = sum_e w_e (Wdown_e a_e + bdown_e),
        g = Wgate_e h + bgate_e, u = Wup_e h + bup_e,
        a = min(g, 7) sigmoid(1.702 min(g, 7)) (clamp(u, -7, 7) + 1)

rmsnorm(x) = x / sqrt(mean(x^2) + eps)

Command line:
    python3 reference_forward.py MODEL.gguf --prompt-tokens 1,2,3 --steps 64 [--stop-at-end] \
        [--json] [--json-k K] [--logits-out FILE.npy] [--prefill-logits-out FILE.npy]
    python3 reference_forward.py MODEL.gguf --prompt-tokens 0 --end-ids
"""

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import (GGUFReader, T_INT8, T_INT16, T_INT32, T_INT64, T_UINT8, T_UINT16,  # noqa: E402
                         T_UINT32, T_UINT64)
# what the file's metadata says (reference_mla reads yarn_inv_freq from here too)
from reference_hparams import SUPPORTED_ARCHS, HParams, llama3_rope_factors, yarn_inv_freq  # noqa: E402,F401


def softmax_sink(s, sink=None):
    """Row-wise softmax of s (rows of scores, -inf masked); with a sink (a
    logit with no value, gpt-oss's) in each row's sum."""
    top = s.max(axis=1, keepdims=True)
    if sink is not None:
        top = np.maximum(top, sink)
    p = np.exp(s - top)
    total = p.sum(axis=1, keepdims=True) + (np.exp(sink - top) if sink is not None else 0.0)
    return p / total


def rms_norm(x, w, eps):
    """x: (..., dim), w: (dim,)."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu(x):
    """GELU's tanh form (Gemma's gelu_pytorch_tanh)."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softcap(x, cap):
    """Gemma 2's soft-cap c tanh(x / c); cap 0: x."""
    return cap * np.tanh(x / cap) if cap else x


def rope(x, positions, n_rot, freq_base, neox, freq_scale=1.0, factors=None, inv_freq=None, mscale=1.0):
    """x: (T, n_heads, head_dim); positions: (T,).  Returns a rotated copy.
    inv_freq, when given, replaces the frequencies (YaRN's); cos and sin are
    times mscale."""
    x = x.copy()
    half = n_rot // 2
    if inv_freq is None:
        inv_freq = freq_scale * freq_base ** (-2.0 * np.arange(half, dtype=np.float64) / n_rot)  # (half,)
        if factors is not None:
            inv_freq = inv_freq / factors
    theta = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]  # (T, half)
    cos = mscale * np.cos(theta)[:, None, :]
    sin = mscale * np.sin(theta)[:, None, :]
    if neox:
        a = x[..., 0:half].copy()
        b = x[..., half:n_rot].copy()
        x[..., 0:half] = a * cos - b * sin
        x[..., half:n_rot] = a * sin + b * cos
    else:
        a = x[..., 0:n_rot:2].copy()
        b = x[..., 1:n_rot:2].copy()
        x[..., 0:n_rot:2] = a * cos - b * sin
        x[..., 1:n_rot:2] = a * sin + b * cos
    return x


# Texts of the control tokens that end a generation besides EOS/EOT/EOM
# (llama.cpp's special_eog_ids, the subset xinf's tokenizer knows).
END_MARKERS = ("<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end_of_text|>",
               "<|endoftext|>", "<end_of_turn>", "</s>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
               "<|end|>")
_INTEGER_TYPES = (T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_UINT64, T_INT64)
CONTROL = 3


def end_of_generation_ids(reader):
    """The ids that end a generation, in the order EOS, EOT, EOM, markers.

    tokenizer.ggml.{eos,eot,eom}_token_id of any integer type, when inside
    the vocabulary (others are ignored), then the first token whose text is
    one of END_MARKERS, when tokenizer.ggml.token_type types it control (or
    there are no token types).  Written from the rule, not from xinf's code."""
    tokens = reader.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, list):
        return []
    types = reader.get("tokenizer.ggml.token_type")
    types = types if isinstance(types, list) and len(types) == len(tokens) else None
    ids = []
    for name in ("eos", "eot", "eom"):
        key = "tokenizer.ggml.%s_token_id" % name
        if reader.metadata_types.get(key) in _INTEGER_TYPES:
            value = int(reader.get(key))
            if 0 <= value < len(tokens) and value not in ids:
                ids.append(value)
    first = {}
    for i, text in enumerate(tokens):
        first.setdefault(text, i)
    for text in END_MARKERS:
        i = first.get(text)
        if i is not None and i not in ids and (types is None or types[i] == CONTROL):
            ids.append(i)
    return ids


class Layer:
    pass


def kv_round(x, kv_dtype):
    """Keys or values [T, heads, head_dim] as a KV cache of kv_dtype holds
    them: "f16" each float32 value to the nearest half; "q8_0" each head's
    blocks of 32 float32 values as d = max |x| / 127 (a half) and
    q = round (x / d) half away from zero, x = d q; "f32" unchanged."""
    if kv_dtype == "f32":
        return x
    x32 = x.astype(np.float32)
    if kv_dtype == "f16":
        return x32.astype(np.float16).astype(np.float64)
    blocks = x32.reshape(-1, 32)
    d = (np.max(np.abs(blocks), axis=1, keepdims=True) / np.float32(127)).astype(np.float32)
    inverse = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    scaled = blocks * inverse
    q = np.sign(scaled) * np.floor(np.abs(scaled).astype(np.float64) + 0.5)    # exact, as roundf
    stored = d.astype(np.float16).astype(np.float64)
    return (stored * q).reshape(x.shape)


class Model:
    def __new__(cls, path, kv_dtype="f32", lora=None):
        """A deepseek2 file's model is reference_mla's MLAModel (multi-head latent attention)."""
        if cls is Model and GGUFReader(str(path)).get("general.architecture") == "deepseek2":
            import reference_mla
            model = object.__new__(reference_mla.MLAModel)
            if not isinstance(model, cls):     # run as a script: reference_mla's Model is another class
                model.__init__(path, kv_dtype, lora)
            return model
        return object.__new__(cls)

    def __init__(self, path, kv_dtype="f32", lora=None):
        """kv_dtype "f16": the KV cache holds keys and values as IEEE halves
        (each value rounded to float32, then to nearest even), as xinf's
        and llama.cpp's caches do by default; "q8_0": as ggml's Q8_0
        blocks (kv_round); "f32": unrounded. lora: a LoRA adapter file
        (llama.cpp's GGUF form) merged into the weights, W + scale B A,
        scale = alpha / rank (1 when alpha is 0)."""
        self.path = str(path)
        if kv_dtype not in ("f32", "f16", "q8_0"):
            raise ValueError("kv_dtype must be f32, f16 or q8_0")
        self.kv_dtype = kv_dtype
        r = GGUFReader(self.path)
        self.reader = r
        hp = HParams(r)
        self.hp = hp

        def w(name, shape):
            if not r.has_tensor(name):
                raise ValueError("%s: missing tensor %s" % (self.path, name))
            t = r.tensor(name).astype(np.float64)
            if t.shape != tuple(shape):
                raise ValueError("%s: tensor %s has shape %r, expected %r"
                                 % (self.path, name, t.shape, tuple(shape)))
            return t

        self.embd = r.tensor("token_embd.weight").astype(np.float64)
        if self.embd.ndim != 2 or self.embd.shape[1] != hp.dim:
            raise ValueError("%s: token_embd.weight shape %r, expected (vocab, %d)"
                             % (self.path, self.embd.shape, hp.dim))
        self.vocab = self.embd.shape[0]
        qd = hp.n_head * hp.head_dim
        kvd = hp.n_head_kv * hp.head_dim
        self.layers = []
        for i in range(hp.n_layers):
            p = "blk.%d." % i
            L = Layer()
            L.attn_norm = w(p + "attn_norm.weight", (hp.dim,))
            fused = hp.fused and r.has_tensor(p + "attn_qkv.weight")
            if fused:
                qkv = w(p + "attn_qkv.weight", (qd + 2 * kvd, hp.dim))
                L.wq, L.wk, L.wv = qkv[:qd], qkv[qd:qd + kvd], qkv[qd + kvd:]
            else:
                L.wq = w(p + "attn_q.weight", (qd, hp.dim))
                L.wk = w(p + "attn_k.weight", (kvd, hp.dim))
                L.wv = w(p + "attn_v.weight", (kvd, hp.dim))
            # qwen2: q/k/v biases required; llama, glm4: optional (as in llama.cpp)
            if fused and r.has_tensor(p + "attn_qkv.bias"):
                b = w(p + "attn_qkv.bias", (qd + 2 * kvd,))
                L.bq, L.bk, L.bv = b[:qd], b[qd:qd + kvd], b[qd + kvd:]
            elif hp.qkv_bias or r.has_tensor(p + "attn_q.bias"):
                L.bq = w(p + "attn_q.bias", (qd,))
                L.bk = w(p + "attn_k.bias", (kvd,))
                L.bv = w(p + "attn_v.bias", (kvd,))
            else:
                L.bq = L.bk = L.bv = None
            if hp.qk_norm or (hp.glm_moe and r.has_tensor(p + "attn_q_norm.weight")):   # glm4moe: optional
                L.q_norm = w(p + "attn_q_norm.weight", (hp.head_dim,))
                L.k_norm = w(p + "attn_k_norm.weight", (hp.head_dim,))
            else:
                L.q_norm = L.k_norm = None
            L.wo = w(p + "attn_output.weight", (hp.dim, qd))
            # gpt-oss: attn_output's bias, the sinks, the feed-forward's norm by another name
            L.bo = w(p + "attn_output.bias", (hp.dim,)) if hp.oss else None
            L.sinks = w(p + "attn_sinks.weight", (hp.n_head,)) if hp.oss else None
            L.ffn_norm = w(p + ("post_attention_norm.weight" if hp.ffn_norm_post else "ffn_norm.weight"), (hp.dim,))
            L.expert_biases = None
            if hp.n_expert and i >= hp.dense_lead:
                E, F = hp.n_expert, hp.expert_ffn
                L.selection_bias = w(p + "exp_probs_b.bias", (E,)) if hp.glm_moe else None
                L.router = w(p + "ffn_gate_inp.weight", (E, hp.dim))
                L.gate_exps = w(p + "ffn_gate_exps.weight", (E, F, hp.dim))
                L.up_exps = w(p + "ffn_up_exps.weight", (E, F, hp.dim))
                L.down_exps = w(p + "ffn_down_exps.weight", (E, hp.dim, F))
                if hp.oss:
                    L.expert_biases = (w(p + "ffn_gate_inp.bias", (E,)), w(p + "ffn_gate_exps.bias", (E, F)),
                                       w(p + "ffn_up_exps.bias", (E, F)), w(p + "ffn_down_exps.bias", (E, hp.dim)))
                L.shared = None
                if hp.shared_ffn:
                    S = hp.shared_ffn
                    L.shared = (w(p + "ffn_gate_shexp.weight", (S, hp.dim)), w(p + "ffn_up_shexp.weight", (S, hp.dim)),
                                w(p + "ffn_down_shexp.weight", (hp.dim, S)),
                                w(p + "ffn_gate_inp_shexp.weight", (hp.dim,)) if hp.shared_gated else None)
            elif hp.fused:
                L.router = None
                up = w(p + "ffn_up.weight", (2 * hp.ffn, hp.dim))
                L.wgate, L.wup = up[:hp.ffn], up[hp.ffn:]
                L.wdown = w(p + "ffn_down.weight", (hp.dim, hp.ffn))
            else:
                L.router = None
                L.wgate = w(p + "ffn_gate.weight", (hp.ffn, hp.dim))
                L.wup = w(p + "ffn_up.weight", (hp.ffn, hp.dim))
                L.wdown = w(p + "ffn_down.weight", (hp.dim, hp.ffn))
            if hp.post_norms:
                L.post_attn_norm = w(p + "post_attention_norm.weight", (hp.dim,))
                L.post_ffn_norm = w(p + "post_ffw_norm.weight", (hp.dim,))
            else:
                L.post_attn_norm = L.post_ffn_norm = None
            L.window = hp.windows[i]
            self.layers.append(L)
        self.output_norm = w("output_norm.weight", (hp.dim,))
        if lora:
            self._merge_lora(lora)
        self.end_ids = end_of_generation_ids(r)
        self.tied = not r.has_tensor("output.weight")
        self.output = self.embd if self.tied else w("output.weight", (self.vocab, hp.dim))

    LORA_TARGETS = {"attn_q": "wq", "attn_k": "wk", "attn_v": "wv", "attn_output": "wo",
                     "ffn_gate": "wgate", "ffn_up": "wup", "ffn_down": "wdown"}

    def _merge_lora(self, path):
        r = GGUFReader(str(path))
        if r.get("general.type") != "adapter" or r.get("adapter.type") != "lora":
            raise ValueError("%s: not a LoRA adapter" % path)
        alpha = float(r.get_float("adapter.lora.alpha", 0.0))

        def delta(name):
            a = r.tensor(name + ".lora_a").astype(np.float64)      # (rank, cols)
            b = r.tensor(name + ".lora_b").astype(np.float64)      # (rows, rank)
            return (alpha / a.shape[0] if alpha else 1.0) * (b @ a)

        # Phi-3's fused weights: the pair adapts the rows of each part
        fused = {"attn_qkv": ("wq", "wk", "wv"), "ffn_up": ("wgate", "wup")} if self.hp.arch == "phi3" else {}
        for i, L in enumerate(self.layers):
            for target, attrs in fused.items():
                name = "blk.%d.%s.weight" % (i, target)
                if r.has_tensor(name + ".lora_a"):
                    d, at = delta(name), 0
                    for attr in attrs:
                        rows = getattr(L, attr).shape[0]
                        setattr(L, attr, getattr(L, attr) + d[at:at + rows])
                        at += rows
            for target, attr in self.LORA_TARGETS.items():
                name = "blk.%d.%s.weight" % (i, target)
                if target in fused or not r.has_tensor(name + ".lora_a"):
                    continue
                setattr(L, attr, getattr(L, attr) + delta(name))

    # -- pieces ------------------------------------------------------------
    def _embed(self, tokens):
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab):
            raise ValueError("token id out of range [0, %d): %r" % (self.vocab, tokens.tolist()))
        x = self.embd[tokens]
        if self.hp.embedding_scale:
            return x * self.hp.embedding_scale
        return x * math.sqrt(self.hp.dim) if self.hp.gemma else x

    def _qkv(self, L, h, positions):
        hp = self.hp
        T = h.shape[0]
        q = h @ L.wq.T
        k = h @ L.wk.T
        v = h @ L.wv.T
        if L.bq is not None:
            q = q + L.bq
            k = k + L.bk
            v = v + L.bv
        q = q.reshape(T, hp.n_head, hp.head_dim)
        k = k.reshape(T, hp.n_head_kv, hp.head_dim)
        if L.q_norm is not None:
            q = rms_norm(q, L.q_norm, hp.eps)
            k = rms_norm(k, L.k_norm, hp.eps)
        if L.window and not hp.oss:
            base, scale, factors, inv_freq, mscale = hp.freq_base_local, 1.0, None, None, 1.0
        elif L.window:      # gpt-oss: the global layers' RoPE, scaling included
            base, scale, factors = hp.freq_base_local, hp.freq_scale, hp.rope_factors
            inv_freq, mscale = hp.rope_inv_freq, hp.rope_mscale
        else:
            base, scale, factors = hp.freq_base, hp.freq_scale, hp.rope_factors
            inv_freq, mscale = hp.rope_inv_freq, hp.rope_mscale
        q = rope(q, positions, hp.n_rot, base, hp.neox, scale, factors, inv_freq, mscale)
        k = rope(k, positions, hp.n_rot, base, hp.neox, scale, factors, inv_freq, mscale)
        v = v.reshape(T, hp.n_head_kv, hp.head_dim)
        return q, k, v

    def _attn_out(self, L, x, out):
        """x plus the attention's output projection (normed first: gemma3)."""
        o = out.reshape(out.shape[0], -1) @ L.wo.T
        if L.bo is not None:
            o = o + L.bo
        if L.post_attn_norm is not None:
            o = rms_norm(o, L.post_attn_norm, self.hp.eps)
        return x + self.hp.residual_scale * o

    def _experts_oss(self, L, h):
        """GPT-OSS's experts: biased router, the softmax of the chosen logits, biased experts, clamped SwiGLU."""
        hp = self.hp
        router_b, gate_b, up_b, down_b = L.expert_biases
        logits = h @ L.router.T + router_b                          # (T, E)
        out = np.zeros_like(h)
        for t in range(h.shape[0]):
            chosen = np.argsort(-logits[t], kind="stable")[:hp.n_expert_used]
            weights = np.exp(logits[t, chosen] - logits[t, chosen].max())
            weights /= weights.sum()
            for e, wt in zip(chosen, weights):
                g = np.minimum(L.gate_exps[e] @ h[t] + gate_b[e], 7.0)
                u = np.clip(L.up_exps[e] @ h[t] + up_b[e], -7.0, 7.0)
                a = g / (1.0 + np.exp(-1.702 * g)) * (u + 1.0)
                out[t] += wt * (L.down_exps[e] @ a + down_b[e])
        return out

    def _experts(self, L, h):
        """A mixture of experts' output for each row of h."""
        hp = self.hp
        if L.expert_biases is not None:
            return self._experts_oss(L, h)
        logits = h @ L.router.T                                     # (T, E)
        if hp.glm_moe:
            p = 1.0 / (1.0 + np.exp(-logits))
        else:
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
        keys = p + L.selection_bias if hp.glm_moe else p
        out = np.zeros_like(h)
        for t in range(h.shape[0]):
            chosen = np.argsort(-keys[t], kind="stable")[:hp.n_expert_used]
            weights = p[t, chosen] / (max(p[t, chosen].sum(), 2.0 ** -14) if hp.normalize else 1.0)
            weights = weights * (hp.expert_scale or 1.0)
            for e, wt in zip(chosen, weights):
                g = L.gate_exps[e] @ h[t]
                u = L.up_exps[e] @ h[t]
                out[t] += wt * (L.down_exps[e] @ (silu(g) * u))
        if L.shared is not None:
            gate, up, down, router = L.shared
            f = (silu(h @ gate.T) * (h @ up.T)) @ down.T               # (T, dim)
            if router is not None:
                f = f / (1.0 + np.exp(-(h @ router)))[:, None]
            out += f
        return out

    def _ffn(self, L, x):
        h = rms_norm(x, L.ffn_norm, self.hp.eps)
        act = gelu if self.hp.gemma else silu
        if L.router is not None:
            return x + self.hp.residual_scale * self._experts(L, h)
        f = (act(h @ L.wgate.T) * (h @ L.wup.T)) @ L.wdown.T
        if L.post_ffn_norm is not None:
            f = rms_norm(f, L.post_ffn_norm, self.hp.eps)
        return x + self.hp.residual_scale * f

    def _logits(self, x):
        logits = rms_norm(x, self.output_norm, self.hp.eps) @ self.output.T / self.hp.logit_scale
        return softcap(logits, self.hp.final_softcap)

    # -- full sequence (explicit causal mask) -------------------------------
    def forward(self, tokens):
        """Logits (T, vocab) float64 for every position of `tokens` (positions 0..T-1)."""
        hp = self.hp
        x = self._embed(tokens)
        T = x.shape[0]
        if T == 0:
            return np.zeros((0, self.vocab))
        pos = np.arange(T)
        group = hp.n_head // hp.n_head_kv
        causal = np.triu(np.full((T, T), -np.inf), k=1)  # [query, key]
        scale = hp.query_scale
        for L in self.layers:
            mask = causal
            if L.window:   # keys more than window - 1 positions back are out
                mask = causal + np.tril(np.full((T, T), -np.inf), k=-L.window)
            h = rms_norm(x, L.attn_norm, hp.eps)
            q, k, v = self._qkv(L, h, pos)
            out = np.empty((T, hp.n_head, hp.head_dim))
            for hd in range(hp.n_head):
                kv = hd // group
                s = softcap((q[:, hd, :] @ k[:, kv, :].T) * scale, hp.attn_softcap) + mask
                p = softmax_sink(s, L.sinks[hd] if L.sinks is not None else None)
                out[:, hd, :] = p @ v[:, kv, :]
            x = self._attn_out(L, x, out)
            x = self._ffn(L, x)
        return self._logits(x)

    # -- incremental (KV cache) ----------------------------------------------
    def new_cache(self):
        return {"n": 0,
                "k": [np.zeros((0, self.hp.n_head_kv, self.hp.head_dim)) for _ in self.layers],
                "v": [np.zeros((0, self.hp.n_head_kv, self.hp.head_dim)) for _ in self.layers]}

    def step(self, tokens, cache):
        """Append `tokens` at positions cache['n']..; returns their logits (len, vocab)."""
        hp = self.hp
        x = self._embed(tokens)
        T = x.shape[0]
        start = cache["n"]
        pos = np.arange(start, start + T)
        group = hp.n_head // hp.n_head_kv
        scale = hp.query_scale
        for li, L in enumerate(self.layers):
            h = rms_norm(x, L.attn_norm, hp.eps)
            q, k, v = self._qkv(L, h, pos)
            k, v = kv_round(k, self.kv_dtype), kv_round(v, self.kv_dtype)
            K = cache["k"][li] = np.concatenate([cache["k"][li], k], axis=0)
            V = cache["v"][li] = np.concatenate([cache["v"][li], v], axis=0)
            out = np.empty((T, hp.n_head, hp.head_dim))
            for t in range(T):
                n_keys = start + t + 1  # causal: keys 0..pos
                first = max(0, n_keys - L.window) if L.window else 0  # a local layer's window
                for hd in range(hp.n_head):
                    kv = hd // group
                    s = softcap(K[first:n_keys, kv, :] @ q[t, hd, :] * scale, hp.attn_softcap)
                    p = softmax_sink(s[None, :], L.sinks[hd] if L.sinks is not None else None)[0]
                    out[t, hd, :] = p @ V[first:n_keys, kv, :]
            x = self._attn_out(L, x, out)
            x = self._ffn(L, x)
        cache["n"] = start + T
        return self._logits(x)

    def greedy(self, prompt_tokens, steps, stop_at_end=False):
        """Greedy decoding.  Step i's logits are those after the last token fed
        (the prompt's last token for step 0); its token is argmax (lowest id on
        ties).  With stop_at_end, generation ends after the first token in
        self.end_ids (which is returned), as a server's does.  Returns
        (generated ids, [logits vector per step])."""
        prompt_tokens = list(prompt_tokens)
        if not prompt_tokens:
            raise ValueError("empty prompt")
        cache = self.new_cache()
        last = self.step(prompt_tokens, cache)[-1]
        ids, logits = [], []
        for i in range(steps):
            tok = int(np.argmax(last))
            ids.append(tok)
            logits.append(last)
            if stop_at_end and tok in self.end_ids:
                break
            if i + 1 < steps:
                last = self.step([tok], cache)[-1]
        return ids, logits


def _main(argv):
    ap = argparse.ArgumentParser(description="float64 reference forward pass for llama/qwen2/qwen3/qwen3moe/gemma3 GGUF")
    ap.add_argument("model")
    ap.add_argument("--prompt-tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--stop-at-end", action="store_true",
                    help="stop after the first end-of-generation token (EOS, EOT, EOM, end markers)")
    ap.add_argument("--end-ids", action="store_true", help="print the end-of-generation ids and exit")
    ap.add_argument("--json", action="store_true",
                    help='print {"tokens": [...], "logits": [[...]], "end_ids": [...]}')
    ap.add_argument("--json-k", type=int, default=16,
                    help="logits per step in JSON: the first K values (0 = all)")
    ap.add_argument("--logits-out", help="save the per-step logits, float64 (steps, vocab), to .npy")
    ap.add_argument("--lora", help="a LoRA adapter (GGUF) merged into the weights")
    ap.add_argument("--prefill-logits-out",
                    help="save forward() logits of the prompt, float64 (len, vocab), to .npy")
    a = ap.parse_args(argv)
    try:
        prompt = [int(t) for t in a.prompt_tokens.split(",") if t.strip() != ""]
    except ValueError:
        ap.error("--prompt-tokens: expected comma-separated integers")
    if a.steps < 0:
        ap.error("--steps must be >= 0")
    try:
        if a.end_ids:
            print(" ".join(str(t) for t in end_of_generation_ids(GGUFReader(a.model))))
            return 0
        m = Model(a.model, lora=a.lora)
        ids, logits = m.greedy(prompt, a.steps, stop_at_end=a.stop_at_end)
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    if a.logits_out:
        np.save(a.logits_out, np.array(logits, dtype=np.float64).reshape(len(logits), m.vocab))
    if a.prefill_logits_out:
        np.save(a.prefill_logits_out, m.forward(prompt))
    if a.json:
        k = a.json_k if a.json_k > 0 else m.vocab
        print(json.dumps({"tokens": ids, "logits": [[float(v) for v in l[:k]] for l in logits],
                          "end_ids": m.end_ids}))
    else:
        print(" ".join(str(t) for t in ids))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
