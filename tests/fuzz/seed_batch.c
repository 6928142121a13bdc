/*  seed_batch: writes valid wire forms of batches (models/xinf_batch.h)
    into a directory, as seeds for fuzz_wire: one decode step of three
    sequences, and a prompt chunk beside a decode token; and a penalties
    frame (models/xinf_penalties.h) of four rows, two with logit biases;
    and a log-probabilities frame (models/xinf_logprobs.h) of three rows;
    and a token masks frame (models/xinf_token_mask.h) of three rows.  */
#include "xinf_batch.h"
#include "xinf_penalties.h"
#include "xinf_logprobs.h"
#include "xinf_token_mask.h"

#include <stdio.h>
#include <stdlib.h>

//  Writes 'size' bytes as the seed 'name' (bytes NULL: fails).
static int
s_write_bytes (const char *directory, const char *name, const void *bytes, size_t size)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/%s", directory, name);
    FILE *file = bytes ? fopen (path, "wb") : NULL;
    int rc = file && fwrite (bytes, 1, size, file) == size ? 0 : -1;
    if (file)
        fclose (file);
    return rc;
}

static int
s_write (const char *directory, const char *name, xinf_batch_buf_t *batch)
{
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    size_t size = xinf_batch_wire_size (view);
    void *bytes = malloc (size);
    xinf_batch_encode (view, bytes);
    int rc = s_write_bytes (directory, name, bytes, size);
    free (bytes);
    return rc;
}

//  Four rows: none (no counts), penalized with repeats and biased,
//  none, penalized once and biased.
static int
s_write_penalties (const char *directory)
{
    xinf_penalties_t *penalties = xinf_penalties_new ();
    xinf_token_counts_t *counts = xinf_token_counts_new (6), *once = xinf_token_counts_new (1);
    uint32_t generated [6] = { 7, 3, 7, 999, 7, 3 };
    for (int at = 0; counts && at < 6; at++)
        xinf_token_counts_add (counts, generated [at]);
    if (once)
        xinf_token_counts_add (once, 0);
    xinf_logit_bias_t biases [3] = { { 0, -100 }, { 7, 0.5f }, { 998, 100 } };
    int rc = penalties && counts && once ? 0 : -1;
    rc = rc ? rc : xinf_penalties_add (penalties, 0, 0, NULL, NULL, 0);         //  first: an empty row
    rc = rc ? rc : xinf_penalties_add (penalties, 0.5f, 1.25f, counts, biases, 3);
    rc = rc ? rc : xinf_penalties_add (penalties, 0, 0, counts, NULL, 0);
    rc = rc ? rc : xinf_penalties_add (penalties, -2, 2, once, biases + 1, 1);
    xinf_token_counts_destroy (&counts);
    xinf_token_counts_destroy (&once);
    rc = rc ? rc : s_write_bytes (directory, "penalties4", xinf_penalties_data (penalties),
                                  xinf_penalties_size (penalties));
    xinf_penalties_destroy (&penalties);
    return rc;
}

//  Three rows of log-probabilities: 3 asked, none, 1 asked.
static int
s_write_logprobs (const char *directory)
{
    xinf_logprobs_row_t rows [3] = { { .asked = 3, .logprob = -0.5f, .top = { { 9, -0.25f }, { 4, -1.5f } } },
                                     { .asked = 0 }, { .asked = 1, .logprob = -3 } };
    size_t size = xinf_logprobs_wire_size (rows, 3);
    void *bytes = malloc (size);
    xinf_logprobs_encode (rows, 3, bytes);
    int rc = s_write_bytes (directory, "logprobs3", bytes, size);
    free (bytes);
    return rc;
}

//  Three rows of token masks over 100 tokens: masked, not, masked.
static int
s_write_masks (const char *directory)
{
    uint32_t first [4] = { 0x1u, 0, 0, 0x8u }, third [4] = { 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xfu };
    xinf_token_masks_t *masks = xinf_token_masks_new (3, 100);
    int rc = masks && xinf_token_masks_add (masks, first) == 0 && xinf_token_masks_add (masks, NULL) == 0
          && xinf_token_masks_add (masks, third) == 0 ? 0 : -1;
    if (rc == 0)
        rc = s_write_bytes (directory, "masks3", xinf_token_masks_data (masks), xinf_token_masks_size (masks));
    xinf_token_masks_destroy (&masks);
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
    //  A window cache's step: local tables, -1 before the windows
    batch = xinf_batch_buf_new ();
    int32_t blocks [6] = { 0, 1, 2, 3, 4, 5 }, local [6] = { -1, 7, 8, 9, 10, 11 };
    xinf_batch_buf_add_seq_windowed (batch, blocks, local, 5);      //  (fuzz_wire's window 37: from block 1)
    for (int32_t pos = 60; pos < 70; pos++)
        xinf_batch_buf_add_token (batch, 7 + pos, pos, 0, pos == 69);
    xinf_batch_buf_add_seq_windowed (batch, blocks + 5, local + 5, 1);
    xinf_batch_buf_add_token (batch, 3, 2, 1, true);
    rc |= s_write (argv [1], "windowed", batch);
    xinf_batch_buf_destroy (&batch);
    rc |= s_write_penalties (argv [1]);
    rc |= s_write_logprobs (argv [1]);
    rc |= s_write_masks (argv [1]);
    return rc ? 1 : 0;
}
