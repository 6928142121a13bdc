#!/usr/bin/env python3
"""Self-check of the Python reference (gguf_reader + reference_forward).

Needs no xinf C code.  Writes its own tiny GGUF files with a minimal writer
(both archs x F32/F16/Q8_0/BF16, tied and untied, GQA and MHA, GGUF v2 and v3,
u32 and u64 hyperparameters, default and non-default alignment, rope.freq_base
absent or present), and checks:

  1. reader round trip: every metadata value and type (all 13 value types,
     arrays of numbers / strings / bools / nested arrays), every tensor's shape
     and values bit-exact against the writer's own dequantization, and within
     the type's quantization error of the original float32 values;
  2. the reader rejects malformed files (bad magic, bad version, truncation,
     tensors past the end, absurd declared counts) with ValueError;
  3. Model.forward (full sequence, explicit causal mask) against an independent
     formulation written here: per-position loop, GQA by repeating kv heads,
     RoPE with complex numbers (llama, adjacent pairs), and, for llama, again
     after un-permuting Wq/Wk to Hugging Face order with rotate_half (the
     permutation llama.cpp's converter applies); qwen2 with rotate_half;
  4. the KV-cache path (Model.step, token by token and in chunks) against
     forward(), and greedy(): its tokens equal argmax of forward() at every step
     and its per-step logits equal forward()'s rows;
  5. the command line (--json, --logits-out) agrees with greedy();
  6. quantized files (F16/BF16/Q8_0) stay near the F32 file with the same
     underlying weights (reported; loose bounds);
  7. deepseek2 (reference_mla.py) against an absorbed formulation from Hugging
     Face's tensors and RoPE (selfcheck_mla.py says what).

Exit 0 with a final line "PASS: ...", 1 with "FAIL: ...".
"""

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_reader as G  # noqa: E402
from reference_forward import Model, end_of_generation_ids  # noqa: E402

# ---------------------------------------------------------------------------
# minimal GGUF writer (independent of gguf_reader: own constants and packing)

VT = dict(u8=0, i8=1, u16=2, i16=3, u32=4, i32=5, f32=6, bool=7, str=8, arr=9, u64=10, i64=11, f64=12)
_PACK = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}
TY = dict(f32=0, f16=1, q8_0=8, bf16=30)


def _w_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _w_val(vtype, v):
    if vtype == 8:
        return _w_str(v)
    if vtype == 9:
        etype, items = v
        return struct.pack("<IQ", etype, len(items)) + b"".join(_w_val(etype, x) for x in items)
    return struct.pack(_PACK[vtype], v)


