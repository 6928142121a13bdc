/*  seed_batch: writes valid wire forms of batches (models/xinf_batch.h)
    into a directory, as seeds for fuzz_wire: one decode step of three
    sequences, and a prompt chunk beside a decode token.  */
#include "xinf_batch.h"

#include <stdio.h>
#include <stdlib.h>

static int
s_write (const char *directory, const char *name, xinf_batch_buf_t *batch)
{
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    size_t size = xinf_batch_wire_size (view);
    void *bytes = malloc (size);
    xinf_batch_encode (view, bytes);
    char path [4096];
    snprintf (path, sizeof path, "%s/%s", directory, name);
    FILE *file = fopen (path, "wb");
    int rc = file && fwrite (bytes, 1, size, file) == size ? 0 : -1;
    if (file)
        fclose (file);
    free (bytes);
    return rc;
}

int
main (int argc, char *argv [])
{
    if (argc != 2) {
        fprintf (stderr, "usage: seed_batch DIR\n");
        return 2;
    }
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    for (int32_t seq = 0; seq < 3; seq++) {
        int32_t blocks [2] = { seq * 2, seq * 2 + 1 };
        xinf_batch_buf_add_seq (batch, blocks, 2);
        xinf_batch_buf_add_token (batch, 5 + seq, 17, seq, true);
    }
    int rc = s_write (argv [1], "decode3", batch);
    xinf_batch_buf_destroy (&batch);
    batch = xinf_batch_buf_new ();
    int32_t first [1] = { 0 }, second [2] = { 1, 2 };
    xinf_batch_buf_add_seq (batch, first, 1);
    xinf_batch_buf_add_seq (batch, second, 2);
    xinf_batch_buf_add_token (batch, 9, 3, 0, true);
    for (int32_t pos = 0; pos < 20; pos++)
        xinf_batch_buf_add_token (batch, 100 + pos, pos, 1, pos == 19);
    rc |= s_write (argv [1], "prefill_decode", batch);
    xinf_batch_buf_destroy (&batch);
    return rc ? 1 : 0;
}
