/*  test_graph: the host side of CUDA graphs for decode steps
    (models/xinf_graph): the bucket of every step size up to and beyond
    the largest bucket, which batches are decode steps, and the padding
    of a decode step to its bucket (the real tokens unchanged, the padding
    tokens the last one again in sequences of their own with copies of its
    block table, every row's logits wanted).  */
#include "test_unit.h"
#include "xinf_graph.h"

static void
s_test_bucket (void)
{
    //  Powers of two up to max, max itself the last bucket
    size_t expected_16 [] = { 0, 1, 2, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16, 16 };
    for (size_t n = 0; n <= 16; n++)
        CHECK_INT (xinf_graph_bucket (n, 16), expected_16 [n]);
    CHECK_INT (xinf_graph_bucket (17, 16), 0);
    size_t expected_12 [] = { 0, 1, 2, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12 };
    for (size_t n = 0; n <= 12; n++)
        CHECK_INT (xinf_graph_bucket (n, 12), expected_12 [n]);
    CHECK_INT (xinf_graph_bucket (13, 12), 0);
    CHECK_INT (xinf_graph_bucket (1, 1), 1);
    CHECK_INT (xinf_graph_bucket (2, 1), 0);
    CHECK_INT (xinf_graph_bucket (1, 0), 0);
    CHECK_INT (xinf_graph_bucket (33, 256), 64);
    CHECK_INT (xinf_graph_bucket (200, 256), 256);
    CHECK_INT (xinf_graph_bucket (1, (size_t) 1 << XINF_GRAPH_BUCKETS), 0);     //  beyond the table
    //  Every bucket has an index of its own, below XINF_GRAPH_BUCKETS
    CHECK_INT (xinf_graph_bucket_index (1), 0);
    CHECK_INT (xinf_graph_bucket_index (2), 1);
    CHECK_INT (xinf_graph_bucket_index (8), 3);
    CHECK_INT (xinf_graph_bucket_index (12), 4);          //  max 12: above 8, its own
    CHECK_INT (xinf_graph_bucket_index (256), 8);
    CHECK_INT (xinf_graph_bucket_index ((size_t) 1 << (XINF_GRAPH_BUCKETS - 1)), XINF_GRAPH_BUCKETS - 1);
}

static void
s_test_decode_only (void)
{
    int32_t tokens [] = { 5, 6, 7 }, pos [] = { 10, 3, 40 }, seq [] = { 2, 0, 1 }, out [] = { 0, 1, 2 };
    int32_t table_start [] = { 0, 1, 2, 5 }, blocks [] = { 4, 9, 1, 2, 3 };
    xinf_batch_t batch = { 3, tokens, pos, seq, 3, table_start, blocks, 3, out, 0, NULL, NULL, NULL };
    CHECK (xinf_graph_decode_only (&batch));
    //  A sequence twice (a prompt chunk), fewer logits rows, out of order, a prefill
    int32_t seq_twice [] = { 0, 0, 1 };
    xinf_batch_t twice = batch;
    twice.seq = seq_twice;
    CHECK (!xinf_graph_decode_only (&twice));
    xinf_batch_t fewer = batch;
    fewer.n_out = 1;
    int32_t last [] = { 2 };
    fewer.out = last;
    CHECK (!xinf_graph_decode_only (&fewer));
    int32_t shuffled [] = { 1, 0, 2 };
    xinf_batch_t reordered = batch;
    reordered.out = shuffled;
    CHECK (!xinf_graph_decode_only (&reordered));
    xinf_batch_t prefill = { 3, tokens, pos, seq_twice, 2, table_start, blocks, 1, last, 0, NULL, NULL, NULL };
    CHECK (!xinf_graph_decode_only (&prefill));
    xinf_batch_t empty = batch;
    empty.n = empty.n_seqs = empty.n_out = 0;
    CHECK (!xinf_graph_decode_only (&empty));
}

static void
s_test_pad (void)
{
    //  Sequence 0 has blocks {4}, 1 has {9}, 2 has {1, 2, 3}; the last token is sequence 1's
    int32_t tokens [] = { 5, 6, 7 }, pos [] = { 10, 40, 3 }, seq [] = { 0, 2, 1 }, out [] = { 0, 1, 2 };
    int32_t table_start [] = { 0, 1, 2, 5 }, blocks [] = { 4, 9, 1, 2, 3 };
    xinf_batch_t batch = { 3, tokens, pos, seq, 3, table_start, blocks, 3, out, 0, NULL, NULL, NULL };
    xinf_graph_pad_t *pad = xinf_graph_pad_new ();
    xinf_batch_t padded;
    CHECK_INT (xinf_graph_pad (pad, &batch, 2, &padded), -1);        //  below n
    CHECK_INT (xinf_graph_pad (pad, &batch, 4, &padded), 0);
    CHECK_INT (padded.n, 4);
    CHECK_INT (padded.n_seqs, 4);
    CHECK_INT (padded.n_out, 4);
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT (padded.tokens [i], tokens [i]);
        CHECK_INT (padded.pos [i], pos [i]);
        CHECK_INT (padded.seq [i], seq [i]);
    }
    CHECK_INT (padded.tokens [3], 7);
    CHECK_INT (padded.pos [3], 3);
    CHECK_INT (padded.seq [3], 3);
    int32_t starts [] = { 0, 1, 2, 5, 6 };
    for (size_t s = 0; s <= 4; s++)
        CHECK_INT (padded.table_start [s], starts [s]);
    CHECK_INT (padded.blocks [5], 9);                                 //  sequence 1's table again
    for (size_t i = 0; i < 4; i++)
        CHECK_INT (padded.out [i], (int64_t) i);
    CHECK (xinf_graph_decode_only (&padded));
    //  A bigger bucket later reuses and grows the pad
    CHECK_INT (xinf_graph_pad (pad, &batch, 16, &padded), 0);
    CHECK_INT (padded.n, 16);
    CHECK_INT (padded.table_start [16], 5 + 13);
    for (size_t i = 3; i < 16; i++) {
        CHECK_INT (padded.seq [i], (int64_t) i);
        CHECK_INT (padded.blocks [padded.table_start [i]], 9);
    }
    //  No padding when n is a bucket already
    CHECK_INT (xinf_graph_pad (pad, &batch, 3, &padded), 0);
    CHECK_INT (padded.n, 3);
    CHECK_INT (padded.table_start [3], 5);
    xinf_graph_pad_destroy (&pad);
    CHECK (pad == NULL);
    xinf_graph_pad_destroy (&pad);
}

int
main (void)
{
    s_test_bucket ();
    s_test_decode_only ();
    s_test_pad ();
    printf ("unit_graph: OK\n");
    return 0;
}
