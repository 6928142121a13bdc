/*  xinf_batch: the batch of a forward step: builder, checks, wire form.  */
#include "xinf_batch.h"
#include "xinf_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined (__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#   error "the batch wire form is written as the host's int32: little-endian hosts only"
#endif

//  A growable int32 array.
typedef struct {
    int32_t *data;
    size_t count, capacity;
} s_ints_t;

struct _xinf_batch_buf_t {
    s_ints_t tokens, pos, seq, table_start, blocks, out, hid;
    s_ints_t lora;                    //  [n_seqs] once a sequence has an adapter, else empty
    s_ints_t local;                   //  [n_table] with window tables, else empty
    bool windowed;                    //  the sequences have window tables (local)
    xinf_batch_t view;
};

static int
s_reserve (s_ints_t *ints, size_t count)
{
    if (count <= ints->capacity)
        return 0;
    size_t capacity = ints->capacity ? ints->capacity : 64;
    while (capacity < count)
        capacity *= 2;
    int32_t *data = realloc (ints->data, capacity * sizeof (int32_t));
    if (!data)
        return -1;
    ints->data = data;
    ints->capacity = capacity;
    return 0;
}

static int
s_push (s_ints_t *ints, int32_t value)
{
    if (s_reserve (ints, ints->count + 1))
        return -1;
    ints->data [ints->count++] = value;
    return 0;
}

xinf_batch_buf_t *
xinf_batch_buf_new (void)
{
    xinf_batch_buf_t *self = calloc (1, sizeof *self);
    if (self)
        xinf_batch_buf_clear (self);
    return self;
}

void
xinf_batch_buf_destroy (xinf_batch_buf_t **self_p)
{
    if (self_p && *self_p) {
        xinf_batch_buf_t *self = *self_p;
        s_ints_t *arrays [] = { &self->tokens, &self->pos, &self->seq, &self->table_start, &self->blocks, &self->out,
                                &self->hid, &self->lora, &self->local };
        for (size_t index = 0; index < sizeof arrays / sizeof arrays [0]; index++)
            free (arrays [index]->data);
        free (self);
        *self_p = NULL;
    }
}

void
xinf_batch_buf_clear (xinf_batch_buf_t *self)
{
    self->tokens.count = self->pos.count = self->seq.count = 0;
    self->table_start.count = self->blocks.count = self->out.count = self->hid.count = self->lora.count = 0;
    self->local.count = 0;
    self->windowed = false;
}

int
xinf_batch_buf_add_seq (xinf_batch_buf_t *self, const int32_t *blocks, size_t count)
{
    return xinf_batch_buf_add_seq_windowed (self, blocks, NULL, count);
}

int
xinf_batch_buf_add_seq_windowed (xinf_batch_buf_t *self, const int32_t *blocks, const int32_t *local, size_t count)
{
    bool first = self->table_start.count == 0;
    if (!first && self->windowed != !!local)
        return -1;                    //  every sequence has window tables, or none
    if (first && s_push (&self->table_start, 0))
        return -1;
    self->windowed = local != NULL;
    if (s_reserve (&self->blocks, self->blocks.count + count) || s_push (&self->table_start, 0)
    ||  (local && s_reserve (&self->local, self->local.count + count + 1)))
        return -1;
    memcpy (self->blocks.data + self->blocks.count, blocks, count * sizeof (int32_t));
    self->blocks.count += count;
    if (local) {
        memcpy (self->local.data + self->local.count, local, count * sizeof (int32_t));
        self->local.count += count;
    }
    self->table_start.data [self->table_start.count - 1] = (int32_t) self->blocks.count;
    if (self->lora.count && s_push (&self->lora, 0))
        return -1;
    return (int) self->table_start.count - 2;
}

int
xinf_batch_buf_set_lora (xinf_batch_buf_t *self, int32_t seq, int32_t lora)
{
    size_t n_seqs = self->table_start.count ? self->table_start.count - 1 : 0;
    if (seq < 0 || (size_t) seq >= n_seqs || lora < 0)
        return -1;
    if (!lora && !self->lora.count)
        return 0;
    while (self->lora.count < n_seqs)
        if (s_push (&self->lora, 0))
            return -1;
    self->lora.data [seq] = lora;
    return 0;
}

int
xinf_batch_buf_add_token (xinf_batch_buf_t *self, int32_t token, int32_t pos, int32_t seq, bool logits)
{
    int32_t index = (int32_t) self->tokens.count;
    if (s_push (&self->tokens, token) || s_push (&self->pos, pos) || s_push (&self->seq, seq)
    ||  (logits && s_push (&self->out, index)))
        return -1;
    return 0;
}

