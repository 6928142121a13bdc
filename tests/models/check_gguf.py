#!/usr/bin/env python3
"""check_gguf.py: an independent reading of xinf-make-model's files.

Parses GGUF with a small pure-Python reader written from the format spec
(not from xinf's code) and, when the `gguf` package from llama.cpp is
installed, with that too. Usage: check_gguf.py PATH-TO-xinf-make-model SCRATCH-DIR
"""
import os, struct, subprocess, sys

SCALARS = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}


def read_gguf(path):
    data = open(path, 'rb').read()
    pos = 0

    def take(fmt):
        nonlocal pos
        value = struct.unpack_from('<' + fmt, data, pos)[0]
        pos += struct.calcsize('<' + fmt)
        return value

    def string():
        nonlocal pos
        length = take('Q')
        value = data[pos:pos + length].decode('utf-8')
        pos += length
        return value

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            element, count = take('I'), take('Q')
            return [value(element) for _ in range(count)]
        return take(SCALARS[kind])

    assert data[:4] == b'GGUF', 'magic'
    pos = 4
    version, tensor_count, kv_count = take('I'), take('Q'), take('Q')
    assert version == 3
    metadata = {}
    for _ in range(kv_count):
        key = string()
        metadata[key] = value(take('I'))
    tensors = {}
    for _ in range(tensor_count):
        name = string()
        dims = [take('Q') for _ in range(take('I'))]
        tensors[name] = (dims, take('I'), take('Q'))
    alignment = metadata.get('general.alignment', 32)
    start = (pos + alignment - 1) // alignment * alignment
    sizes = {0: (1, 4), 1: (1, 2), 8: (32, 34), 30: (1, 2)}
    for name, (dims, kind, offset) in tensors.items():
        count = 1
        for extent in dims:
            count *= extent
        block, size = sizes[kind]
        assert offset % alignment == 0, name
        assert start + offset + count // block * size <= len(data), name
    return metadata, tensors


def check(tool, scratch, arguments, arch, spm):
    path = os.path.join(scratch, 'py-%s-%s.gguf' % (arch, 'spm' if spm else 'gpt2'))
    subprocess.run([tool] + arguments + ['-o', path], check=True, stdout=subprocess.DEVNULL)
    metadata, tensors = read_gguf(path)
    assert metadata['general.architecture'] == arch
    tokens = metadata['tokenizer.ggml.tokens']
    assert len(tokens) == len(set(tokens)) == metadata[arch + '.vocab_size']
    assert len(metadata['tokenizer.ggml.token_type']) == len(tokens)
    known = set(tokens)
    if spm:
        assert metadata['tokenizer.ggml.model'] == 'llama'
        assert tokens[3:259] == ['<0x%02X>' % byte for byte in range(256)]
        assert len(metadata['tokenizer.ggml.scores']) == len(tokens)
    else:
        assert metadata['tokenizer.ggml.model'] == 'gpt2'
        for merge in metadata['tokenizer.ggml.merges']:
            left, right = merge.split(' ')
            assert left in known and right in known and left + right in known, merge
    dim = metadata[arch + '.embedding_length']
    assert tensors['token_embd.weight'][0] == [dim, len(tokens)]
    try:
        import gguf  # llama.cpp's reader, when installed
        reader = gguf.GGUFReader(path)
        assert len(reader.tensors) == len(tensors)
        print('gguf package: read', path)
    except ImportError:
        pass
    os.unlink(path)


def main():
    tool, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    check(tool, scratch, ['--arch', 'llama', '--type', 'q8_0'], 'llama', True)
    check(tool, scratch, ['--arch', 'qwen2', '--type', 'bf16'], 'qwen2', False)
    check(tool, scratch, ['--arch', 'llama', '--tokenizer', 'gpt2', '--type', 'f16'], 'llama', False)
    print('ok')


if __name__ == '__main__':
    main()
