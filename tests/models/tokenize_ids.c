/*  tokenize_ids: prints the ids xinf's tokenizer gives a text, for
    tokenize_llama.py to compare with llama.cpp's. The model file's
    tokenizer (xinf_model_load_tokenizer), with the BOS where the file asks
    for one; texts on stdin as records "<byte length>\n<bytes>", one line of
    ids each on stdout.

        tokenize_ids MODEL.gguf < RECORDS
*/
#include "xinf_model.h"
#include "xinf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: tokenize_ids MODEL.gguf < RECORDS\n");
        return 2;
    }
    char error [512];
    xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (argv [1], error, sizeof error);
    if (!tokenizer) {
        fprintf (stderr, "tokenize_ids: %s\n", error);
        return 1;
    }
    size_t length;
    int rc = 0;
    while (rc == 0 && scanf ("%zu", &length) == 1 && getchar () == '\n') {
        char *text = malloc (length + 1);
        int32_t *ids = malloc ((length + 2) * sizeof *ids);
        long count = -1;
        if (text && ids && fread (text, 1, length, stdin) == length)
            count = xinf_tokenizer_encode (tokenizer, text, length, xinf_tokenizer_add_bos (tokenizer), ids, length + 2);
        for (long index = 0; index < count; index++)
            printf (index ? " %d" : "%d", ids [index]);
        printf ("\n");
        rc = count < 0;
        free (text);
        free (ids);
    }
    xinf_tokenizer_destroy (&tokenizer);
    return rc;
}