int
xinf_batch_buf_add_hidden (xinf_batch_buf_t *self)
{
    if (self->tokens.count == 0)
        return -1;
    return s_push (&self->hid, (int32_t) self->tokens.count - 1);
}

const xinf_batch_t *
xinf_batch_buf_view (xinf_batch_buf_t *self)
{
    size_t n_seqs = self->table_start.count ? self->table_start.count - 1 : 0;
    self->view = (xinf_batch_t) {
        self->tokens.count, self->tokens.data, self->pos.data, self->seq.data,
        n_seqs, self->table_start.data, self->blocks.data, self->out.count, self->out.data,
        self->hid.count, self->hid.data, self->lora.count ? self->lora.data : NULL,
        self->windowed ? self->local.data : NULL
    };
    return &self->view;
}

//  Counts, and the block tables' shape.
static int
s_check_shape (const xinf_batch_t *batch, const xinf_batch_limits_t *limits, char *error, size_t error_size)
{
    if (batch->n == 0)
        return xinf_fail (error, error_size, "field 'n': a step needs at least one token");
    if (limits->max_tokens && batch->n > limits->max_tokens)
        return xinf_fail (error, error_size, "field 'n': %zu tokens, at most %zu a step", batch->n, limits->max_tokens);
    if (batch->n_seqs == 0 || batch->n_seqs > batch->n)
        return xinf_fail (error, error_size, "field 'n_seqs': %zu sequences for %zu tokens", batch->n_seqs, batch->n);
    if (batch->n_out > batch->n || (limits->max_out && batch->n_out > limits->max_out))
        return xinf_fail (error, error_size, "field 'n_out': %zu logits rows for %zu tokens (at most %zu)", batch->n_out,
                       batch->n, limits->max_out ? limits->max_out : batch->n);
    if (batch->n_hid > batch->n)
        return xinf_fail (error, error_size, "field 'n_hid': %zu hidden rows for %zu tokens", batch->n_hid, batch->n);
    size_t longest = (limits->context + limits->block_tokens - 1) / limits->block_tokens;
    if (batch->table_start [0] != 0)
        return xinf_fail (error, error_size, "field 'table_start[0]' must be 0");
    for (size_t s = 0; s < batch->n_seqs; s++) {
        //  In 64 bits: the fields are any int32 a peer sends (found by fuzz_wire)
        int64_t first = batch->table_start [s], end = batch->table_start [s + 1];
        if (end < first || (uint64_t) (end - first) > longest)
            return xinf_fail (error, error_size, "field 'table_start[%zu]': a table of %lld blocks (at most %zu)",
                           s + 1, (long long) (end - first), longest);
    }
    for (size_t s = 0; batch->lora && s < batch->n_seqs; s++)
        if (batch->lora [s] < 0 || (size_t) batch->lora [s] > limits->n_loras)
            return xinf_fail (error, error_size, "field 'lora[%zu]': adapter %d of the replica's %zu", s,
                           batch->lora [s], limits->n_loras);
    for (size_t b = 0; b < (size_t) batch->table_start [batch->n_seqs]; b++)
        if (batch->blocks [b] < 0 || (size_t) batch->blocks [b] >= limits->n_blocks)
            return xinf_fail (error, error_size, "field 'blocks[%zu]': block %d is outside the cache's %zu",
                           b, batch->blocks [b], limits->n_blocks);
    return 0;
}

//  Each token: id, sequence, position (covered, in order; each sequence's
//  first and last into first_pos and last_pos), and the logits rows.
static int
s_check_tokens (const xinf_batch_t *batch, const xinf_batch_limits_t *limits, int32_t *last_pos,
                int32_t *first_pos, char *error, size_t error_size)
{
    for (size_t i = 0; i < batch->n; i++) {
        int32_t token = batch->tokens [i], pos = batch->pos [i], seq = batch->seq [i];
        if (token < 0 || (size_t) token >= limits->vocab)
            return xinf_fail (error, error_size, "field 'tokens[%zu]': id %d is outside the vocabulary of %zu",
                           i, token, limits->vocab);
        if (seq < 0 || (size_t) seq >= batch->n_seqs)
            return xinf_fail (error, error_size, "field 'seq[%zu]': sequence %d of %zu", i, seq, batch->n_seqs);
        if (pos < 0 || (size_t) pos >= limits->context)
            return xinf_fail (error, error_size, "field 'pos[%zu]': position %d is outside the context of %zu",
                           i, pos, limits->context);
        size_t table = (size_t) (batch->table_start [seq + 1] - batch->table_start [seq]);
        if ((size_t) pos / limits->block_tokens >= table)
            return xinf_fail (error, error_size, "field 'pos[%zu]': position %d is beyond sequence %d's %zu blocks",
                           i, pos, seq, table);
        if (pos <= last_pos [seq])
            return xinf_fail (error, error_size, "field 'pos[%zu]': position %d of sequence %d after position %d",
                           i, pos, seq, last_pos [seq]);
        if (last_pos [seq] < 0)
            first_pos [seq] = pos;
        last_pos [seq] = pos;
    }
    for (size_t k = 0; k < batch->n_out; k++)
        if (batch->out [k] < 0 || (size_t) batch->out [k] >= batch->n || (k && batch->out [k] <= batch->out [k - 1]))
            return xinf_fail (error, error_size, "field 'out[%zu]': row %d (rows ascending, below %zu)",
                           k, batch->out [k], batch->n);
    for (size_t k = 0; k < batch->n_hid; k++)
        if (batch->hid [k] < 0 || (size_t) batch->hid [k] >= batch->n || (k && batch->hid [k] <= batch->hid [k - 1]))
            return xinf_fail (error, error_size, "field 'hid[%zu]': row %d (rows ascending, below %zu)",
                           k, batch->hid [k], batch->n);
    return 0;
}

