/*  test_gguf_corrupt: truncated, lying and malformed GGUF files. Each must
    give NULL and an error naming the problem: never a crash, an over-read
    (run under ASan: every image sits in a heap block of exactly its size)
    or a leak.
*/
#include "test_models.h"
#include "xinf_gguf_writer.h"

//  ---- a byte builder for hand-made files ----------------------------------------------

typedef struct {
    uint8_t data [8192];
    size_t size;
} s_buf_t;

static void
s_put (s_buf_t *self, const void *data, size_t size)
{
    CHECK (self->size + size <= sizeof self->data);
    memcpy (self->data + self->size, data, size);
    self->size += size;
}

static void
s_u32 (s_buf_t *self, uint32_t value)
{
    uint8_t bytes [4] = { (uint8_t) value, (uint8_t) (value >> 8), (uint8_t) (value >> 16), (uint8_t) (value >> 24) };
    s_put (self, bytes, 4);
}

static void
s_u64 (s_buf_t *self, uint64_t value)
{
    s_u32 (self, (uint32_t) value);
    s_u32 (self, (uint32_t) (value >> 32));
}

static void
s_str (s_buf_t *self, const char *text)
{
    s_u64 (self, strlen (text));
    s_put (self, text, strlen (text));
}

static void
s_header (s_buf_t *self, uint64_t tensors, uint64_t kvs)
{
    self->size = 0;
    s_put (self, "GGUF", 4);
    s_u32 (self, 3);
    s_u64 (self, tensors);
    s_u64 (self, kvs);
}

//  A tensor info: name, dims, type, offset.
static void
s_tensor (s_buf_t *self, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset)
{
    s_str (self, name);
    s_u32 (self, n_dims);
    for (uint32_t dim = 0; dim < n_dims; dim++)
        s_u64 (self, ne [dim]);
    s_u32 (self, type);
    s_u64 (self, offset);
}

//  Pads to 32 and appends 'data_size' bytes of tensor data.
static void
s_data (s_buf_t *self, size_t data_size)
{
    while (self->size % 32)
        self->data [self->size++] = 0;
    CHECK (self->size + data_size <= sizeof self->data);
    memset (self->data + self->size, 0x3c, data_size);
    self->size += data_size;
}

//  Parses exactly 'size' bytes from a heap copy; returns the reader or NULL.
static xinf_gguf_t *
s_parse (const uint8_t *bytes, size_t size, char *error, size_t error_size)
{
    uint8_t *copy = malloc (size ? size : 1);
    memcpy (copy, bytes, size);
    xinf_gguf_t *gguf = xinf_gguf_open_buffer (copy, size, "bad.gguf", error, error_size);
    if (gguf) {                         //  the image must outlive the reader: keep a copy
        xinf_gguf_destroy (&gguf);
        gguf = xinf_gguf_open_buffer (bytes, size, "bad.gguf", error, error_size);
    }
    free (copy);
    return gguf;
}

static void
s_expect (s_buf_t *buf, const char *needle, int line)
{
    char error [512] = "";
    xinf_gguf_t *gguf = s_parse (buf->data, buf->size, error, sizeof error);
    if (gguf || !strstr (error, needle) || strncmp (error, "bad.gguf: ", 10) != 0) {
        fprintf (stderr, "line %d: expected an error with \"%s\", got %s \"%s\"\n", line, needle,
                 gguf ? "success" : "error", error);
        exit (1);
    }
    xinf_gguf_destroy (&gguf);
}
#define EXPECT(buf, needle) s_expect ((buf), (needle), __LINE__)

static void
s_ok (s_buf_t *buf, int line)
{
    char error [512] = "";
    xinf_gguf_t *gguf = s_parse (buf->data, buf->size, error, sizeof error);
    if (!gguf) {
        fprintf (stderr, "line %d: expected success, got \"%s\"\n", line, error);
        exit (1);
    }
    xinf_gguf_destroy (&gguf);
}
#define EXPECT_OK(buf) s_ok ((buf), __LINE__)

//  ---- header and metadata -----------------------------------------------------------

