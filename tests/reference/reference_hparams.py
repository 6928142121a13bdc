"""The hyperparameters of a GGUF file as reference_forward.py's Model reads
them (HParams): the sizes, each architecture's switches and defaults (as
llama.cpp's for GGUF; the architectures it takes in SUPPORTED_ARCHS), and
the RoPE scaling it computes the frequencies with: linear (freq_scale),
YaRN (yarn_inv_freq), Meta's Llama 3 (llama3_rope_factors), and the
factors of a rope_freqs or Phi-3's LongRoPE tensor. reference_forward's
docstring says what each one does to the forward pass.

Python standard library + numpy only.
"""

import math

import numpy as np

SUPPORTED_ARCHS = ("llama", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "phi3", "glm4", "glm4moe", "granite", "granitemoe",
                   "gpt-oss", "gemma2", "gemma3")


def llama3_rope_factors(n_rot, freq_base, factor, low_freq_factor, high_freq_factor, original_context):
    """Meta's Llama 3 scaling (the "llama3" rope_type of Hugging Face configs),
    as divisors of each pair's frequency."""
    freqs = freq_base ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)
    wavelen = 2 * math.pi / freqs
    low_wavelen = original_context / low_freq_factor
    high_wavelen = original_context / high_freq_factor
    smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    scaled = np.where(wavelen > low_wavelen, freqs / factor,
                      np.where(wavelen < high_wavelen, freqs, (1 - smooth) * freqs / factor + smooth * freqs))
    return freqs / scaled