//  A window cache's tables: each entry -1 or a block of the local pool,
//  and those of the positions a sequence's tokens attend to (the window
//  before its first token of the step, up to its last) never -1.
static int
s_check_windows (const xinf_batch_t *batch, const xinf_batch_limits_t *limits, const int32_t *first_pos,
                 const int32_t *last_pos, char *error, size_t error_size)
{
    if (!!batch->local_blocks != !!limits->n_local_blocks)
        return xinf_fail (error, error_size, limits->n_local_blocks
                       ? "field 'local_blocks': the local layers of this cache keep their own blocks: a step needs "
                         "their tables" : "field 'local_blocks': this cache has no pool of local blocks");
    if (!batch->local_blocks)
        return 0;
    for (size_t b = 0; b < (size_t) batch->table_start [batch->n_seqs]; b++)
        if (batch->local_blocks [b] < -1 || (int64_t) batch->local_blocks [b] >= (int64_t) limits->n_local_blocks)
            return xinf_fail (error, error_size, "field 'local_blocks[%zu]': block %d is outside the local pool's %zu",
                           b, batch->local_blocks [b], limits->n_local_blocks);
    for (size_t s = 0; s < batch->n_seqs; s++) {
        if (last_pos [s] < 0)
            continue;                 //  a sequence without tokens reads nothing
        size_t reach = (size_t) first_pos [s] + 1 > limits->window ? (size_t) first_pos [s] + 1 - limits->window : 0;
        for (size_t block = reach / limits->block_tokens; block <= (size_t) last_pos [s] / limits->block_tokens; block++)
            if (batch->local_blocks [batch->table_start [s] + (int32_t) block] < 0)
                return xinf_fail (error, error_size, "field 'local_blocks': sequence %zu's block %zu holds positions "
                               "its tokens attend to (window %zu from position %d) but is -1", s, block, limits->window,
                               first_pos [s]);
    }
    return 0;
}

int
xinf_batch_check (const xinf_batch_t *batch, const xinf_batch_limits_t *limits, char *error, size_t error_size)
{
    if (!limits->block_tokens || !limits->context)
        return xinf_fail (error, error_size, "the KV cache is not set up");
    if (s_check_shape (batch, limits, error, error_size))
        return -1;
    int32_t *last_pos = malloc (2 * batch->n_seqs * sizeof (int32_t));
    if (!last_pos)
        return xinf_fail (error, error_size, "out of memory checking %zu sequences", batch->n_seqs);
    int32_t *first_pos = last_pos + batch->n_seqs;
    for (size_t s = 0; s < batch->n_seqs; s++)
        last_pos [s] = first_pos [s] = -1;
    int rc = s_check_tokens (batch, limits, last_pos, first_pos, error, error_size);
    if (rc == 0)
        rc = s_check_windows (batch, limits, first_pos, last_pos, error, error_size);
    free (last_pos);
    return rc;
}

size_t
xinf_batch_wire_size (const xinf_batch_t *batch)
{
    size_t table = batch->n_seqs ? (size_t) batch->table_start [batch->n_seqs] : 0;
    size_t lora = batch->lora ? batch->n_seqs : 0, local = batch->local_blocks ? table : 0;
    return XINF_BATCH_HEADER + 4 * (3 * batch->n + batch->n_seqs + 1 + table + batch->n_out + batch->n_hid + lora
                                    + local);
}

static char *
s_put (char *at, const int32_t *values, size_t count)
{
    if (count)
        memcpy (at, values, count * sizeof (int32_t));
    return at + count * sizeof (int32_t);
}