def quantize(x, tname):
    """Returns (bytes, float32 values the file now holds)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if tname == "f32":
        return x.tobytes(), x.copy()
    if tname == "f16":
        h = x.astype(np.float16)
        return h.tobytes(), h.astype(np.float32)
    if tname == "bf16":
        u = x.view(np.uint32).astype(np.uint64)
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
        deq = (r.astype(np.uint32) << 16).view(np.float32)
        return r.tobytes(), deq.reshape(x.shape)
    if tname == "q8_0":
        blocks = x.reshape(-1, 32)
        amax = np.abs(blocks).max(axis=1)
        d = amax / 127.0
        inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0).astype(np.float32)
        q = np.round(blocks * inv[:, None]).astype(np.int8)
        dh = d.astype(np.float16)
        raw = np.empty((blocks.shape[0], 34), dtype=np.uint8)
        raw[:, 0:2] = dh.view(np.uint8).reshape(-1, 2)
        raw[:, 2:] = q.view(np.uint8)
        deq = (dh.astype(np.float32)[:, None] * q.astype(np.float32)).reshape(x.shape)
        return raw.tobytes(), deq
    raise ValueError(tname)


def write_gguf(path, kvs, tensors, version=3, alignment=32):
    """kvs: [(key, vtype, value)]; tensors: [(name, type name, float32 array)].
    Returns {name: dequantized float32 array as stored}."""
    kvs = list(kvs)
    if alignment != 32:
        kvs.append(("general.alignment", VT["u32"], alignment))
    head = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)))
    for k, vt, v in kvs:
        head += _w_str(k) + struct.pack("<I", vt) + _w_val(vt, v)
    blobs, stored, off = [], {}, 0
    for name, tname, arr in tensors:
        raw, deq = quantize(arr, tname)
        stored[name] = deq
        ne = list(reversed(arr.shape))
        head += _w_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        head += struct.pack("<IQ", TY[tname], off)
        pad = (-len(raw)) % alignment
        blobs.append(raw + b"\0" * pad)
        off += len(raw) + pad
    head += b"\0" * ((-len(head)) % alignment)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
    return stored


# ---------------------------------------------------------------------------
# tiny models

DIM, LAYERS, HEADS, FFN, VOCAB = 64, 2, 4, 128, 97


def make_weights(arch, kv_heads, tied, seed, biases=None):
    rng = np.random.default_rng(seed)
    hd = DIM // HEADS
    kvd = kv_heads * hd

    def mat(o, i):
        return (rng.standard_normal((o, i)) / math.sqrt(i)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def bias(n):
        return (0.2 * rng.standard_normal(n)).astype(np.float32)

    # small embeddings: otherwise a tied model's residual stream keeps pointing
    # at the last token's own embedding and greedy just repeats it
    t = [("token_embd.weight", "M", (0.1 * rng.standard_normal((VOCAB, DIM))).astype(np.float32))]
    for i in range(LAYERS):
        p = "blk.%d." % i
        t.append((p + "attn_norm.weight", "V", norm(DIM)))
        t.append((p + "attn_q.weight", "M", 2.0 * mat(DIM, DIM)))
        t.append((p + "attn_k.weight", "M", 2.0 * mat(kvd, DIM)))
        t.append((p + "attn_v.weight", "M", mat(kvd, DIM)))
        if biases if biases is not None else arch == "qwen2":
            t.append((p + "attn_q.bias", "V", bias(DIM)))
            t.append((p + "attn_k.bias", "V", bias(kvd)))
            t.append((p + "attn_v.bias", "V", bias(kvd)))
        t.append((p + "attn_output.weight", "M", mat(DIM, DIM)))
        t.append((p + "ffn_norm.weight", "V", norm(DIM)))
        t.append((p + "ffn_gate.weight", "M", mat(FFN, DIM)))
        t.append((p + "ffn_up.weight", "M", mat(FFN, DIM)))
        t.append((p + "ffn_down.weight", "M", mat(DIM, FFN)))
    t.append(("output_norm.weight", "V", norm(DIM)))
    if not tied:
        t.append(("output.weight", "M", (2.0 * mat(VOCAB, DIM))))
    return t


def make_model_file(path, arch, tname, kv_heads, tied, seed, version=3, alignment=32,
                    int_type="u32", freq_base=None, eps=None, extra_kvs=(), biases=None):
    iv = VT[int_type]
    kvs = [("general.architecture", VT["str"], arch),
           ("general.name", VT["str"], "selfcheck-%s-%s" % (arch, tname)),
           ("general.file_type", VT["u32"], {"f32": 0, "f16": 1, "q8_0": 7, "bf16": 32}[tname]),
           ("%s.context_length" % arch, iv, 256),
           ("%s.embedding_length" % arch, iv, DIM),
           ("%s.block_count" % arch, iv, LAYERS),
           ("%s.feed_forward_length" % arch, iv, FFN),
           ("%s.attention.head_count" % arch, iv, HEADS),
           ("%s.attention.head_count_kv" % arch, iv, kv_heads),
           ("%s.rope.dimension_count" % arch, iv, DIM // HEADS)]
    if eps is not None:
        kvs.append(("%s.attention.layer_norm_rms_epsilon" % arch, VT["f32"], eps))
    if freq_base is not None:
        kvs.append(("%s.rope.freq_base" % arch, VT["f32"], freq_base))
    kvs += [("tokenizer.ggml.model", VT["str"], "gpt2"),
            ("tokenizer.ggml.tokens", VT["arr"], (VT["str"], ["<t%d>" % i for i in range(VOCAB)])),
            ("tokenizer.ggml.token_type", VT["arr"], (VT["i32"], [1] * VOCAB)),
            ("tokenizer.ggml.merges", VT["arr"], (VT["str"], [])),
            ("tokenizer.ggml.bos_token_id", VT["u32"], 1)]
    kvs += list(extra_kvs)
    w = make_weights(arch, kv_heads, tied, seed, biases)
    tensors = [(n, tname if kind == "M" else "f32", a) for n, kind, a in w]
    stored = write_gguf(path, kvs, tensors, version=version, alignment=alignment)
    return kvs, w, stored


# ---------------------------------------------------------------------------
# independent forward pass (deliberately different formulation)

def indep_forward(stored, arch, kv_heads, eps, freq_base, tokens, llama_mode="complex"):
    """Per-position loop, no cache object: at each position recompute q/k/v for
    the new token, keep a plain list of past keys/values, GQA by np.repeat.
    llama_mode: 'complex' (Meta order, complex multiplication on adjacent pairs)
    or 'hf' (un-permute Wq/Wk to HF order, rotate_half)."""
    W = {k: v.astype(np.float64) for k, v in stored.items()}
    hd = DIM // HEADS
    rep = HEADS // kv_heads
    inv = 1.0 / (freq_base ** (np.arange(0, hd, 2, dtype=np.float64) / hd))  # (hd/2,)

    def unpermute(w, n_head):
        # llama.cpp convert: permute(w) = w.reshape(n, 2, hd/2, in).swapaxes(1, 2).reshape
        # (HF -> Meta).  Inverse: Meta -> HF.
        return w.reshape(n_head, hd // 2, 2, -1).swapaxes(1, 2).reshape(w.shape)

    def rope_complex(x, pos):  # x (n, hd) Meta order
        c = x[:, 0::2] + 1j * x[:, 1::2]
        c = c * np.exp(1j * pos * inv)[None, :]
        out = np.empty_like(x)
        out[:, 0::2] = c.real
        out[:, 1::2] = c.imag
        return out

    def rope_half(x, pos):  # x (n, hd) NeoX/HF order
        ang = np.concatenate([pos * inv, pos * inv])
        rot = np.concatenate([-x[:, hd // 2:], x[:, :hd // 2]], axis=1)
        return x * np.cos(ang) + rot * np.sin(ang)

    use_hf = arch == "qwen2" or llama_mode == "hf"
    layers = []
    for i in range(LAYERS):
        p = "blk.%d." % i
        L = {k[len(p):]: v for k, v in W.items() if k.startswith(p)}
        if arch == "llama" and llama_mode == "hf":
            L["attn_q.weight"] = unpermute(L["attn_q.weight"], HEADS)
            L["attn_k.weight"] = unpermute(L["attn_k.weight"], kv_heads)
            if "attn_q.bias" in L:
                L["attn_q.bias"] = unpermute(L["attn_q.bias"], HEADS)
                L["attn_k.bias"] = unpermute(L["attn_k.bias"], kv_heads)
        layers.append(L)
    out_w = W.get("output.weight", W["token_embd.weight"])

    def norm(x, w):
        return w * (x * (1.0 / math.sqrt(float(np.dot(x, x)) / x.size + eps)))

    caches = [([], []) for _ in range(LAYERS)]
    result = []
    for pos, tok in enumerate(tokens):
        x = W["token_embd.weight"][tok].copy()
        for L, (ks, vs) in zip(layers, caches):
            h = norm(x, L["attn_norm.weight"])
            q = L["attn_q.weight"].dot(h)
            k = L["attn_k.weight"].dot(h)
            v = L["attn_v.weight"].dot(h)
            if "attn_q.bias" in L:
                q, k, v = q + L["attn_q.bias"], k + L["attn_k.bias"], v + L["attn_v.bias"]
            q = q.reshape(HEADS, hd)
            k = k.reshape(kv_heads, hd)
            if use_hf:
                q, k = rope_half(q, pos), rope_half(k, pos)
            else:
                q, k = rope_complex(q, pos), rope_complex(k, pos)
            ks.append(k)
            vs.append(v.reshape(kv_heads, hd))
            K = np.repeat(np.stack(ks), rep, axis=1)  # (pos+1, HEADS, hd)
            V = np.repeat(np.stack(vs), rep, axis=1)
            sc = np.einsum("hd,thd->ht", q, K) / math.sqrt(hd)
            lse = sc.max(axis=1, keepdims=True) + np.log(np.exp(sc - sc.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
            att = np.einsum("ht,thd->hd", np.exp(sc - lse), V).reshape(-1)
            x = x + L["attn_output.weight"].dot(att)
            h = norm(x, L["ffn_norm.weight"])
            g = L["ffn_gate.weight"].dot(h)
            x = x + L["ffn_down.weight"].dot(g * (1.0 / (1.0 + np.exp(-g))) * L["ffn_up.weight"].dot(h))
        result.append(out_w.dot(norm(x, W["output_norm.weight"])))
    return np.array(result)


# ---------------------------------------------------------------------------

class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


QUANT_BOUND = {"f32": 0.0, "f16": 2.0 ** -11, "bf16": 2.0 ** -8}


def check_roundtrip(path, kvs, w, stored, tname, version, alignment):
    r = G.GGUFReader(path)
    check(r.version == version, "%s: version %d != %d" % (path, r.version, version))
    check(r.alignment == alignment, "%s: alignment %d != %d" % (path, r.alignment, alignment))
    expect_keys = [k for k, _, _ in kvs] + (["general.alignment"] if alignment != 32 else [])
    check(list(r.metadata.keys()) == expect_keys, "%s: metadata keys differ" % path)
    for k, vt, v in kvs:
        check(r.metadata_types[k] == vt, "%s: type of %s: %d != %d" % (path, k, r.metadata_types[k], vt))
        got = r.metadata[k]
        if vt == VT["arr"]:
            exp = v[1]
            if v[0] == VT["f32"]:
                exp = [float(np.float32(x)) for x in exp]
            elif v[0] == VT["arr"]:
                exp = [x[1] for x in exp]
            check(got == exp, "%s: array %s differs: %r vs %r" % (path, k, got[:5], exp[:5]))
        elif vt == VT["f32"]:
            check(got == float(np.float32(v)), "%s: %s = %r != %r" % (path, k, got, v))
        else:
            check(got == v and type(got) == type(v), "%s: %s = %r != %r" % (path, k, got, v))
    check(r.tensor_order == [n for n, _, _ in w], "%s: tensor order differs" % path)
    for name, kind, orig in w:
        t = r.tensor(name)
        info = r.tensors[name]
        want_type = TY[tname if kind == "M" else "f32"]
        check(info.type == want_type, "%s: %s type %d != %d" % (path, name, info.type, want_type))
        check(info.ne == tuple(reversed(orig.shape)), "%s: %s ne %r" % (path, name, info.ne))
        check(t.shape == orig.shape and t.dtype == np.float32, "%s: %s shape/dtype %r %s" % (path, name, t.shape, t.dtype))
        check(np.array_equal(t, stored[name]), "%s: %s not bit-exact with the writer's values" % (path, name))
        tt = tname if kind == "M" else "f32"
        if tt == "q8_0":
            amax = np.abs(orig.reshape(-1, 32)).max(axis=1)
            bound = (amax / 127.0 * 0.5 + amax * 2.0 ** -10)[:, None]
            err = np.abs(t - orig).reshape(-1, 32)
            check(np.all(err <= bound + 1e-12), "%s: %s Q8_0 error too large" % (path, name))
        else:
            b = QUANT_BOUND[tt]
            check(np.all(np.abs(t - orig) <= b * np.abs(orig) + 2.0 ** -24),  # + f16 subnormal step
                  "%s: %s %s error beyond %g relative" % (path, name, tt, b))
    return r


def check_malformed(tmp):
    path = os.path.join(tmp, "ok.gguf")
    kvs = [("general.architecture", VT["str"], "llama"), ("a.n", VT["u64"], 5)]
    write_gguf(path, kvs, [("t", "f32", np.arange(64, dtype=np.float32).reshape(2, 32))])
    good = open(path, "rb").read()
    G.GGUFReader(path)
    cases = {
        "bad magic": b"GGUX" + good[4:],
        "version 1": good[:4] + struct.pack("<I", 1) + good[8:],
        "truncated header": good[:30],
        "truncated data": good[:-8],
        "huge kv count": good[:16] + struct.pack("<Q", 1 << 40) + good[24:],
        "huge tensor count": good[:8] + struct.pack("<Q", 1 << 40) + good[16:],
        "empty": b"",
    }
    # a string whose declared length runs past the end
    i = good.index(b"general.architecture") - 8
    cases["string past end"] = good[:i] + struct.pack("<Q", 1 << 50) + good[i + 8:]
    # tensor dimension made enormous
    j = good.index(b"\x01\x00\x00\x00\x00\x00\x00\x00t") + 9  # name "t" then n_dims
    ne1_off = j + 4 + 8
    cases["tensor past end"] = good[:ne1_off] + struct.pack("<Q", 1 << 20) + good[ne1_off + 8:]
    for what, data in cases.items():
        p = os.path.join(tmp, "bad.gguf")
        with open(p, "wb") as f:
            f.write(data)
        try:
            G.GGUFReader(p)
        except ValueError:
            continue
        except Exception as e:  # noqa: BLE001
            raise Fail("malformed file (%s) raised %s, not ValueError: %s" % (what, type(e).__name__, e))
        raise Fail("malformed file (%s) was accepted" % what)
    return len(cases)


def check_end_ids(tmp):
    """end_of_generation_ids on metadata-only files: EOS/EOT/EOM keys of any
    integer type, then the marker control tokens; ids outside the
    vocabulary, negative ones and keys of other types are ignored; without
    token types every marker counts.  Returns how many cases ran."""
    texts = ["<t0>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|eom_id|>", "<|im_end|>",
             "<end_of_turn>", "<|im_start|>", "</s>", "<|endoftext|>"]
    types = [1, 3, 3, 3, 3, 3, 1, 3, 4, 3]
    cases = [
        # (extra kvs, with types, expected)
        ([("tokenizer.ggml.eos_token_id", VT["u32"], 2), ("tokenizer.ggml.eot_token_id", VT["i32"], 3),
          ("tokenizer.ggml.eom_token_id", VT["i64"], 7)], True, [2, 3, 7, 4, 5, 9]),
        ([("tokenizer.ggml.eos_token_id", VT["u64"], 9), ("tokenizer.ggml.eot_token_id", VT["u32"], 10),
          ("tokenizer.ggml.eom_token_id", VT["i32"], -1)], True, [9, 3, 4, 5, 2]),
        ([("tokenizer.ggml.eos_token_id", VT["str"], "2"), ("tokenizer.ggml.eot_token_id", VT["f32"], 3.0),
          ("tokenizer.ggml.eom_token_id", VT["bool"], True)], True, [3, 4, 5, 2, 9]),
        ([], False, [3, 4, 5, 2, 9, 6, 8]),
    ]
    for index, (extra, typed, expected) in enumerate(cases):
        kvs = [("general.architecture", VT["str"], "llama"), ("tokenizer.ggml.model", VT["str"], "gpt2"),
               ("tokenizer.ggml.tokens", VT["arr"], (VT["str"], texts))]
        if typed:
            kvs.append(("tokenizer.ggml.token_type", VT["arr"], (VT["i32"], types)))
        path = os.path.join(tmp, "ends%d.gguf" % index)
        write_gguf(path, kvs + extra, [])
        got = end_of_generation_ids(G.GGUFReader(path))
        check(got == expected, "end ids case %d: %r, expected %r" % (index, got, expected))
    return len(cases)


def check_stop_at_end(path, prompt, tmp):
    """greedy(stop_at_end=True) ends right after the first end id and equals
    the prefix of the full greedy run; without end ids it runs all steps."""
    m = Model(path)
    full, _ = m.greedy(prompt, 24)
    m.end_ids = [full[10]]
    first = full.index(full[10])
    ids, logits = m.greedy(prompt, 24, stop_at_end=True)
    check(ids == full[:first + 1] and len(logits) == first + 1,
          "stop_at_end: %r, expected %r" % (ids, full[:first + 1]))
    m.end_ids = []
    check(m.greedy(prompt, 24, stop_at_end=True)[0] == full, "stop_at_end without end ids")


def main():
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="xinf-refcheck-")
    notes = []
    try:
        # -- metadata of every type, nested arrays, v2 ----------------------
        allkv = [("k.u8", VT["u8"], 200), ("k.i8", VT["i8"], -100), ("k.u16", VT["u16"], 60000),
                 ("k.i16", VT["i16"], -30000), ("k.u32", VT["u32"], 4000000000), ("k.i32", VT["i32"], -2000000000),
                 ("k.f32", VT["f32"], 0.1), ("k.bool", VT["bool"], True), ("k.bool0", VT["bool"], False),
                 ("k.str", VT["str"], "héllo ✓"), ("k.u64", VT["u64"], (1 << 63) + 5), ("k.i64", VT["i64"], -(1 << 62)),
                 ("k.f64", VT["f64"], 1.0 / 3.0), ("k.empty", VT["str"], ""),
                 ("k.arr_u8", VT["arr"], (VT["u8"], [1, 2, 255])),
                 ("k.arr_f32", VT["arr"], (VT["f32"], [0.5, -1.25, 0.1])),
                 ("k.arr_i64", VT["arr"], (VT["i64"], [-1, 1 << 40])),
                 ("k.arr_bool", VT["arr"], (VT["bool"], [True, False, True])),
                 ("k.arr_str", VT["arr"], (VT["str"], ["a", "", "ü✓"])),
                 ("k.arr_arr", VT["arr"], (VT["arr"], [(VT["u32"], [1, 2]), (VT["u32"], [])]))]
        for version in (2, 3):
            p = os.path.join(tmp, "kv%d.gguf" % version)
            make_model_file(p, "llama", "f32", 2, False, 5, version=version, extra_kvs=allkv)
            r = G.GGUFReader(p)
            check(r.version == version, "version")
            for k, vt, v in allkv:
                got = r.metadata[k]
                exp = v
                if vt == VT["f32"]:
                    exp = float(np.float32(v))
                elif vt == VT["arr"]:
                    exp = [x[1] for x in v[1]] if v[0] == VT["arr"] else (
                        [float(np.float32(x)) for x in v[1]] if v[0] == VT["f32"] else v[1])
                check(got == exp, "metadata %s: %r != %r" % (k, got, exp))
                check(r.metadata_types[k] == vt, "metadata type of %s" % k)
        n_bad = check_malformed(tmp)
        n_end_cases = check_end_ids(tmp)

        # -- model matrix ---------------------------------------------------
        prompt = [3, 17, 42, 5, 88]
        steps = 64
        n_models = 0
        worst = {}
        configs = []
        for arch in ("llama", "qwen2"):
            for ti, tname in enumerate(("f32", "f16", "q8_0", "bf16")):
                tied = bool(ti % 2)
                kv = 2 if (ti // 2) % 2 == 0 else HEADS
                if arch == "qwen2":
                    kv = HEADS if kv == 2 else 2  # other pairing than llama
                configs.append((arch, tname, tied, kv, None))
        configs.append(("llama", "f32", False, 2, True))  # llama with optional q/k/v biases
        for ci, (arch, tname, tied, kv, biases) in enumerate(configs):
            version = 2 if ci % 3 == 0 else 3
            alignment = 64 if ci % 4 == 1 else 32
            int_type = "u64" if ci % 2 else "u32"
            freq_base = None if ci % 4 == 0 else (1e6 if arch == "qwen2" else 10000.0 + 500 * ci)
            eps = None if ci % 3 == 2 else 1e-5 + 1e-6 * ci
            path = os.path.join(tmp, "m%d_%s_%s.gguf" % (ci, arch, tname))
            kvs, w, stored = make_model_file(path, arch, tname, kv, tied, 100 + ci, version=version,
                                             alignment=alignment, int_type=int_type,
                                             freq_base=freq_base, eps=eps, biases=biases)
            check_roundtrip(path, kvs, w, stored, tname, version, alignment)
            tag = "%s/%s/%s/%s%s" % (arch, tname, "tied" if tied else "untied", "GQA" if kv < HEADS else "MHA",
                                     "/bias" if biases else "")

            m = Model(path)
            check(m.tied == tied, "%s: tied detection" % tag)
            check(m.hp.n_head_kv == kv and m.hp.neox == (arch == "qwen2"), "%s: hparams %r" % (tag, m.hp))
            eps_exp = float(np.float32(eps)) if eps is not None else (1e-6 if arch == "qwen2" else 1e-5)
            fb_exp = float(np.float32(freq_base)) if freq_base is not None else 10000.0
            check(m.hp.eps == eps_exp and m.hp.freq_base == fb_exp, "%s: eps/freq_base defaults" % tag)

            ids, step_logits = m.greedy(prompt, steps)
            check(len(ids) == steps and len(step_logits) == steps, "%s: greedy length" % tag)
            seq = prompt + ids[:-1]
            full = m.forward(seq)
            rows = full[len(prompt) - 1:]
            for s in range(steps):
                check(int(np.argmax(full[len(prompt) - 1 + s])) == ids[s],
                      "%s: greedy token %d (%d) != argmax of forward (%d)"
                      % (tag, s, ids[s], int(np.argmax(full[len(prompt) - 1 + s]))))
            e_cache = rel_err(np.array(step_logits), rows)
            check(e_cache < 1e-10, "%s: KV-cache logits vs forward rel err %.3g" % (tag, e_cache))

            # chunked KV-cache prefill (3 tokens, then 2, then rest) == forward
            cache = m.new_cache()
            parts = [m.step(seq[:3], cache), m.step(seq[3:5], cache), m.step(seq[5:20], cache)]
            e_chunk = rel_err(np.concatenate(parts), full[:20])
            check(e_chunk < 1e-10, "%s: chunked cache vs forward rel err %.3g" % (tag, e_chunk))

            ind = indep_forward(stored, arch, kv, eps_exp, fb_exp, seq, "complex")
            e_ind = rel_err(full, ind)
            check(e_ind < 1e-9, "%s: forward vs independent (complex RoPE) rel err %.3g" % (tag, e_ind))
            if arch == "llama":
                ind2 = indep_forward(stored, arch, kv, eps_exp, fb_exp, seq[:24], "hf")
                e_hf = rel_err(full[:24], ind2)
                check(e_hf < 1e-9, "%s: forward vs HF-order rotate_half rel err %.3g" % (tag, e_hf))
                # sanity: rotating the wrong pairs must change the answer
                m.hp.neox = True
                e_wrong = rel_err(m.forward(seq[:24]), full[:24])
                m.hp.neox = False
                check(e_wrong > 1e-3, "%s: NeoX RoPE on a llama file gave the same logits" % tag)
            check(len(set(ids)) > 3, "%s: degenerate greedy output %r" % (tag, ids[:10]))
            if ci == 0:
                check_stop_at_end(path, prompt, tmp)
            worst[tag] = max(e_cache, e_chunk, e_ind)
            n_models += 1

        # -- deepseek2: multi-head latent attention against an absorbed form --
        import selfcheck_mla
        n_mla, mla_worst = selfcheck_mla.run(tmp, write_gguf, VT, check, rel_err)
        worst.update(("deepseek2/" + name, e) for name, e in mla_worst.items())

        # -- CLI ------------------------------------------------------------
        cli_path = os.path.join(tmp, "m1_llama_f16.gguf")
        npy = os.path.join(tmp, "logits.npy")
        out = subprocess.run([sys.executable, os.path.join(HERE, "reference_forward.py"), cli_path,
                              "--prompt-tokens", ",".join(map(str, prompt)), "--steps", "16",
                              "--json", "--json-k", "5", "--logits-out", npy],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 0, "CLI failed: %s" % out.stderr)
        js = json.loads(out.stdout)
        ids, lg = Model(cli_path).greedy(prompt, 16)
        saved = np.load(npy)
        check(js["tokens"] == ids, "CLI tokens differ")
        check(saved.shape == (16, VOCAB) and np.array_equal(saved, np.array(lg)), "CLI --logits-out differs")
        check(np.allclose(np.array(js["logits"]), saved[:, :5], rtol=1e-15, atol=0), "CLI JSON logits differ")
        out = subprocess.run([sys.executable, os.path.join(HERE, "reference_forward.py"), cli_path,
                              "--prompt-tokens", "1,%d" % VOCAB, "--steps", "2"],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 1 and "out of range" in out.stderr, "CLI accepted an out-of-range token")

        # -- quantized vs F32, same underlying weights --------------------------
        qerr = {}
        for arch in ("llama", "qwen2"):
            base = None
            for tname in ("f32", "f16", "bf16", "q8_0"):
                p = os.path.join(tmp, "q_%s_%s.gguf" % (arch, tname))
                make_model_file(p, arch, tname, 2, False, 7, freq_base=10000.0, eps=1e-5)
                lg = Model(p).forward(prompt + list(range(20, 40)))
                if base is None:
                    base = lg
                else:
                    qerr["%s/%s" % (arch, tname)] = rel_err(lg, base)
        bounds = {"f16": 1e-2, "bf16": 5e-2, "q8_0": 0.15}
        for k, e in qerr.items():
            check(e < bounds[k.split("/")[1]], "quantized %s vs F32 rel err %.3g too large" % (k, e))
        notes.append("quantized-vs-F32 logits rel err: " + ", ".join("%s %.2g" % kv for kv in sorted(qerr.items())))
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print("FAIL: unexpected exception")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for n in notes:
        print(n)
    print("worst forward/cache/independent rel err per model: " +
          ", ".join("%s %.1e" % kv for kv in worst.items()))
    print("PASS: reader round trip (all metadata types, v2/v3, F32/F16/Q8_0/BF16), %d malformed files rejected, "
          "%d models (llama/qwen2, tied/untied, GQA/MHA) forward == independent == KV cache, "
          "%d deepseek2 models forward == absorbed form == KV cache (f16 cache too), "
          "greedy %d steps == argmax, %d end-of-generation id files, stop at end, CLI ok (%.1f s)"
          % (n_bad, n_models, n_mla, steps, n_end_cases, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