def yarn_inv_freq(n_rot, freq_base, factor, original_context):
    """YaRN's frequencies (Hugging Face's _compute_yarn_parameters with
    beta_fast 32, beta_slow 1, truncated correction range) and its
    attention factor."""
    pos_freqs = freq_base ** (np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)
    extrapolation = 1.0 / pos_freqs
    interpolation = 1.0 / (factor * pos_freqs)

    def correction_dim(rotations):
        return n_rot * math.log(original_context / (rotations * 2 * math.pi)) / (2 * math.log(freq_base))

    low = max(math.floor(correction_dim(32)), 0)
    high = min(math.ceil(correction_dim(1)), n_rot - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(n_rot // 2, dtype=np.float64) - low) / (high - low), 0, 1)
    extrapolation_share = 1 - ramp
    inv_freq = interpolation * (1 - extrapolation_share) + extrapolation * extrapolation_share
    return inv_freq, 0.1 * math.log(factor) + 1.0


def required_int(r, arch, key):
    """The file's integer <arch>.<key>, which it must have."""
    v = r.get_int("%s.%s" % (arch, key))
    if v is None:
        raise ValueError("%s: missing metadata %s.%s" % (r.path, arch, key))
    return v


class HParams:
    def __init__(self, r):
        arch = r.get("general.architecture")
        if arch not in SUPPORTED_ARCHS:
            raise ValueError("%s: unsupported general.architecture %r" % (r.path, arch))
        self.arch = arch

        def req(key):
            return required_int(r, arch, key)

        self.dim = req("embedding_length")
        self.n_layers = req("block_count") - (r.get_int(arch + ".nextn_predict_layers", 0) if arch == "glm4moe" else 0)
        self.ffn = req("feed_forward_length")
        self.n_head = req("attention.head_count")
        self.n_head_kv = r.get_int(arch + ".attention.head_count_kv", self.n_head)
        self.context = r.get_int(arch + ".context_length", 0)
        self.eps = r.get_float(arch + ".attention.layer_norm_rms_epsilon",
                               1e-5 if arch in ("llama", "phi3", "glm4", "glm4moe", "granite", "granitemoe", "gpt-oss")
                               else 1e-6)
        self.freq_base = r.get_float(arch + ".rope.freq_base", 10000.0)
        self.head_dim = r.get_int(arch + ".attention.key_length", self.dim // self.n_head)
        vdim = r.get_int(arch + ".attention.value_length", self.head_dim)
        if vdim != self.head_dim:
            raise ValueError("%s: key_length %d != value_length %d not supported"
                             % (r.path, self.head_dim, vdim))
        self.n_rot = r.get_int(arch + ".rope.dimension_count", self.head_dim)
        if self.n_head <= 0 or self.n_head_kv <= 0 or self.n_head % self.n_head_kv != 0:
            raise ValueError("%s: head_count %d / head_count_kv %d invalid"
                             % (r.path, self.n_head, self.n_head_kv))
        if self.n_rot % 2 != 0 or self.n_rot > self.head_dim or self.head_dim % 2 != 0:
            raise ValueError("%s: rope dimension %d / head_dim %d invalid"
                             % (r.path, self.n_rot, self.head_dim))
        self.arch = arch
        self.neox = arch in ("qwen2", "qwen2moe", "qwen3", "qwen3moe", "phi3", "glm4moe", "gpt-oss", "gemma2", "gemma3")
        self.oss = arch == "gpt-oss"
        # glm4moe: sigmoid routing with a selection bias, leading dense layers,
        # shared experts of the experts' width, the ffn norm named as GPT-OSS's
        self.glm_moe = arch == "glm4moe"
        self.ffn_norm_post = arch in ("gpt-oss", "glm4moe")
        self.qkv_bias = arch in ("qwen2", "qwen2moe", "gpt-oss")
        self.qk_norm = arch in ("qwen3", "qwen3moe", "gemma3")
        self.n_expert = (r.get_int(arch + ".expert_count", 0)
                         if arch in ("llama", "qwen2moe", "qwen3moe", "glm4moe", "gpt-oss", "granitemoe") else 0)
        self.n_expert_used = r.get_int(arch + ".expert_used_count", 0)
        # qwen3moe without expert_feed_forward_length: the dense width shared
        # among a token's experts, as llama.cpp's qwen3moe.cpp
        self.expert_ffn = (r.get_int(arch + ".expert_feed_forward_length",
                                     self.ffn // max(self.n_expert_used, 1))
                           if arch in ("qwen2moe", "qwen3moe", "glm4moe", "gpt-oss") else self.ffn)
        # qwen2moe: weights as they are, a gated shared expert (its width's key, else ffn);
        # granitemoe: an ungated one where the key is nonzero
        self.normalize = arch != "qwen2moe"
        self.shared_ffn = r.get_int(arch + ".expert_shared_feed_forward_length", 0) \
            if arch in ("qwen2moe", "granitemoe") else 0
        if arch == "qwen2moe" and not self.shared_ffn:
            self.shared_ffn = self.ffn
        self.shared_gated = arch == "qwen2moe"
        self.dense_lead, self.expert_scale = 0, 0.0
        if self.glm_moe:
            self.normalize = bool(r.get(arch + ".expert_weights_norm", False))
            self.expert_scale = r.get_float(arch + ".expert_weights_scale", 0.0)
            self.dense_lead = r.get_int(arch + ".leading_dense_block_count", 0)
            self.shared_ffn = self.expert_ffn * r.get_int(arch + ".expert_shared_count", 0)
        self.gemma = arch in ("gemma2", "gemma3")
        # phi3, glm4: q/k/v in attn_qkv (or apart), gate and up in ffn_up
        self.fused = arch in ("phi3", "glm4")
        # gemma2, gemma3, glm4: RMSNorm of the attention's and feed-forward's outputs
        self.post_norms = self.gemma or arch == "glm4"
        # granite: embeddings, each block's output and the scores scaled, the
        # logits divided (embedding_scale, residual_scale, attention.scale,
        # logit_scale; 0 or absent: as llama)
        self.embedding_scale = 0.0          # 0: the arch's own (gemma: sqrt(dim))
        self.residual_scale = self.logit_scale = 1.0
        if arch in ("granite", "granitemoe"):
            self.embedding_scale = r.get_float(arch + ".embedding_scale", 0.0)
            self.residual_scale = r.get_float(arch + ".residual_scale", 0.0) or 1.0
            self.logit_scale = r.get_float(arch + ".logit_scale", 1.0)
        self.freq_scale = 1.0
        self.rope_factors = None
        # Gemma 3: the window of each layer (0: global), the local RoPE base,
        # the query scale
        self.windows = [0] * self.n_layers
        self.freq_base_local = r.get_float(arch + ".rope.freq_base_swa",
                                           10000.0 if arch == "gemma3" else self.freq_base)
        self.query_scale = 1.0 / math.sqrt(self.head_dim)
        if arch in ("granite", "granitemoe") and r.get_float(arch + ".attention.scale", 0.0):
            self.query_scale = r.get_float(arch + ".attention.scale", 0.0)
        # Gemma 2: attention scores and final logits soft-capped, c tanh(x / c)
        self.attn_softcap = self.final_softcap = 0.0
        if arch == "gemma2":
            self.attn_softcap = r.get_float(arch + ".attn_logit_softcapping", 50.0)
            self.final_softcap = r.get_float(arch + ".final_logit_softcapping", 30.0)
        if self.gemma or self.oss:
            if arch == "gemma3" and r.get_float(arch + ".final_logit_softcapping", 0.0):
                raise ValueError("%s: final_logit_softcapping not supported" % r.path)
            window = r.get_int(arch + ".attention.sliding_window",
                               4096 if arch == "gemma2" else 128 if self.oss else 0)
            pattern = r.get(arch + ".attention.sliding_window_pattern", 6 if arch == "gemma3" else 2)
            for layer in range(self.n_layers):
                if isinstance(pattern, list):
                    local = bool(pattern[layer])
                else:
                    local = pattern == 0 or layer % pattern < pattern - 1
                self.windows[layer] = window if local else 0
            if self.n_layers == (62 if arch == "gemma3" else 46):
                self.query_scale = 1.0 / math.sqrt(self.dim // self.n_head)
        self.rope_inv_freq = None
        self.rope_mscale = 1.0
        if arch != "gemma2":
            kind = r.get(arch + ".rope.scaling.type", "linear")
            factor = r.get_float(arch + ".rope.scaling.factor", 0.0)
            self.rope_mscale = r.get_float(arch + ".rope.scaling.attn_factor", 1.0)
            if kind == "linear" and factor:
                self.freq_scale = 1.0 / factor
            elif kind == "yarn":
                if r.has_tensor("rope_freqs.weight"):
                    raise ValueError("%s: yarn with rope_freqs.weight not supported" % r.path)
                self.rope_inv_freq, mscale = yarn_inv_freq(
                    self.n_rot, self.freq_base, max(factor, 1.0),
                    r.get_float(arch + ".rope.scaling.original_context_length", float(self.context)))
                self.rope_mscale *= mscale
            elif kind == "llama3":
                self.rope_factors = llama3_rope_factors(
                    self.n_rot, self.freq_base, factor,
                    r.get_float(arch + ".rope.scaling.low_freq_factor", 1.0),
                    r.get_float(arch + ".rope.scaling.high_freq_factor", 4.0),
                    r.get_float(arch + ".rope.scaling.original_context_length", 8192.0))
            elif kind not in ("none", "linear"):
                raise ValueError("%s: rope scaling %r not supported" % (r.path, kind))
            if r.has_tensor("rope_freqs.weight") and arch == "llama":
                self.rope_factors = r.tensor("rope_freqs.weight").astype(np.float64).reshape(-1)
            if arch == "phi3" and r.has_tensor("rope_factors_long.weight"):
                original = r.get_int(arch + ".rope.scaling.original_context_length", self.context)
                which = "long" if self.context > original else "short"
                self.rope_factors = r.tensor("rope_factors_%s.weight" % which).astype(np.float64).reshape(-1)

    def __repr__(self):
        return "HParams(%s)" % ", ".join("%s=%r" % kv for kv in sorted(vars(self).items()))
