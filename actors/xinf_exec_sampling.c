/*  xinf_exec_sampling: an executor's sampling of a step's rows
    (xinf_exec_sampling.h).  */
#include "xinf_exec_sampling.h"
#include "xinf_batch.h"
#include "xinf_logprobs.h"
#include "xinf_penalties.h"
#include "xinf_samples.h"
#include "xinf_token_mask.h"

struct _xinf_exec_sampling_t {
    xinf_backend_t *backend;
    size_t max_rows, vocab;
    float *host_logits;               //  [host_rows][vocab], grown to max_rows when a step asks
    size_t host_rows;
    xinf_sample_row_t *rows;          //  [max_rows]: a step's sampling frame
    xinf_sampling_t *samples;         //  [max_rows]: its rows' sampling, for the backend's op
    xinf_penalty_t *penalties;        //  [max_rows]: its penalties, when it has them
    bool penalized;                   //  the step has a row with penalties
    int32_t *tokens;                  //  [max_rows]: the tokens sampled
    xinf_sampler_t *sampler;          //  the host path's
    const uint32_t **masks;           //  [max_rows]: each row's allowed tokens (NULL: all), in the STEP
    bool reporting;                   //  the step has a row that asks for logprobs
    xinf_logprobs_row_t *reports;     //  [max_rows], made at the first step that asks
    double *weights;                  //  [threads][vocab]: the scans' room
    xinf_threadpool_t *pool;          //  host rows are adjusted on it (NULL: in turn)
    //  Sampling by the backend's op: the rows stay in its memory (the
    //  host rows themselves for the CPU). NULL: sampled on the host
    float *backend_logits;
    double *uniforms;                 //  [max_rows]: each row's draw
};

//  The backend's rows for its sample op, when it has one: its memory, or
//  the host rows where its memory is the host's.
static void
s_start_op (xinf_exec_sampling_t *self, const char *name)
{
    xinf_backend_t *be = self->backend;
    self->uniforms = calloc (self->max_rows, sizeof (double));
    if (self->uniforms && be->host_memory)
        self->backend_logits = self->host_logits;       //  moved with them when they grow
    else
    if (self->uniforms)
        self->backend_logits = (float *) be->ops->alloc (be, self->max_rows * self->vocab * sizeof (float));
    if (!self->backend_logits)
        xinf_warn (name, "no %s memory for %zu logits rows of %zu: sampling on the host", be->ops->name,
                   self->max_rows, self->vocab);
}

xinf_exec_sampling_t *
xinf_exec_sampling_new (const char *name, xinf_backend_t *backend, bool use_op, size_t first_rows, size_t max_rows,
                        size_t vocab)
{
    xinf_exec_sampling_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  A device's rows are read into host rows: all of them from the start
    size_t host_rows = backend->host_memory && first_rows < max_rows ? first_rows : max_rows;
    *self = (xinf_exec_sampling_t) {
        .backend = backend, .max_rows = max_rows, .vocab = vocab, .host_rows = host_rows,
        .host_logits = calloc (host_rows * vocab, sizeof (float)),
        .rows = calloc (max_rows, sizeof (xinf_sample_row_t)), .samples = calloc (max_rows, sizeof (xinf_sampling_t)),
        .penalties = calloc (max_rows, sizeof (xinf_penalty_t)), .tokens = calloc (max_rows, sizeof (int32_t)),
        .sampler = xinf_sampler_new (0, 0, 1, 0),
        .masks = (const uint32_t **) calloc (max_rows, sizeof (uint32_t *))
    };
    if (!self->host_logits || !self->rows || !self->samples || !self->penalties || !self->tokens || !self->sampler
    ||  !self->masks) {
        xinf_exec_sampling_destroy (&self);
        return NULL;
    }
    if (use_op && backend->ops->sample)
        s_start_op (self, name);
    return self;
}