static void
test_header (void)
{
    s_buf_t buf;
    s_header (&buf, 0, 0);
    EXPECT_OK (&buf);
    buf.data [3] = 'X';
    EXPECT (&buf, "not a GGUF file: the magic is 47 47 55 58");
    s_header (&buf, 0, 0);
    buf.data [4] = 1;
    EXPECT (&buf, "unsupported GGUF version 1 (xinf reads versions 2 and 3)");
    buf.data [4] = 4;
    EXPECT (&buf, "unsupported GGUF version 4");
    buf.data [4] = 0, buf.data [7] = 3;
    EXPECT (&buf, "big-endian GGUF");
    s_header (&buf, 0, 1ull << 40);
    EXPECT (&buf, "the metadata count 1099511627776 cannot fit");
    s_header (&buf, UINT64_MAX, 0);
    EXPECT (&buf, "the tensor count 18446744073709551615 cannot fit");
    buf.size = 3;
    EXPECT (&buf, "truncated: the magic needs 4 bytes at offset 0, the file has 3");
    s_header (&buf, 0, 0);
    buf.size = 20;
    EXPECT (&buf, "truncated: the metadata count needs 8 bytes at offset 16");
}

static void
test_metadata (void)
{
    s_buf_t buf;
    s_header (&buf, 0, 1);
    s_u64 (&buf, 1000);
    s_put (&buf, "abcdefghijklmnop", 16);
    EXPECT (&buf, "the key name of key 0 at offset 24 declares 1000 bytes, only 16 are left");
    s_header (&buf, 0, 1);
    s_u64 (&buf, UINT64_MAX);
    s_put (&buf, "abcdefghijklmnop", 16);
    EXPECT (&buf, "declares 18446744073709551615 bytes");

    s_header (&buf, 0, 1);
    s_str (&buf, "k");
    s_u32 (&buf, 8);
    s_u64 (&buf, 1ull << 62);
    s_put (&buf, "0123456789abcdef", 16);
    EXPECT (&buf, "the string value of key 0 'k' at offset 37 declares 4611686018427387904 bytes");

    s_header (&buf, 0, 1);
    s_str (&buf, "arr");
    s_u32 (&buf, 9), s_u32 (&buf, 4), s_u64 (&buf, 1ull << 61);
    s_u32 (&buf, 7);
    EXPECT (&buf, "key 0 'arr' declares 2305843009213693952 elements of type u32");

    s_header (&buf, 0, 1);
    s_str (&buf, "strings");
    s_u32 (&buf, 9), s_u32 (&buf, 8), s_u64 (&buf, 1000);
    s_str (&buf, "one"), s_str (&buf, "two");
    EXPECT (&buf, "key 0 'strings' declares 1000 elements of type string");

    s_header (&buf, 0, 1);
    s_str (&buf, "strings");
    s_u32 (&buf, 9), s_u32 (&buf, 8), s_u64 (&buf, 3);
    s_str (&buf, "one"), s_str (&buf, "two"), s_u64 (&buf, 17), s_put (&buf, "x", 1);
    EXPECT (&buf, "a string element of key 0 'strings' at offset");

    s_header (&buf, 0, 1);
    s_str (&buf, "k"), s_u32 (&buf, 13), s_u64 (&buf, 0);
    EXPECT (&buf, "key 0 'k' has unknown value type 13");
    s_header (&buf, 0, 1);
    s_str (&buf, "k"), s_u32 (&buf, 9), s_u32 (&buf, 9), s_u64 (&buf, 1), s_u32 (&buf, 4), s_u64 (&buf, 0);
    EXPECT (&buf, "key 0 'k' is an array of arrays");
    s_header (&buf, 0, 1);
    s_str (&buf, "k"), s_u32 (&buf, 9), s_u32 (&buf, 99), s_u64 (&buf, 0);
    EXPECT (&buf, "key 0 'k' is an array of unknown value type 99");
    s_header (&buf, 0, 1);
    s_str (&buf, "k"), s_u32 (&buf, 7), s_put (&buf, "\x02", 1);
    EXPECT (&buf, "the bool value of key 0 'k' at offset 37 is 2");
    s_header (&buf, 0, 1);
    s_str (&buf, "k"), s_u32 (&buf, 9), s_u32 (&buf, 7), s_u64 (&buf, 2), s_put (&buf, "\x01\x05", 2);
    EXPECT (&buf, "element 1 of the bool array key 0 'k' is 5");

    s_header (&buf, 0, 2);
    s_str (&buf, "k"), s_u32 (&buf, 4), s_u32 (&buf, 1);
    s_str (&buf, "k"), s_u32 (&buf, 4), s_u32 (&buf, 2);
    EXPECT (&buf, "duplicate metadata key 'k'");
    s_header (&buf, 0, 1);
    s_str (&buf, ""), s_u32 (&buf, 4), s_u32 (&buf, 1);
    EXPECT (&buf, "the key name of key 0 is empty or holds a NUL byte");
    s_header (&buf, 0, 1);
    s_u64 (&buf, 3), s_put (&buf, "a\0b", 3), s_u32 (&buf, 4), s_u32 (&buf, 1);
    EXPECT (&buf, "is empty or holds a NUL byte");
    s_header (&buf, 0, 1);
    s_str (&buf, "k"), s_u32 (&buf, 4), s_put (&buf, "\x01\x02", 2);
    EXPECT (&buf, "truncated: the value of key 0 'k' needs 4 bytes at offset 37, the file has 39");
}

