/*  xinf_exec_sampling: how an executor samples a step's logits rows
    (protocols/model.md, STEP's second and third frames).

    It reads and checks the STEP's sampling frame (xinf_samples.h) and
    its penalties (xinf_penalties.h), says where the step writes its
    logits, applies the penalties where the rows are, and samples each
    row into a token id.

    A backend with a sample op samples where the logits are: a GPU brings
    back only the token ids, the CPU spreads the rows over its threads.
    The op does everything a sampling frame asks (greedy, temperature,
    top-k, top-p), so every sampled step uses it; backends without the op
    (and a follower rank, which samples nothing) keep the host path, one
    row after another on the executor's thread. Without backend memory
    for the rows the host path serves too, said once in the log.
    Before the draw, a row with biases or penalties is changed, a row that
    asks for log-probabilities scanned, a row with a token mask masked
    (xinf_token_mask.h) and a row with min-p trimmed (xinf_sampler_min_p),
    in that order, in host memory: in place for the
    CPU; a row in a GPU's memory is read once, and written back when
    changed, one such row at a time, so that the step's logits and its
    CUDA graphs stay where they were; rows in host memory are spread over
    the CPU backend's pool (a scan of 152k logits takes about half a
    millisecond, and a scored prompt asks up to 64 rows a step). The
    sampled token's logprob is taken after the draw.
*/
#ifndef XINF_EXEC_SAMPLING_H_INCLUDED
#define XINF_EXEC_SAMPLING_H_INCLUDED

#include "xinf.h"
#include "xinf_backend.h"
#include "xinf_logprobs.h"
#include "xinf_threadpool.h"

typedef struct _xinf_exec_sampling_t xinf_exec_sampling_t;

//  Sampling of up to 'max_rows' rows of 'vocab' logits for executor
//  'name' on 'backend' (its sample op, when it has one and 'use_op'). Its
//  host rows are made for 'first_rows' rows where the backend's memory is
//  the host's, and grow when a step asks more (a scored prompt); for a
//  device, for max_rows. NULL when out of memory.
xinf_exec_sampling_t *xinf_exec_sampling_new (const char *name, xinf_backend_t *backend, bool use_op,
                                              size_t first_rows, size_t max_rows, size_t vocab);
void xinf_exec_sampling_destroy (xinf_exec_sampling_t **self_p);

//  Adjusts rows in host memory on 'pool' (not owned; NULL: one after
//  another on the caller's thread).
void xinf_exec_sampling_set_pool (xinf_exec_sampling_t *self, xinf_threadpool_t *pool);

//  Reads a STEP's sampling frame, its penalties frame and its token masks
//  (each NULL: none; the masks stay in the STEP's frame until the run),
//  one row per logits row of 'batch' (the batch frame: its header's
//  n_out, at most max_rows; the batch itself is checked by the step).
//  0, or -1 with the reason naming the field.
int xinf_exec_sampling_read (xinf_exec_sampling_t *self, zframe_t *batch, zframe_t *samples, zframe_t *penalties,
                             zframe_t *masks, char *error, size_t error_size);

//  Where a step of 'n_out' rows writes its logits: the backend's memory
//  when its rows are to be sampled ('sample') by its op, else the host
//  rows (grown for them first). NULL when out of memory or n_out is over
//  max_rows.
float *xinf_exec_sampling_logits (xinf_exec_sampling_t *self, bool sample, size_t n_out);
//  The host rows (a step without sampling: LOGITS's).
const float *xinf_exec_sampling_host_rows (const xinf_exec_sampling_t *self);

//  The step's 'n_out' rows adjusted and sampled (as the last read said);
//  0, or -1 with the reason.
int xinf_exec_sampling_run (xinf_exec_sampling_t *self, size_t n_out, char *error, size_t error_size);

//  The tokens the last run sampled, n_out of them.
const int32_t *xinf_exec_sampling_tokens (const xinf_exec_sampling_t *self);

//  The log-probabilities the last run's rows report (xinf_logprobs.h),
//  n_out of them, or NULL when no row asked.
const xinf_logprobs_row_t *xinf_exec_sampling_reports (const xinf_exec_sampling_t *self);

#endif
