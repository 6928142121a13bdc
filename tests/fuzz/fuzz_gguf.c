/*  fuzz_gguf: bytes as a GGUF file: the header parser on the buffer, then
    the whole loader (hyperparameters, tensors, tokenizer) on the same
    bytes as a file (a memfd), and for a file that loads, tokenize and
    decode a fixed text: nothing may crash, hang, leak or read out of
    bounds, whatever the file claims.  */
#include "fuzz.h"
#include "xinf.h"
#include "xinf_gguf.h"
#include "xinf_model.h"
#include "xinf_tokenizer.h"

#include <sys/mman.h>
#include <unistd.h>

static void
s_walk (xinf_gguf_t *gguf)
{
    for (size_t index = 0; index < xinf_gguf_kv_count (gguf); index++)
        (void) xinf_gguf_kv_key (gguf, index);
    (void) xinf_gguf_tensor_count (gguf);
}

static void
s_tokenize (xinf_tokenizer_t *tokenizer)
{
    const char text [] = "Hello, world! 123 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82  \t\n";
    int32_t ids [256];
    long count = xinf_tokenizer_encode (tokenizer, text, sizeof text - 1, true, ids, 256);
    char back [1024];
    if (count > 0)
        xinf_tokenizer_decode (tokenizer, ids, count < 256 ? (size_t) count : 256, back, sizeof back);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool quiet = false;
    if (!quiet) {
        xinf_log_set_level (XINF_LOG_OFF);
        quiet = true;
    }
    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open_buffer (data, size, "fuzz.gguf", error, sizeof error);
    if (gguf)
        s_walk (gguf);
    xinf_gguf_destroy (&gguf);
    //  The loader reads files: the same bytes as one, in memory
    int fd = memfd_create ("fuzz.gguf", 0);
    if (fd < 0 || write (fd, data, size) != (ssize_t) size) {
        if (fd >= 0)
            close (fd);
        return 0;
    }
    char path [64];
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    xinf_model_destroy (&model);
    xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (path, error, sizeof error);
    if (tokenizer)
        s_tokenize (tokenizer);
    xinf_tokenizer_destroy (&tokenizer);
    close (fd);
    return 0;
}