static void
test_alignment (void)
{
    s_buf_t buf;
    s_header (&buf, 0, 1);
    s_str (&buf, "general.alignment"), s_u32 (&buf, 4), s_u32 (&buf, 48);
    EXPECT (&buf, "general.alignment is 48, not a power of two");
    s_header (&buf, 0, 1);
    s_str (&buf, "general.alignment"), s_u32 (&buf, 4), s_u32 (&buf, 0);
    EXPECT (&buf, "general.alignment is 0");
    s_header (&buf, 0, 1);
    s_str (&buf, "general.alignment"), s_u32 (&buf, 8), s_str (&buf, "32");
    EXPECT (&buf, "metadata key 'general.alignment' is a string, expected an integer");
    s_header (&buf, 0, 1);                              //  u64 is accepted
    s_str (&buf, "general.alignment"), s_u32 (&buf, 10), s_u64 (&buf, 64);
    EXPECT_OK (&buf);
}

//  ---- tensor infos --------------------------------------------------------------------

static void
s_one_tensor (s_buf_t *buf, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
              uint64_t offset, size_t data_size)
{
    s_header (buf, 1, 0);
    s_tensor (buf, name, n_dims, ne, type, offset);
    s_data (buf, data_size);
}

static void
test_tensors (void)
{
    s_buf_t buf;
    uint64_t ne [5] = { 8, 2, 1, 1, 1 };
    s_one_tensor (&buf, "w", 2, ne, 0, 0, 64);
    EXPECT_OK (&buf);
    s_one_tensor (&buf, "w", 0, ne, 0, 0, 64);
    EXPECT (&buf, "tensor 0 'w' has 0 dimensions (1 to 4 allowed)");
    s_one_tensor (&buf, "w", 5, ne, 0, 0, 64);
    EXPECT (&buf, "tensor 0 'w' has 5 dimensions");
    buf.size = 0;
    s_header (&buf, 1, 0), s_str (&buf, "w"), s_u32 (&buf, UINT32_MAX), s_data (&buf, 64);
    EXPECT (&buf, "has 4294967295 dimensions");

    uint64_t huge [2] = { 1ull << 32, 1ull << 32 };
    s_one_tensor (&buf, "w", 2, huge, 0, 0, 64);
    EXPECT (&buf, "tensor 0 'w': dimensions overflow (the element count exceeds 2^63 at dimension 1)");
    uint64_t wrap [3] = { 1ull << 62, 2, 2 };           //  the product wraps uint64 to 0
    s_one_tensor (&buf, "w", 3, wrap, 0, 0, 64);
    EXPECT (&buf, "dimensions overflow");
    uint64_t zero [2] = { 8, 0 };
    s_one_tensor (&buf, "w", 2, zero, 0, 0, 64);
    EXPECT (&buf, "tensor 0 'w': dimension 1 is 0");
    uint64_t negative [1] = { 1ull << 63 };
    s_one_tensor (&buf, "w", 1, negative, 0, 0, 64);
    EXPECT (&buf, "dimension 0 is 9223372036854775808 (must be 1 to 2^63-1)");
    uint64_t bytes_overflow [2] = { 1ull << 32, (1ull << 31) - 1 };
    s_one_tensor (&buf, "w", 2, bytes_overflow, 8, 0, 64);
    EXPECT (&buf, "tensor 0 'w': the data size overflows");

    s_one_tensor (&buf, "w", 2, ne, 99, 0, 64);
    EXPECT (&buf, "tensor 0 'w' has unknown ggml type 99");
    s_one_tensor (&buf, "w", 2, ne, 4, 0, 64);          //  Q4_2, removed from ggml
    EXPECT (&buf, "unknown ggml type 4");
    uint64_t odd [1] = { 33 };
    s_one_tensor (&buf, "w", 1, odd, 8, 0, 64);
    EXPECT (&buf, "tensor 0 'w': rows of 33 elements are not a multiple of the Q8_0 block size 32");

    s_one_tensor (&buf, "w", 2, ne, 0, 8, 128);
    EXPECT (&buf, "tensor 0 'w': the data offset 8 is not a multiple of the alignment 32");
    s_one_tensor (&buf, "w", 2, ne, 0, 1ull << 40, 64);
    EXPECT (&buf, "tensor 'w' (64 bytes at data offset 1099511627776) runs past the end of the file: the data section has 64 bytes");
    s_one_tensor (&buf, "w", 2, ne, 0, UINT64_MAX - 31, 64);
    EXPECT (&buf, "runs past the end of the file");
    s_one_tensor (&buf, "w", 2, ne, 0, 32, 64);         //  32 + 64 > 64
    EXPECT (&buf, "tensor 'w' (64 bytes at data offset 32) runs past the end");
    s_one_tensor (&buf, "w", 2, ne, 0, 0, 63);
    EXPECT (&buf, "runs past the end");

    //  The infos end at 24 + 9 + 4 + 16 + 4 + 8 = 65: the data would start at 96.
    buf.size = 0;
    s_header (&buf, 1, 0);
    s_tensor (&buf, "w", 2, ne, 0, 0);
    EXPECT (&buf, "truncated: the data section starts at offset 96, past the end of the file (65 bytes)");

    s_header (&buf, 2, 0);
    s_tensor (&buf, "w", 2, ne, 0, 0);
    s_tensor (&buf, "w", 2, ne, 0, 64);
    s_data (&buf, 128);
    EXPECT (&buf, "duplicate tensor name 'w'");

    char name [80];
    memset (name, 'n', 64);
    name [64] = 0;
    s_one_tensor (&buf, name, 2, ne, 0, 0, 64);
    EXPECT (&buf, "the name has 64 bytes (at most 63)");
    name [63] = 0;
    s_one_tensor (&buf, name, 2, ne, 0, 0, 64);
    EXPECT_OK (&buf);
    s_one_tensor (&buf, "", 2, ne, 0, 0, 64);
    EXPECT (&buf, "the tensor name of tensor 0 is empty");
}

