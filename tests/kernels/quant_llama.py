"""quant_llama: xinf's decoding of files that llama.cpp's llama-quantize
writes, against gguf-py's numpy dequantizers (llama.cpp's own Python
reference). Skips (exit 77) when llama.cpp is not built.

    quant_llama.py MAKE_MODEL LLAMA_DIR WORK_DIR TEST_PROGRAM

MAKE_MODEL is xinf-make-model; LLAMA_DIR the llama.cpp tree of
tools/llamacpp/build-native.sh (its build/bin/llama-quantize and
src/gguf-py). A small F16 model (every matrix a multiple of 256 columns,
so that the K types are used) is quantized to Q4_K_M, Q5_K_M, Q6_K,
Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and IQ4_XS (the
Q2_K and Q3_K files mix Q2_K / Q3_K with Q4_K, Q5_K and Q6_K tensors; IQ4_NL
and IQ4_XS need no importance matrix); for each file, the floats gguf-py gives every
quantized tensor are written to a file that TEST_PROGRAM compares with
xinf's decoding, bit for bit.
"""
import os
import struct
import subprocess
import sys

TYPES = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL",
         "IQ4_XS"]
OURS = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS"}


def main():
    make_model, llama_dir, work, program = sys.argv[1:5]
    quantize = os.path.join(llama_dir, "build", "bin", "llama-quantize")
    gguf_py = os.path.join(llama_dir, "src", "gguf-py")
    if not os.access(quantize, os.X_OK) or not os.path.isdir(gguf_py):
        print("SKIP: llama.cpp is not built (%s): run tools/llamacpp/build-native.sh" % quantize)
        return 77
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("SKIP: numpy not found")
        return 77
    sys.path.insert(0, gguf_py)
    from gguf import GGUFReader
    from gguf.quants import dequantize

    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "f16.gguf")
    subprocess.run([make_model, "--arch", "llama", "--type", "f16", "--dim", "256", "--heads", "4",
                    "--kv-heads", "2", "--ffn", "768", "--layers", "2", "--vocab", "512", "--no-tied",
                    "--seed", "11", "-o", source], check=True)
    for name in TYPES:
        target = os.path.join(work, name + ".gguf")
        result = subprocess.run([quantize, source, target, name], capture_output=True, text=True)
        if result.returncode != 0:
            sys.stdout.write(result.stdout + result.stderr)
            return 1
        expected = os.path.join(work, name + ".expected")
        seen = {}
        with open(expected, "wb") as out:
            for tensor in GGUFReader(target).tensors:
                kind = tensor.tensor_type.name
                if kind not in OURS:
                    continue
                values = dequantize(tensor.data, tensor.tensor_type).astype("<f4").reshape(-1)
                label = tensor.name.encode()
                out.write(struct.pack("<I", len(label)) + label + struct.pack("<Q", values.size))
                out.write(values.tobytes())
                seen[kind] = seen.get(kind, 0) + 1
        print("%s: %s" % (name, ", ".join("%d %s" % (count, kind) for kind, count in sorted(seen.items()))))
        subprocess.run([program, target, expected], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