void
xinf_exec_sampling_destroy (xinf_exec_sampling_t **self_p)
{
    if (self_p && *self_p) {
        xinf_exec_sampling_t *self = *self_p;
        if (self->backend_logits && self->backend_logits != self->host_logits)
            self->backend->ops->free (self->backend, self->backend_logits);
        free (self->uniforms);
        free (self->host_logits);
        free (self->rows);
        free (self->samples);
        free (self->penalties);
        free (self->tokens);
        xinf_sampler_destroy (&self->sampler);
        free ((void *) self->masks);
        free (self->reports);
        free (self->weights);
        free (self);
        *self_p = NULL;
    }
}

//  The batch's n_out (its header's) into *n_out. 0, or -1 with the reason.
static int
s_batch_rows (xinf_exec_sampling_t *self, zframe_t *batch, size_t *n_out, char *error, size_t size)
{
    const unsigned char *header = zframe_data (batch);
    if (zframe_size (batch) < XINF_BATCH_HEADER) {
        snprintf (error, size, "the batch frame has %zu bytes, less than its header", zframe_size (batch));
        return -1;
    }
    *n_out = (size_t) header [16] | (size_t) header [17] << 8 | (size_t) header [18] << 16
           | (size_t) header [19] << 24;
    if (*n_out > self->max_rows) {
        snprintf (error, size, "field 'n_out': %zu logits rows, at most %zu", *n_out, self->max_rows);
        return -1;
    }
    return 0;
}

//  Whether row 'row' is trimmed by min-p (which greedy needs not).
static bool
s_trims (const xinf_exec_sampling_t *self, size_t row)
{
    return self->rows [row].min_p > 0 && self->rows [row].sampling.temperature > 0;
}

//  A scored row (a prompt token's log-probability) reports the model's
//  own distribution: no biases, penalties, mask or min-p. 0, or -1 naming
//  the row.
static int
s_check_scored (const xinf_exec_sampling_t *self, size_t n_out, char *error, size_t size)
{
    for (size_t row = 0; row < n_out; row++)
        if (self->rows [row].score >= 0
        &&  ((self->penalized && xinf_penalty_active (&self->penalties [row])) || self->masks [row]
             || self->rows [row].min_p > 0)) {
            snprintf (error, size, "field 'samples[%zu].score': a scored row takes no biases, penalties, mask "
                      "or min_p", row);
            return -1;
        }
    return 0;
}

int
xinf_exec_sampling_read (xinf_exec_sampling_t *self, zframe_t *batch, zframe_t *samples, zframe_t *penalties,
                         zframe_t *masks, char *error, size_t error_size)
{
    size_t n_out;
    self->penalized = false;
    self->reporting = false;
    if (s_batch_rows (self, batch, &n_out, error, error_size)
    ||  xinf_samples_decode (zframe_data (samples), zframe_size (samples), n_out, self->vocab, self->rows,
                             error, error_size))
        return -1;
    for (size_t row = 0; row < n_out; row++) {
        self->samples [row] = self->rows [row].sampling;
        self->reporting = self->reporting || self->rows [row].logprobs > 0;
    }
    if (penalties && xinf_penalties_decode (zframe_data (penalties), zframe_size (penalties), n_out, self->vocab,
                                            self->penalties, error, error_size))
        return -1;
    for (size_t row = 0; penalties && row < n_out; row++)
        self->penalized = self->penalized || xinf_penalty_active (&self->penalties [row]);
    if (masks && xinf_token_masks_decode (zframe_data (masks), zframe_size (masks), n_out, self->vocab, self->masks,
                                          error, error_size))
        return -1;
    for (size_t row = 0; !masks && row < n_out; row++)
        self->masks [row] = NULL;
    return s_check_scored (self, n_out, error, error_size);
}

