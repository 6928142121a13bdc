#!/usr/bin/env python3
"""Independent GGUF reader (Python standard library + numpy only).

Parses GGUF v2/v3 files: header, metadata of every value type, tensor infos,
aligned data section.  Tensors are returned dequantized to float32 with the
numpy shape (ne[n-1], ..., ne[1], ne[0]): ne0 is the contiguous last axis.

Supported tensor types: F32 (0), F16 (1), Q8_0 (8), BF16 (30), MXFP4 (39: GPT-OSS's experts,
32 E2M1 values doubled to 0..12 and an exponent byte e, weight = value * 2^(e - 128)).

Usage:
    r = GGUFReader("model.gguf")
    r.metadata["general.architecture"]
    w = r.tensor("token_embd.weight")          # float32 ndarray

    python3 gguf_reader.py FILE.gguf           # dumps metadata and tensor infos
"""

import os
import struct
import sys

import numpy as np

GGUF_MAGIC = b"GGUF"

# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, \
    T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)

_SCALAR = {
    T_UINT8: ("<B", 1), T_INT8: ("<b", 1),
    T_UINT16: ("<H", 2), T_INT16: ("<h", 2),
    T_UINT32: ("<I", 4), T_INT32: ("<i", 4),
    T_FLOAT32: ("<f", 4), T_BOOL: ("<B", 1),
    T_UINT64: ("<Q", 8), T_INT64: ("<q", 8),
    T_FLOAT64: ("<d", 8),
}
_NP_SCALAR = {
    T_UINT8: "<u1", T_INT8: "<i1", T_UINT16: "<u2", T_INT16: "<i2",
    T_UINT32: "<u4", T_INT32: "<i4", T_FLOAT32: "<f4", T_UINT64: "<u8",
    T_INT64: "<i8", T_FLOAT64: "<f8",
}

# ggml tensor types
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16, GGML_MXFP4 = 0, 1, 8, 30, 39
# type -> (block size in elements, bytes per block)
GGML_TYPES = {
    GGML_F32: (1, 4),
    GGML_F16: (1, 2),
    GGML_Q8_0: (32, 34),
    GGML_BF16: (1, 2),
    GGML_MXFP4: (32, 17),
}
GGML_TYPE_NAMES = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q8_0: "Q8_0", GGML_BF16: "BF16", GGML_MXFP4: "MXFP4"}
# MXFP4's nibbles: sign bit 3, E2M1 magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6 doubled
MXFP4_VALUES = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float64)

MAX_DIMS = 4
DEFAULT_ALIGNMENT = 32


class TensorInfo:
    __slots__ = ("name", "ne", "type", "offset", "nbytes", "abs_offset")

    def __init__(self, name, ne, ttype, offset):
        self.name = name
        self.ne = tuple(ne)          # ne0 first (ggml order)
        self.type = ttype
        self.offset = offset         # relative to the data section
        self.nbytes = 0
        self.abs_offset = 0

    @property
    def shape(self):
        """numpy shape: (ne[n-1], ..., ne0)."""
        return tuple(reversed(self.ne))

    @property
    def n_elements(self):
        n = 1
        for d in self.ne:
            n *= d
        return n

    def __repr__(self):
        return "TensorInfo(%r, ne=%r, type=%s, offset=%d)" % (
            self.name, self.ne, GGML_TYPE_NAMES.get(self.type, self.type), self.offset)


class _Cursor:
    """Bounded little-endian reader over a bytes-like buffer."""

    def __init__(self, buf, path):
        self.buf = buf
        self.pos = 0
        self.size = len(buf)
        self.path = path

    def need(self, n, what):
        if n < 0 or self.pos + n > self.size:
            raise ValueError("%s: truncated GGUF: %s needs %d bytes at offset %d, file has %d"
                             % (self.path, what, n, self.pos, self.size))

    def scalar(self, vtype, what):
        fmt, n = _SCALAR[vtype]
        self.need(n, what)
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        if vtype == T_BOOL:
            if v > 1:
                raise ValueError("%s: %s: bool value %d is not 0 or 1" % (self.path, what, v))
            return bool(v)
        return v

    def u32(self, what):
        return self.scalar(T_UINT32, what)

    def u64(self, what):
        return self.scalar(T_UINT64, what)

    def string(self, what):
        n = self.u64(what + " length")
        self.need(n, what)
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("%s: %s is not valid UTF-8" % (self.path, what)) from None

    def value(self, vtype, what, depth=0):
        if vtype in _SCALAR:
            return self.scalar(vtype, what)
        if vtype == T_STRING:
            return self.string(what)
        if vtype == T_ARRAY:
            if depth > 8:
                raise ValueError("%s: %s: arrays nested too deeply" % (self.path, what))
            etype = self.u32(what + " array element type")
            count = self.u64(what + " array count")
            if etype in _NP_SCALAR:
                esize = _SCALAR[etype][1]
                self.need(count * esize, what + " array data")
                arr = np.frombuffer(self.buf, dtype=_NP_SCALAR[etype], count=count,
                                    offset=self.pos).copy()
                self.pos += count * esize
                return arr.tolist()
            if etype == T_BOOL:
                self.need(count, what + " array data")
                out = [self.scalar(T_BOOL, what) for _ in range(count)]
                return out
            if etype in (T_STRING, T_ARRAY):
                # every element takes at least 8 bytes (a u64 length / header)
                self.need(count * (8 if etype == T_STRING else 12), what + " array data")
                return [self.value(etype, "%s[%d]" % (what, i), depth + 1) for i in range(count)]
            raise ValueError("%s: %s: unknown array element type %d" % (self.path, what, etype))
        raise ValueError("%s: %s: unknown metadata value type %d" % (self.path, what, vtype))