//  ---- truncation and mutation of a real file ---------------------------------------------

//  A writer-made file with every kind of value and a few tensors.
static uint8_t *
s_reference (size_t *size, uint64_t *data_end)
{
    char path [300];
    test_path (path, sizeof path, "reference.gguf");
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    const char *tokens [] = { "<unk>", "\xe2\x96\x81the", "a", "b", "ab" };
    int32_t types [] = { 2, 1, 1, 1, 1 };
    float scores [] = { 0, -1, -2, -3, -4 };
    CHECK (xinf_gguf_writer_set_str (writer, "general.architecture", "llama") == 0);
    CHECK (xinf_gguf_writer_set_u32 (writer, "llama.block_count", 1) == 0);
    CHECK (xinf_gguf_writer_set_u64 (writer, "llama.context_length", 64) == 0);
    CHECK (xinf_gguf_writer_set_f32 (writer, "llama.rope.freq_base", 10000) == 0);
    CHECK (xinf_gguf_writer_set_bool (writer, "tokenizer.ggml.add_bos_token", true) == 0);
    CHECK (xinf_gguf_writer_set_str_array (writer, "tokenizer.ggml.tokens", tokens, NULL, 5) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "tokenizer.ggml.token_type", XINF_GGUF_INT32, types, 5) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "tokenizer.ggml.scores", XINF_GGUF_FLOAT32, scores, 5) == 0);
    uint64_t embd [2] = { 32, 5 }, norm [1] = { 32 }, matrix [2] = { 32, 32 };
    CHECK (xinf_gguf_writer_add_tensor (writer, "token_embd.weight", XINF_GGML_F16, 2, embd) == 0);
    CHECK (xinf_gguf_writer_add_tensor (writer, "output_norm.weight", XINF_GGML_F32, 1, norm) == 0);
    CHECK (xinf_gguf_writer_add_tensor (writer, "blk.0.attn_q.weight", XINF_GGML_Q8_0, 2, matrix) == 0);
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    uint8_t zeros [4096] = { 0 };
    for (size_t index = 0; index < 3; index++)
        CHECK (xinf_gguf_writer_write (writer, zeros, (size_t) xinf_gguf_writer_tensor_size (writer, index)) == 0);
    CHECK (xinf_gguf_writer_finish (writer) == 0);
    xinf_gguf_writer_destroy (&writer);
    uint8_t *bytes = test_read_file (path, size);
    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open_buffer (bytes, *size, "reference", error, sizeof error);
    CHECK (gguf);
    *data_end = 0;
    for (size_t index = 0; index < xinf_gguf_tensor_count (gguf); index++) {
        const xinf_gguf_tensor_t *tensor = xinf_gguf_tensor (gguf, index);
        uint64_t end = xinf_gguf_data_offset (gguf) + tensor->offset + tensor->size;
        *data_end = end > *data_end ? end : *data_end;
    }
    xinf_gguf_destroy (&gguf);
    return bytes;
}