void
xinf_batch_encode (const xinf_batch_t *batch, void *bytes)
{
    size_t table = (size_t) batch->table_start [batch->n_seqs];
    uint32_t flags = (batch->lora ? XINF_BATCH_LORA : 0) | (batch->local_blocks ? XINF_BATCH_WINDOWED : 0);
    uint32_t header [7] = { XINF_BATCH_MAGIC, (uint32_t) batch->n, (uint32_t) batch->n_seqs, (uint32_t) table,
                            (uint32_t) batch->n_out, (uint32_t) batch->n_hid, flags };
    char *at = bytes;
    memcpy (at, header, sizeof header);
    at = s_put (at + sizeof header, batch->tokens, batch->n);
    at = s_put (at, batch->pos, batch->n);
    at = s_put (at, batch->seq, batch->n);
    at = s_put (at, batch->table_start, batch->n_seqs + 1);
    at = s_put (at, batch->blocks, table);
    at = s_put (at, batch->out, batch->n_out);
    at = s_put (at, batch->hid, batch->n_hid);
    if (batch->lora)
        at = s_put (at, batch->lora, batch->n_seqs);
    if (batch->local_blocks)
        s_put (at, batch->local_blocks, table);
}

//  Takes 'count' int32 from *at into ints.
static int
s_take (s_ints_t *ints, const char **at, size_t count)
{
    if (s_reserve (ints, count))
        return -1;
    if (count)
        memcpy (ints->data, *at, count * sizeof (int32_t));
    ints->count = count;
    *at += count * sizeof (int32_t);
    return 0;
}

int
xinf_batch_buf_decode (xinf_batch_buf_t *self, const void *bytes, size_t size, const xinf_batch_limits_t *limits,
                       char *error, size_t error_size)
{
    xinf_batch_buf_clear (self);
    uint32_t header [7];
    if (size < XINF_BATCH_HEADER)
        return xinf_fail (error, error_size, "a step of %zu bytes is shorter than its %d-byte header", size, XINF_BATCH_HEADER);
    memcpy (header, bytes, sizeof header);
    if (header [0] != XINF_BATCH_MAGIC)
        return xinf_fail (error, error_size, "a step must start with \"BTCH\"");
    //  Every count is at most the words there are: no sum below can wrap
    size_t words = (size - XINF_BATCH_HEADER) / 4;
    size_t n = header [1], n_seqs = header [2], table = header [3], n_out = header [4], n_hid = header [5];
    uint32_t flags = header [6];
    bool lora = flags & XINF_BATCH_LORA, windowed = flags & XINF_BATCH_WINDOWED;
    if (flags & ~(uint32_t) (XINF_BATCH_LORA | XINF_BATCH_WINDOWED))
        return xinf_fail (error, error_size, "field 'flags': unknown bits 0x%x", (unsigned) flags);
    if (n > words || n_seqs > words || table > words || n_out > words || n_hid > words
    ||  size != XINF_BATCH_HEADER + 4 * (3 * n + n_seqs + 1 + table + n_out + n_hid + (lora ? n_seqs : 0)
                                         + (windowed ? table : 0)))
        return xinf_fail (error, error_size, "a step of %zu bytes does not match its counts (n %zu, n_seqs %zu, "
                       "n_table %zu, n_out %zu, n_hid %zu, flags 0x%x)", size, n, n_seqs, table, n_out, n_hid,
                       (unsigned) flags);
    const char *at = (const char *) bytes + XINF_BATCH_HEADER;
    if (s_take (&self->tokens, &at, n) || s_take (&self->pos, &at, n) || s_take (&self->seq, &at, n)
    ||  s_take (&self->table_start, &at, n_seqs + 1) || s_take (&self->blocks, &at, table)
    ||  s_take (&self->out, &at, n_out) || s_take (&self->hid, &at, n_hid)
    ||  s_take (&self->lora, &at, lora ? n_seqs : 0) || (windowed && s_reserve (&self->local, 1))
    ||  s_take (&self->local, &at, windowed ? table : 0)) {
        xinf_batch_buf_clear (self);
        return xinf_fail (error, error_size, "out of memory for a step of %zu tokens", n);
    }
    self->windowed = windowed;        //  its array exists (reserved) even for empty tables
    const xinf_batch_t *batch = xinf_batch_buf_view (self);
    if (self->table_start.data [n_seqs] != (int32_t) table) {
        xinf_batch_buf_clear (self);
        return xinf_fail (error, error_size, "field 'table_start[%zu]' must be n_table (%zu)", n_seqs, table);
    }
    if (xinf_batch_check (batch, limits, error, error_size)) {
        xinf_batch_buf_clear (self);
        return -1;
    }
    return 0;
}
