/*  fuzz_wire: bytes through the binary wire decoders that peers feed:
    the collective's frame header and control payload (a header frame,
    then a payload of the rest) and the batch of a tensor-parallel step
    (BTCH), its sampling frame (SMPL) and its biases and penalties (PNLB, applied
    to a row of logits when they decode), and TOKENS' log-probabilities
    (LGPR, each row asking what the frame says it has), and its token
    masks (TMSK, applied to a row of logits when they decode), with
    realistic limits.  */
#include "fuzz.h"

#include <string.h>
#include "xinf.h"
#include "xinf_coll_wire.h"
#include "xinf_batch.h"
#include "xinf_samples.h"
#include "xinf_penalties.h"
#include "xinf_logprobs.h"
#include "xinf_token_mask.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char reason [256];
    xinf_coll_header_t header;
    size_t split = size ? data [0] : 0;
    split = split < size ? split : size;
    xinf_coll_header_decode (data, split, size - split, &header, reason, sizeof reason);
    uint32_t group_size;
    char group [XINF_COLL_WIRE_GROUP_MAX + 1];
    xinf_coll_control_decode (data, size, &group_size, group);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    xinf_batch_limits_t limits = { .max_tokens = 512, .vocab = 1000, .context = 4096, .n_blocks = 256,
                                   .block_tokens = 16, .max_out = 64 };
    xinf_batch_buf_decode (batch, data, size, &limits, reason, sizeof reason);
    //  A window cache's limits: local tables checked against its pool and window
    limits.n_local_blocks = 40;
    limits.window = 37;
    xinf_batch_buf_decode (batch, data, size, &limits, reason, sizeof reason);
    xinf_batch_buf_destroy (&batch);
    xinf_sample_row_t rows [64];
    size_t count = size >= XINF_SAMPLES_HEADER ? (size - XINF_SAMPLES_HEADER) / XINF_SAMPLES_ROW : 0;
    xinf_samples_decode (data, size, count < 64 ? count : 64, 1000, rows, reason, sizeof reason);
    xinf_penalty_t penalties [64];
    uint32_t penalty_rows = 0;
    if (size >= 8)
        memcpy (&penalty_rows, data + 4, 4);
    penalty_rows = penalty_rows < 64 ? penalty_rows : 64;
    if (xinf_penalties_decode (data, size, penalty_rows, 1000, penalties, reason, sizeof reason) == 0) {
        static float logits [1000];
        for (uint32_t row = 0; row < penalty_rows; row++)
            xinf_penalty_apply (&penalties [row], logits);
    }
    //  The asked words as the frame's rows give them, walked as the
    //  decoder walks (what a replica that asked exactly that would hold)
    static xinf_logprobs_row_t reports [64];
    uint32_t asked [64] = { 0 };
    size_t at = 8;
    for (uint32_t row = 0; row < penalty_rows && at + 4 <= size; row++) {
        memcpy (&asked [row], data + at, 4);
        at += 4 + (asked [row] && asked [row] <= XINF_LOGPROBS_TOP_MAX + 1 ? 4 + (asked [row] - 1) * 8 : 0);
    }
    xinf_logprobs_decode (data, size, penalty_rows, asked, 1000, reports, reason, sizeof reason);
    //  Token masks of the rows and vocabulary the header says (up to 64 rows of 1000)
    uint32_t mask_rows = 0, mask_vocab = 0;
    if (size >= 12) {
        memcpy (&mask_rows, data + 4, 4);
        memcpy (&mask_vocab, data + 8, 4);
    }
    if (mask_rows <= 64 && mask_vocab >= 1 && mask_vocab <= 1000) {
        const uint32_t *masks [64];
        static float logits [1000];
        if (xinf_token_masks_decode (data, size, mask_rows, mask_vocab, masks, reason, sizeof reason) == 0)
            for (uint32_t row = 0; row < mask_rows; row++)
                if (masks [row])
                    xinf_token_mask_apply (masks [row], logits, mask_vocab);
    }
    return 0;
}
