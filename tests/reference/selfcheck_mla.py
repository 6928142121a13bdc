"""deepseek2's part of the reference's self-check (test_reference_selfcheck.py runs it).

Writes tiny deepseek2 files (its minimal GGUF writer) from Hugging Face's
tensors as DeepSeek's checkpoints hold them (kv_b_proj whole, q_a/q_b or
q_proj, kv_a_proj_with_mqa, the gate's e_score_correction_bias), split as
convert_hf_to_gguf.py splits kv_b_proj (attn_k_b: each head's key rows
transposed, attn_v_b: its value rows), and checks reference_mla's MLAModel
against an independent formulation written here from the Hugging Face code:
a per-position loop over the ABSORBED attention (each head's query nope part
taken through its kv_b_proj key rows into the latent, scores against the
cached latents, the weighted latent through the value rows: llama.cpp's form,
not the reference's decompressed one), RoPE as Hugging Face's
DeepseekV2/V3 code does it (the q_pe/k_pe dimensions de-interleaved, then
rotate_half), its YaRN frequencies and mscale, V3's grouped routing by
masking and top-k; and the llama.cpp choices the reference follows where the
two differ (-inf for the masked groups, the score scale without
yarn_log_multiplier). Also the KV cache against forward(), greedy against
argmax, and a cache of halves (the latent and the turned k_pe rounded)
against the independent pass rounding the same values.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np

import reference_forward as R

DIM, HEADS, NOPE, ROPE, VDIM, KV_LORA, Q_LORA, FFN = 64, 4, 16, 8, 20, 32, 48, 96
EXPERTS, USED, EFFN, VOCAB = 8, 2, 32, 97

# name, q latent (None: no key), gating (None: no key), bias, groups (count, used), norm, scale, yarn (factor,
# original context, mscale_all_dim or None), dense lead, shared experts, layers, nextn, tied
CONFIGS = [
    ("v2-softmax", Q_LORA, 1, False, None, False, 16.0, None, 1, 1, 3, 0, False),
    ("v3-groups-yarn", 0, 2, True, (4, 2), True, 2.5, (4.0, 16, 1.0), 1, 1, 3, 1, True),
    ("lite-yarn-nolog", None, None, False, None, False, 0.0, (8.0, 8, None), 2, 2, 3, 0, False),
    ("v3-f16-groups", Q_LORA, 2, True, (2, 1), True, 1.0, (4.0, 16, 0.707), 1, 1, 3, 0, False),
]


def hf_weights(rng, cfg, half):
    """Hugging Face's tensors (float32, halves' values where 'half'), keyed by their GGUF names but kv_b
    kept whole (blk.N.kv_b)."""
    name, q_lora, _, bias, groups, _, _, _, dense, shared, layers, _, tied = cfg

    def mat(o, i, gain=1.0):
        m = (gain * rng.standard_normal((o, i)) / math.sqrt(i)).astype(np.float32)
        return m.astype(np.float16).astype(np.float32) if half else m

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    embd = (0.5 * rng.standard_normal((VOCAB, DIM))).astype(np.float32)
    w = {"token_embd.weight": embd.astype(np.float16).astype(np.float32) if half else embd}
    for i in range(layers):
        p = "blk.%d." % i
        w[p + "attn_norm.weight"] = norm(DIM)
        if q_lora:
            w[p + "attn_q_a.weight"] = mat(q_lora, DIM, 2.0)
            w[p + "attn_q_a_norm.weight"] = norm(q_lora)
            w[p + "attn_q_b.weight"] = mat(HEADS * (NOPE + ROPE), q_lora, 2.0)
        else:
            w[p + "attn_q.weight"] = mat(HEADS * (NOPE + ROPE), DIM, 2.0)
        w[p + "attn_kv_a_mqa.weight"] = mat(KV_LORA + ROPE, DIM, 2.0)
        w[p + "attn_kv_a_norm.weight"] = norm(KV_LORA)
        w[p + "kv_b"] = mat(HEADS * (NOPE + VDIM), KV_LORA, 2.0)          # kv_b_proj: per head nope rows, then v
        w[p + "attn_output.weight"] = mat(DIM, HEADS * VDIM)
        w[p + "ffn_norm.weight"] = norm(DIM)
        if i < dense:
            w[p + "ffn_gate.weight"] = mat(FFN, DIM)
            w[p + "ffn_up.weight"] = mat(FFN, DIM)
            w[p + "ffn_down.weight"] = mat(DIM, FFN)
            continue
        w[p + "ffn_gate_inp.weight"] = mat(EXPERTS, DIM, 3.0)
        if bias:
            # keys below 0 too, so that the masked groups' -inf (llama.cpp's; Hugging Face's V3 fills 0) shows
            w[p + "exp_probs_b.bias"] = (0.6 * rng.standard_normal(EXPERTS) - 0.6).astype(np.float32)
        w[p + "ffn_gate_exps.weight"] = np.stack([mat(EFFN, DIM) for _ in range(EXPERTS)])
        w[p + "ffn_up_exps.weight"] = np.stack([mat(EFFN, DIM) for _ in range(EXPERTS)])
        w[p + "ffn_down_exps.weight"] = np.stack([mat(DIM, EFFN) for _ in range(EXPERTS)])
        w[p + "ffn_gate_shexp.weight"] = mat(EFFN * shared, DIM)
        w[p + "ffn_up_shexp.weight"] = mat(EFFN * shared, DIM)
        w[p + "ffn_down_shexp.weight"] = mat(DIM, EFFN * shared)
    w["output_norm.weight"] = norm(DIM)
    if not tied:
        w["output.weight"] = mat(VOCAB, DIM, 2.0)
    return w


def write_file(path, cfg, w, write_gguf, VT):
    """The GGUF as convert_hf_to_gguf.py's DeepseekV2Model writes it."""
    name, q_lora, gating, bias, groups, norm_w, scale, yarn, dense, shared, layers, nextn, tied = cfg
    a, u, f = "deepseek2", VT["u32"], VT["f32"]
    kvs = [("general.architecture", VT["str"], a), ("general.name", VT["str"], "selfcheck-" + name),
           (a + ".context_length", u, 256), (a + ".embedding_length", u, DIM), (a + ".block_count", u, layers + nextn),
           (a + ".feed_forward_length", u, FFN), (a + ".attention.head_count", u, HEADS),
           (a + ".attention.head_count_kv", u, 1), (a + ".rope.freq_base", f, 10000.0),
           (a + ".attention.layer_norm_rms_epsilon", f, 1e-6), (a + ".leading_dense_block_count", u, dense),
           (a + ".vocab_size", u, VOCAB), (a + ".attention.kv_lora_rank", u, KV_LORA),
           (a + ".attention.key_length", u, KV_LORA + ROPE), (a + ".attention.value_length", u, KV_LORA),
           (a + ".attention.key_length_mla", u, NOPE + ROPE), (a + ".attention.value_length_mla", u, VDIM),
           (a + ".expert_feed_forward_length", u, EFFN), (a + ".expert_count", u, EXPERTS),
           (a + ".expert_used_count", u, USED), (a + ".expert_shared_count", u, shared),
           (a + ".rope.dimension_count", u, ROPE),
           ("tokenizer.ggml.model", VT["str"], "gpt2"),
           ("tokenizer.ggml.tokens", VT["arr"], (VT["str"], ["<t%d>" % i for i in range(VOCAB)])),
           ("tokenizer.ggml.token_type", VT["arr"], (VT["i32"], [1] * VOCAB)),
           ("tokenizer.ggml.merges", VT["arr"], (VT["str"], []))]
    if q_lora is not None:
        kvs.append((a + ".attention.q_lora_rank", u, q_lora))
    if gating is not None:
        kvs.append((a + ".expert_gating_func", u, gating))
    if groups:
        kvs += [(a + ".expert_group_count", u, groups[0]), (a + ".expert_group_used_count", u, groups[1])]
    if norm_w:
        kvs.append((a + ".expert_weights_norm", VT["bool"], True))
    if scale:
        kvs.append((a + ".expert_weights_scale", f, scale))
    if nextn:
        kvs.append((a + ".nextn_predict_layers", u, nextn))
    if yarn:
        kvs += [(a + ".rope.scaling.type", VT["str"], "yarn"), (a + ".rope.scaling.factor", f, yarn[0]),
                (a + ".rope.scaling.original_context_length", u, yarn[1])]
        if yarn[2] is not None:
            kvs.append((a + ".rope.scaling.yarn_log_multiplier", f, 0.1 * yarn[2]))
    tname = "f16" if name.find("f16") >= 0 else "f32"
    tensors = []
    for key, value in w.items():
        if key.endswith("kv_b"):        # convert's split: k_b transposed per head, v_b as it is
            kv_b = value.reshape(HEADS, NOPE + VDIM, KV_LORA)
            k_b = np.ascontiguousarray(kv_b[:, :NOPE].transpose(0, 2, 1))
            tensors.append((key[:-4] + "attn_k_b.weight", tname, k_b))
            tensors.append((key[:-4] + "attn_v_b.weight", tname, np.ascontiguousarray(kv_b[:, NOPE:])))
        else:
            vector = value.ndim == 1 or key.endswith("ffn_gate_inp.weight")
            tensors.append((key, "f32" if vector else tname, value))
    write_gguf(path, kvs, tensors)


