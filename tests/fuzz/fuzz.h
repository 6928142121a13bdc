/*  fuzz.h: the libFuzzer entry point every harness in tests/fuzz defines.
    Built with clang -fsanitize=fuzzer it is driven by libFuzzer; built
    with replay_main.c (any compiler) it replays a corpus, which is how
    CTest runs every harness in the plain and sanitizer builds.  */
#ifndef XINF_FUZZ_H_INCLUDED
#define XINF_FUZZ_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#endif