def _f16_to_f32(u16):
    return u16.view("<f2").astype(np.float32)


def _bf16_to_f32(u16):
    return (u16.astype(np.uint32) << np.uint32(16)).view(np.float32)


class GGUFReader:
    def __init__(self, path):
        self.path = str(path)
        size = os.path.getsize(self.path)
        if size < 24:
            raise ValueError("%s: file too small for a GGUF header (%d bytes)" % (self.path, size))
        self._mm = np.memmap(self.path, dtype=np.uint8, mode="r")
        cur = _Cursor(self._mm, self.path)

        cur.need(4, "magic")
        magic = bytes(self._mm[0:4])
        if magic != GGUF_MAGIC:
            raise ValueError("%s: bad magic %r (expected b'GGUF')" % (self.path, magic))
        cur.pos = 4
        self.version = cur.u32("version")
        if self.version not in (2, 3):
            raise ValueError("%s: unsupported GGUF version %d (need 2 or 3)" % (self.path, self.version))
        n_tensors = cur.u64("tensor count")
        n_kv = cur.u64("metadata kv count")
        # each kv needs >= 8 (key len) + 4 (type) + 1 bytes; each tensor info >= 8+4+8+4+8
        if n_kv * 13 > size or n_tensors * 32 > size:
            raise ValueError("%s: declared counts (tensors %d, kv %d) exceed the file size %d"
                             % (self.path, n_tensors, n_kv, size))

        self.metadata = {}
        self.metadata_types = {}
        for i in range(n_kv):
            key = cur.string("metadata key #%d" % i)
            vtype = cur.u32("type of %r" % key)
            if key in self.metadata:
                raise ValueError("%s: duplicate metadata key %r" % (self.path, key))
            self.metadata[key] = cur.value(vtype, "metadata %r" % key)
            self.metadata_types[key] = vtype

        self.alignment = DEFAULT_ALIGNMENT
        if "general.alignment" in self.metadata:
            a = self.metadata["general.alignment"]
            if self.metadata_types["general.alignment"] not in (T_UINT32, T_UINT64, T_INT32, T_INT64) \
                    or a <= 0 or (a & (a - 1)) != 0:
                raise ValueError("%s: general.alignment %r is not a positive power of two"
                                 % (self.path, a))
            self.alignment = int(a)

        self.tensors = {}
        self.tensor_order = []
        for i in range(n_tensors):
            name = cur.string("tensor name #%d" % i)
            n_dims = cur.u32("n_dims of %r" % name)
            if n_dims < 1 or n_dims > MAX_DIMS:
                raise ValueError("%s: tensor %r has %d dims (1..%d allowed)"
                                 % (self.path, name, n_dims, MAX_DIMS))
            ne = [cur.u64("dim %d of %r" % (d, name)) for d in range(n_dims)]
            ttype = cur.u32("type of %r" % name)
            offset = cur.u64("offset of %r" % name)
            if name in self.tensors:
                raise ValueError("%s: duplicate tensor name %r" % (self.path, name))
            if ttype not in GGML_TYPES:
                raise ValueError("%s: tensor %r has unsupported ggml type %d" % (self.path, name, ttype))
            info = TensorInfo(name, ne, ttype, offset)
            blk, bsz = GGML_TYPES[ttype]
            if any(d <= 0 for d in ne):
                raise ValueError("%s: tensor %r has a non-positive dimension %r" % (self.path, name, ne))
            if ne[0] % blk != 0:
                raise ValueError("%s: tensor %r: ne0=%d is not a multiple of the %s block size %d"
                                 % (self.path, name, ne[0], GGML_TYPE_NAMES[ttype], blk))
            n = info.n_elements
            if n > size * 32:  # cheap guard before multiplication blows up
                raise ValueError("%s: tensor %r declares %d elements, far more than the file holds"
                                 % (self.path, name, n))
            info.nbytes = n // blk * bsz
            if offset % self.alignment != 0:
                raise ValueError("%s: tensor %r offset %d is not aligned to %d"
                                 % (self.path, name, offset, self.alignment))
            self.tensors[name] = info
            self.tensor_order.append(name)

        self.data_offset = (cur.pos + self.alignment - 1) // self.alignment * self.alignment
        if self.data_offset > size and n_tensors > 0:
            raise ValueError("%s: data section starts at %d beyond the file end %d"
                             % (self.path, self.data_offset, size))
        spans = []
        for name in self.tensor_order:
            info = self.tensors[name]
            info.abs_offset = self.data_offset + info.offset
            end = info.abs_offset + info.nbytes
            if end > size:
                raise ValueError("%s: tensor %r [%d, %d) runs past the end of the file (%d bytes)"
                                 % (self.path, name, info.abs_offset, end, size))
            spans.append((info.abs_offset, end, name))
        spans.sort()
        for (s0, e0, n0), (s1, e1, n1) in zip(spans, spans[1:]):
            if s1 < e0:
                raise ValueError("%s: tensors %r and %r overlap" % (self.path, n0, n1))

    # -- metadata helpers ------------------------------------------------
    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def get_int(self, key, default=None):
        """Integer metadata (u8..u64, i8..i64 all accepted)."""
        if key not in self.metadata:
            return default
        t = self.metadata_types[key]
        if t not in (T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_UINT64, T_INT64):
            raise ValueError("%s: metadata %r is not an integer (type %d)" % (self.path, key, t))
        return int(self.metadata[key])

    def get_float(self, key, default=None):
        if key not in self.metadata:
            return default
        t = self.metadata_types[key]
        if t in (T_FLOAT32, T_FLOAT64):
            return float(self.metadata[key])
        if t in (T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_UINT64, T_INT64):
            return float(self.metadata[key])
        raise ValueError("%s: metadata %r is not a number (type %d)" % (self.path, key, t))

    # -- tensors ---------------------------------------------------------
    def has_tensor(self, name):
        return name in self.tensors

    def raw(self, name):
        """The tensor's bytes as a uint8 memmap view."""
        info = self.tensors[name]
        return self._mm[info.abs_offset:info.abs_offset + info.nbytes]

    def tensor(self, name):
        """Dequantized float32 array with shape (ne[n-1], ..., ne0)."""
        if name not in self.tensors:
            raise KeyError("%s: no tensor %r" % (self.path, name))
        info = self.tensors[name]
        raw = self.raw(name)
        n = info.n_elements
        if info.type == GGML_F32:
            out = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
        elif info.type == GGML_F16:
            out = _f16_to_f32(np.frombuffer(raw, dtype="<u2", count=n))
        elif info.type == GGML_BF16:
            out = _bf16_to_f32(np.frombuffer(raw, dtype="<u2", count=n))
        elif info.type == GGML_Q8_0:
            blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
            d = _f16_to_f32(blocks[:, 0:2].copy().view("<u2"))  # (nb, 1)
            q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
            out = (d * q).reshape(-1)
        elif info.type == GGML_MXFP4:
            blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 17)
            scale = np.ldexp(1.0, blocks[:, 0:1].astype(np.int64) - 128)        # (nb, 1)
            qs = blocks[:, 1:].astype(np.int64)
            nibbles = np.concatenate([qs & 15, qs >> 4], axis=1)               # low nibbles first
            out = (MXFP4_VALUES[nibbles] * scale).astype(np.float32).reshape(-1)
        else:  # unreachable: checked in __init__
            raise ValueError("unsupported type %d" % info.type)
        return out.reshape(info.shape)


def _main(argv):
    if len(argv) != 2:
        print("usage: gguf_reader.py FILE.gguf", file=sys.stderr)
        return 2
    r = GGUFReader(argv[1])
    print("GGUF v%d, %d kv, %d tensors, alignment %d, data at %d"
          % (r.version, len(r.metadata), len(r.tensors), r.alignment, r.data_offset))
    for k, v in r.metadata.items():
        s = repr(v)
        if isinstance(v, list) and len(v) > 8:
            s = "[%s, ... %d items]" % (", ".join(repr(x) for x in v[:8]), len(v))
        print("  %s = %s" % (k, s[:200]))
    for name in r.tensor_order:
        print("  %r" % r.tensors[name])
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
