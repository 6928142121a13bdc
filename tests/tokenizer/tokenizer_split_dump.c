/*  tokenizer_split_dump: prints the gpt2 pre-tokenizer's splits for
    test_tokenizer_regex.py, or the NFC normalization for
    test_tokenizer_nfc.py, or for test_tokenizer_llama_split.py. Usage:
    tokenizer_split_dump NAME, NAME one of s_names below or nfc;
    stdin holds records "<byte length>\n<bytes>", stdout gets one line per
    record with the byte offsets where the pre-tokens end (nfc: the
    normalized bytes in hex).
*/
#include "xinf_tokenizer_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Prints the NFC form of the text in hex, on one line.
static void
print_nfc (const char *text, size_t length)
{
    size_t normal_length = 0;
    char *normal = xinf_tok_nfc (text, length, &normal_length);
    const char *out = normal ? normal : text;
    size_t size = normal ? normal_length : length;
    for (size_t i = 0; i < size; i++)
        printf ("%02x", (uint8_t) out [i]);
    printf ("\n");
    free (normal);
}

static const struct {
    const char *name;
    xinf_tok_pre_t pre;
} s_names [] = {
    { "gpt2", XINF_PRE_GPT2 }, { "llama3", XINF_PRE_LLAMA3 }, { "qwen2", XINF_PRE_QWEN2 },
    { "tekken", XINF_PRE_TEKKEN }, { "gpt4o", XINF_PRE_GPT4O }, { "refact", XINF_PRE_REFACT },
    { "deepseek-llm", XINF_PRE_DEEPSEEK_LLM }, { "deepseek-coder", XINF_PRE_DEEPSEEK_CODER },
    { "deepseek-v3", XINF_PRE_DEEPSEEK_V3 }, { "default", XINF_PRE_DEFAULT }, { "nfc", XINF_PRE_GPT2 },
};

int
main (int argc, char *argv [])
{
    int found = -1;
    for (size_t index = 0; argc == 2 && index < sizeof s_names / sizeof s_names [0]; index++)
        if (strcmp (argv [1], s_names [index].name) == 0)
            found = (int) index;
    if (found < 0) {
        fprintf (stderr, "usage: tokenizer_split_dump gpt2|llama3|qwen2|tekken|gpt4o|refact|"
                         "deepseek-llm|deepseek-coder|deepseek-v3|default|nfc\n");
        return 2;
    }
    xinf_tok_pre_t pre = s_names [found].pre;
    size_t length;
    while (scanf ("%zu", &length) == 1 && getchar () == '\n') {
        char *text = malloc (length + 1);
        if (!text || fread (text, 1, length, stdin) != length)
            return 1;
        if (strcmp (argv [1], "nfc") == 0) {
            print_nfc (text, length);
            free (text);
            continue;
        }
        size_t *ends;
        size_t count = xinf_tok_split (pre, text, length, &ends);
        for (size_t index = 0; index < count; index++)
            printf (index ? " %zu" : "%zu", ends [index]);
        printf ("\n");
        free (ends);
        free (text);
    }
    return 0;
}