//  Every cut in the header region and a sample in the data fails with a
//  reason; cuts after the last tensor's data (padding) still read.
static void
test_truncation (void)
{
    size_t size;
    uint64_t data_end;
    uint8_t *bytes = s_reference (&size, &data_end);
    char error [512];
    size_t cuts = 0;
    for (size_t cut = 0; cut < size; cut += cut < 700 ? 1 : 37) {
        xinf_gguf_t *gguf = s_parse (bytes, cut, error, sizeof error);
        if (cut < data_end) {
            if (gguf || !strstr (error, "bad.gguf: ")
            ||  !(strstr (error, "truncated") || strstr (error, "past the end") || strstr (error, "cannot fit")
               || strstr (error, "declares")))
                fprintf (stderr, "cut at %zu of %zu: %s\n", cut, size, gguf ? "read" : error);
            CHECK (!gguf);
        }
        else
            CHECK (gguf);
        xinf_gguf_destroy (&gguf);
        cuts++;
    }
    CHECK (cuts > 700);

    //  Through the file path too: the message names the file.
    char path [300];
    test_path (path, sizeof path, "cut.gguf");
    size_t samples [] = { 1, 5, 30, 100, 300, (size_t) data_end - 1 };
    for (size_t index = 0; index < sizeof samples / sizeof samples [0]; index++) {
        test_write_file (path, bytes, samples [index]);
        CHECK (xinf_gguf_open (path, error, sizeof error) == NULL);
        CHECK_HAS (error, path);
    }
    free (bytes);
}

//  Random byte changes in the header: whatever is read must be safe to use.
static void
test_mutation (void)
{
    size_t size;
    uint64_t data_end;
    uint8_t *bytes = s_reference (&size, &data_end);
    uint8_t *copy = malloc (size);
    uint64_t state = 0x5eed;
    size_t accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy (copy, bytes, size);
        int changes = 1 + (int) (state % 4);
        for (int change = 0; change < changes; change++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t) ((state >> 33) % (data_end < 600 ? data_end : 600));
            copy [at] = (state >> 20) & 1 ? (uint8_t) (state >> 24) : copy [at] ^ (uint8_t) (1u << ((state >> 24) & 7));
        }
        char error [512];
        xinf_gguf_t *gguf = xinf_gguf_open_buffer (copy, size, "mutant", error, sizeof error);
        if (!gguf)
            continue;
        accepted++;
        for (size_t index = 0; index < xinf_gguf_kv_count (gguf); index++) {
            const char *key = xinf_gguf_kv_key (gguf, index);
            uint64_t count = 0;
            xinf_gguf_type_t type;
            if (xinf_gguf_get_array (gguf, key, &type, &count) == 0)
                for (uint64_t element = 0; element < count; element++) {
                    double number;
                    size_t length;
                    if (type == XINF_GGUF_STRING)
                        CHECK (strlen (xinf_gguf_array_str (gguf, index, element, &length)) <= length);
                    else
                        xinf_gguf_array_float (gguf, index, element, &number);
                }
        }
        for (size_t index = 0; index < xinf_gguf_tensor_count (gguf); index++) {
            const xinf_gguf_tensor_t *tensor = xinf_gguf_tensor (gguf, index);
            const uint8_t *data = tensor->data;
            CHECK (data >= copy && data + tensor->size <= copy + size);
            volatile uint8_t sink = tensor->size ? data [tensor->size - 1] : 0;
            (void) sink;
        }
        xinf_gguf_destroy (&gguf);
    }
    CHECK (accepted > 0);
    free (copy);
    free (bytes);
}

int
main (void)
{
    test_scratch_begin ();
    RUN (test_header);
    RUN (test_metadata);
    RUN (test_alignment);
    RUN (test_tensors);
    RUN (test_truncation);
    RUN (test_mutation);
    test_scratch_end ();
    return 0;
}