//  Host rows for 'rows' rows: grown when fewer (the host backend's rows
//  move with them); false when out of memory.
static bool
s_host_room (xinf_exec_sampling_t *self, size_t rows)
{
    if (rows <= self->host_rows)
        return true;
    float *grown = realloc (self->host_logits, rows * self->vocab * sizeof (float));
    if (!grown)
        return false;
    if (self->backend_logits == self->host_logits)
        self->backend_logits = grown;
    self->host_logits = grown;
    self->host_rows = rows;
    return true;
}

float *
xinf_exec_sampling_logits (xinf_exec_sampling_t *self, bool sample, size_t n_out)
{
    if (n_out > self->max_rows || !s_host_room (self, n_out))
        return NULL;
    return sample && self->backend_logits ? self->backend_logits : self->host_logits;
}

const float *
xinf_exec_sampling_host_rows (const xinf_exec_sampling_t *self)
{
    return self->host_logits;
}

//  Whether the step's rows are in a device's memory (not the host's).
static bool
s_on_device (const xinf_exec_sampling_t *self)
{
    return self->backend_logits && self->backend_logits != self->host_logits;
}

//  Row 'row' in its host row: there already, or read from the device's
//  ('what' names the reader in the reason). NULL with the reason.
static float *
s_host_row (xinf_exec_sampling_t *self, size_t row, const char *what, char *error, size_t size)
{
    xinf_backend_t *be = self->backend;
    float *host = self->host_logits + row * self->vocab;
    if (s_on_device (self)
    &&  be->ops->read (be, host, self->backend_logits + row * self->vocab, self->vocab * sizeof (float))) {
        snprintf (error, size, "%s: logits row %zu could not be read from %s", what, row, be->ops->name);
        return NULL;
    }
    return host;
}

void
xinf_exec_sampling_set_pool (xinf_exec_sampling_t *self, xinf_threadpool_t *pool)
{
    free (self->weights);             //  made again for the pool's threads
    self->weights = NULL;
    self->pool = pool;
}

//  Room for the logprobs reports and the scans (a row of doubles a
//  thread), made at the first step that asks; false when out of memory.
static bool
s_reports_room (xinf_exec_sampling_t *self)
{
    if (!self->reports)
        self->reports = calloc (self->max_rows, sizeof (xinf_logprobs_row_t));
    if (!self->weights)
        self->weights = calloc ((size_t) xinf_threadpool_size (self->pool) * self->vocab, sizeof (double));
    return self->reports && self->weights;
}

//  Whether row 'row''s logits change before the draw (a device's row is
//  then written back).
static bool
s_changes (const xinf_exec_sampling_t *self, size_t row)
{
    return (self->penalized && xinf_penalty_active (&self->penalties [row])) || self->masks [row]
        || s_trims (self, row);
}

//  Whether row 'row' needs work before the draw: a change, or a scan.
static bool
s_adjusts (const xinf_exec_sampling_t *self, size_t row)
{
    return s_changes (self, row) || (self->reporting && self->rows [row].logprobs);
}

//  Row 'row' adjusted in 'host', its host row ('weights': a scan's
//  room): its biases and penalties; then its log-probabilities scanned
//  (the model's distribution with those, before any sampling filter);
//  then its token mask (constrained decoding); then min-p.
static void
s_adjust_row (xinf_exec_sampling_t *self, size_t row, float *host, double *weights)
{
    if (self->penalized && xinf_penalty_active (&self->penalties [row]))
        xinf_penalty_apply (&self->penalties [row], host);
    if (self->reporting && self->rows [row].logprobs)
        xinf_logprobs_scan (host, self->vocab, &self->reports [row], weights);
    if (self->masks [row])
        xinf_token_mask_apply (self->masks [row], host, self->vocab);
    if (s_trims (self, row))
        xinf_sampler_min_p (host, self->vocab, self->rows [row].sampling.temperature, self->rows [row].min_p);
}

//  A pool task: row 'task', in place.
static void
s_adjust_task (void *arg, size_t task, int thread)
{
    xinf_exec_sampling_t *self = arg;
    if (s_adjusts (self, task))
        s_adjust_row (self, task, self->host_logits + task * self->vocab, self->weights + (size_t) thread * self->vocab);
}