def hf_forward(w, cfg, tokens, kv_half=False):
    """The independent pass: one position at a time, absorbed attention, Hugging Face's RoPE and routing."""
    name, q_lora, gating, bias, groups, norm_w, scale, yarn, dense, shared, layers, nextn, tied = cfg
    W = {k: v.astype(np.float64) for k, v in w.items()}
    eps = float(np.float32(1e-6))
    dims = np.arange(0, ROPE, 2, dtype=np.float64)
    inv_freq, rope_m, kq = 1.0 / 10000.0 ** (dims / ROPE), 1.0, 1.0 / math.sqrt(NOPE + ROPE)
    if yarn:
        s, original, mscale_all = float(np.float32(yarn[0])), yarn[1], yarn[2]

        def corr(rot):
            return ROPE * math.log(original / (rot * 2 * math.pi)) / (2 * math.log(10000.0))

        low, high = max(math.floor(corr(32)), 0), min(math.ceil(corr(1)), ROPE - 1)
        ramp = np.clip((np.arange(ROPE // 2) - low) / ((high - low) or 0.001), 0, 1)
        inv_freq = inv_freq / s * ramp + inv_freq * (1 - ramp)
        if mscale_all is not None:      # Hugging Face: mscale over mscale_all_dim (1), softmax_scale m^2
            m = 0.1 * float(np.float32(0.1 * mscale_all)) / float(np.float32(0.1)) * math.log(s) + 1
            kq *= m * m
        else:                           # llama.cpp: cos and sin keep 1 + 0.1 ln s, the scale its square
            rope_m = 1 + 0.1 * math.log(s)
            kq *= rope_m * rope_m

    def rms(x, g):
        return g * x / math.sqrt(float(np.mean(x * x)) + eps)

    def rope_hf(x, pos):                # x (n, ROPE): de-interleave, then rotate_half
        x = x.reshape(-1, ROPE // 2, 2).transpose(0, 2, 1).reshape(-1, ROPE)
        ang = np.concatenate([pos * inv_freq, pos * inv_freq])
        rot = np.concatenate([-x[:, ROPE // 2:], x[:, :ROPE // 2]], axis=1)
        return rope_m * (x * np.cos(ang) + rot * np.sin(ang))

    def half(x):
        return x.astype(np.float32).astype(np.float16).astype(np.float64) if kv_half else x

    def swiglu(h, g, u, d):
        a = g @ h
        return d @ (a / (1 + np.exp(-a)) * (u @ h))

    caches = [([], []) for _ in range(layers)]
    out_w = W.get("output.weight", W["token_embd.weight"])
    result = []
    for pos, tok in enumerate(tokens):
        x = W["token_embd.weight"][tok].copy()
        for i in range(layers):
            p = "blk.%d." % i
            h = rms(x, W[p + "attn_norm.weight"])
            if q_lora:
                q = W[p + "attn_q_b.weight"] @ rms(W[p + "attn_q_a.weight"] @ h, W[p + "attn_q_a_norm.weight"])
            else:
                q = W[p + "attn_q.weight"] @ h
            q = q.reshape(HEADS, NOPE + ROPE)
            kv = W[p + "attn_kv_a_mqa.weight"] @ h
            latents, pes = caches[i]
            latents.append(half(rms(kv[:KV_LORA], W[p + "attn_kv_a_norm.weight"])))
            pes.append(half(rope_hf(kv[None, KV_LORA:], pos)[0]))
            C, PE = np.stack(latents), np.stack(pes)
            q_pe = rope_hf(q[:, NOPE:], pos)
            kv_b = W[p + "kv_b"].reshape(HEADS, NOPE + VDIM, KV_LORA)
            heads = []
            for hd in range(HEADS):
                absorbed = kv_b[hd, :NOPE].T @ q[hd, :NOPE]              # (KV_LORA,)
                s_ = (C @ absorbed + PE @ q_pe[hd]) * kq
                pr = np.exp(s_ - s_.max())
                heads.append(kv_b[hd, NOPE:] @ (pr @ C / pr.sum()))
            x = x + W[p + "attn_output.weight"] @ np.concatenate(heads)
            h = rms(x, W[p + "ffn_norm.weight"])
            if i < dense:
                x = x + swiglu(h, W[p + "ffn_gate.weight"], W[p + "ffn_up.weight"], W[p + "ffn_down.weight"])
                continue
            logits = W[p + "ffn_gate_inp.weight"] @ h
            scores = 1 / (1 + np.exp(-logits)) if gating == 2 else np.exp(logits) / np.exp(logits).sum()
            choice = scores + (W[p + "exp_probs_b.bias"] if bias else 0.0)
            if groups:                  # V3's: groups by the sum of their top two, the others out (-inf)
                g_scores = np.sort(choice.reshape(groups[0], -1), axis=1)[:, -2:].sum(axis=1)
                kept = np.zeros(groups[0], dtype=bool)
                kept[np.argsort(-g_scores, kind="stable")[:groups[1]]] = True
                choice = np.where(np.repeat(kept, EXPERTS // groups[0]), choice, -np.inf)
            top = sorted(range(EXPERTS), key=lambda e: (-choice[e], e))[:USED]
            weight = scores[top]
            if norm_w:
                weight = weight / max(weight.sum(), 6.103515625e-5)
            if scale and scale != 1.0:
                weight = weight * float(np.float32(scale))
            y = sum(wt * swiglu(h, W[p + "ffn_gate_exps.weight"][e], W[p + "ffn_up_exps.weight"][e],
                                W[p + "ffn_down_exps.weight"][e]) for e, wt in zip(top, weight))
            x = x + y + swiglu(h, W[p + "ffn_gate_shexp.weight"], W[p + "ffn_up_shexp.weight"],
                               W[p + "ffn_down_shexp.weight"])
        result.append(out_w @ rms(x, W["output_norm.weight"]))
    return np.array(result)


def run(tmp, write_gguf, VT, check, rel_err):
    """The checks; returns (files checked, worst errors by name)."""
    rng = np.random.default_rng(2024)
    prompt, steps, worst = [3, 17, 42, 5], 24, {}
    for cfg in CONFIGS:
        name = cfg[0]
        w = hf_weights(rng, cfg, half="f16" in name)
        path = os.path.join(tmp, "mla-%s.gguf" % name)
        write_file(path, cfg, w, write_gguf, VT)
        m = R.Model(path)
        hp = m.hp
        check(type(m).__name__ == "MLAModel" and hp.n_layers == cfg[10] and (hp.q_lora or 0) == (cfg[1] or 0)
              and hp.sigmoid == (cfg[2] == 2) and hp.groups == (cfg[4][0] if cfg[4] else 0),
              "%s: hparams %r" % (name, hp))
        ids, logits = m.greedy(prompt, steps)
        seq = prompt + ids[:-1]
        full = m.forward(seq)
        for s in range(steps):
            check(int(np.argmax(full[len(prompt) - 1 + s])) == ids[s], "%s: greedy token %d != argmax" % (name, s))
        e_cache = rel_err(np.array(logits), full[len(prompt) - 1:])
        check(e_cache < 1e-10, "%s: KV cache vs forward rel err %.3g" % (name, e_cache))
        cache = m.new_cache()
        parts = [m.step(seq[:3], cache), m.step(seq[3:4], cache), m.step(seq[4:], cache)]
        e_chunk = rel_err(np.concatenate(parts), full)
        check(e_chunk < 1e-10, "%s: chunked cache vs forward rel err %.3g" % (name, e_chunk))
        e_ind = rel_err(full, hf_forward(w, cfg, seq))
        check(e_ind < 1e-9, "%s: forward vs the absorbed Hugging Face form rel err %.3g" % (name, e_ind))
        check(len(set(ids)) > 3, "%s: degenerate greedy output %r" % (name, ids[:10]))
        # a cache of halves: the latent and the turned k_pe rounded, nothing else
        half = R.Model(path, kv_dtype="f16")
        cache = half.new_cache()
        e_half = rel_err(half.step(seq, cache), hf_forward(w, cfg, seq, kv_half=True))
        moved = rel_err(half.step(seq, half.new_cache()), full)
        check(e_half < 1e-9 and moved > 1e-7, "%s: f16 cache vs the independent rounding rel err %.3g (moved %.3g)"
              % (name, e_half, moved))
        # sensitivity: NeoX pairs, or no selection bias, must show
        rope = R.rope
        R.rope = lambda x, p, n, b, neox, *rest: rope(x, p, n, b, True, *rest)
        e_neox = rel_err(m.forward(seq[:12]), full[:12])
        R.rope = rope
        check(e_neox > 1e-3, "%s: RoPE in NeoX halves gave the same logits (%.3g)" % (name, e_neox))
        if cfg[3]:
            for L in m.layers:
                L.selection_bias = None
            e_bias = rel_err(m.forward(seq), full)
            check(e_bias > 1e-3, "%s: the selection bias moves nothing (%.3g)" % (name, e_bias))
        worst[name] = max(e_cache, e_chunk, e_ind, e_half)
    # the scales as llama.cpp computes them (YaRN factor 4, mscale_all_dim 1; factor 8 without the key)
    yarn = R.Model(os.path.join(tmp, "mla-v3-groups-yarn.gguf")).hp
    want = (1 + 0.1 * math.log(4)) ** 2 / math.sqrt(NOPE + ROPE)
    check(abs(yarn.query_scale / want - 1) < 1e-6 and abs(yarn.rope_mscale - 1) < 1e-6,
          "YaRN with yarn_log_multiplier: scale %.6g (want %.6g), rope mscale %.6g" % (yarn.query_scale, want,
                                                                                       yarn.rope_mscale))
    # the command line: reference_forward.py run as a script hands the file to reference_mla too
    path = os.path.join(tmp, "mla-v2-softmax.gguf")
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "reference_forward.py"), path, "--prompt-tokens", "3,17,42",
                          "--steps", "8", "--json"], capture_output=True, text=True, timeout=60)
    check(out.returncode == 0 and json.loads(out.stdout)["tokens"] == R.Model(path).greedy([3, 17, 42], 8)[0],
          "the command line on a deepseek2 file: %s" % out.stderr[-500:])
    nolog = R.Model(os.path.join(tmp, "mla-lite-yarn-nolog.gguf")).hp
    check(abs(nolog.rope_mscale - (1 + 0.1 * math.log(8))) < 1e-6 and nolog.q_lora == 0 and not nolog.sigmoid,
          "YaRN without yarn_log_multiplier: rope mscale %.6g" % nolog.rope_mscale)
    return len(CONFIGS), worst