//  Before sampling, each row that asks, in its host row: rows in host
//  memory in place, spread over the pool; a device's rows one at a time,
//  each read into its host row first and written back when changed.
//  0, or -1 with the reason.
static int
s_adjust (xinf_exec_sampling_t *self, size_t n_out, char *error, size_t size)
{
    xinf_backend_t *be = self->backend;
    if (self->reporting && !s_reports_room (self))
        return xinf_fail (error, size, "out of memory for the step's log-probabilities");
    size_t adjusted = 0;
    for (size_t row = 0; row < n_out; row++) {
        adjusted += s_adjusts (self, row);
        if (self->reporting)
            self->reports [row].asked = self->rows [row].logprobs;
    }
    if (adjusted && !s_on_device (self)) {
        xinf_threadpool_run (adjusted > 1 ? self->pool : NULL, n_out, s_adjust_task, self);
        return 0;
    }
    for (size_t row = 0; adjusted && row < n_out; row++) {
        if (!s_adjusts (self, row))
            continue;
        float *host = s_host_row (self, row, "sampling", error, size);
        if (!host)
            return -1;
        s_adjust_row (self, row, host, self->weights);
        if (s_changes (self, row)
        &&  be->ops->write (be, self->backend_logits + row * self->vocab, host, self->vocab * sizeof (float)))
            return xinf_fail (error, size, "sampling: logits row %zu could not be written to %s", row,
                              be->ops->name);
    }
    return 0;
}

//  The rows sampled by the backend's op where they are. 0, or -1 with the
//  reason (the backend's status, or refused parameters).
static int
s_sample_on_backend (xinf_exec_sampling_t *self, size_t n_out, char *error, size_t size)
{
    xinf_backend_t *be = self->backend;
    for (size_t row = 0; row < n_out; row++)
        self->uniforms [row] = xinf_sampler_uniform (&self->samples [row]);
    if (be->ops->sample (be, self->backend_logits, n_out, self->vocab, self->samples, self->uniforms, self->tokens)
        == 0)
        return 0;
    char reason [400] = "";
    if (be->ops->status && be->ops->status (be, reason, sizeof reason))
        snprintf (error, size, "sampling on %s failed: %s", be->ops->name, reason);
    else
        snprintf (error, size, "sampling on %s refused the step's parameters", be->ops->name);
    return -1;
}

int
xinf_exec_sampling_run (xinf_exec_sampling_t *self, size_t n_out, char *error, size_t error_size)
{
    if (s_adjust (self, n_out, error, error_size))        //  rows that ask nothing are passed over
        return -1;
    if (self->backend_logits && s_sample_on_backend (self, n_out, error, error_size))
        return -1;
    for (size_t row = 0; !self->backend_logits && row < n_out; row++) {
        if (self->rows [row].score >= 0)
            continue;
        xinf_sampler_set (self->sampler, &self->rows [row].sampling);
        self->tokens [row] = xinf_sampler_sample (self->sampler, self->host_logits + row * self->vocab, self->vocab);
    }
    for (size_t row = 0; row < n_out; row++)          //  a scored row's token is the one it scores
        if (self->rows [row].score >= 0)
            self->tokens [row] = self->rows [row].score;
    for (size_t row = 0; self->reporting && row < n_out; row++)
        if (self->rows [row].logprobs)
            self->reports [row].logprob = xinf_logprobs_of (&self->reports [row], self->host_logits + row * self->vocab,
                                                            (uint32_t) self->tokens [row]);
    return 0;
}

const xinf_logprobs_row_t *
xinf_exec_sampling_reports (const xinf_exec_sampling_t *self)
{
    return self->reporting ? self->reports : NULL;
}

const int32_t *
xinf_exec_sampling_tokens (const xinf_exec_sampling_t *self)
{
    return self->tokens;
}
