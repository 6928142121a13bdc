/*  xinf_slices: the parts of a file a model uses, read once.  */
#include "xinf_slices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define VIEW_CHUNK (4u << 20)         //  bytes a view reads at a time
#define PROGRESS_EVERY (16u << 20)     //  bytes between progress calls
#define HUGE_PAGE (2u << 20)           //  a transparent huge page (x86-64, arm64 with 4 KB pages)
#define HUGE_GAP (64u << 10)           //  views this close count as one run of memory

typedef struct {
    const unsigned char *source;
    size_t rows, row_bytes;            //  a view: one row of 'bytes'
    size_t offset, bytes;              //  used bytes of each row
    unsigned char *copy;               //  rows x bytes, NULL for a view
} s_slice_t;

struct _xinf_slices_t {
    xinf_slices_read_fn *read;
    void *read_arg;
    s_slice_t *slices;
    size_t count, capacity;
    uint64_t total;
};

//  Progress of one read.
typedef struct {
    xinf_slices_t *self;
    xinf_slices_progress_fn *progress;
    void *arg;
    uint64_t done, reported, total;
    char *error;
    size_t error_size;
} s_reading_t;

xinf_slices_t *
xinf_slices_new (xinf_slices_read_fn *read, void *arg)
{
    xinf_slices_t *self = calloc (1, sizeof (xinf_slices_t));
    if (self) {
        self->read = read;
        self->read_arg = arg;
    }
    return self;
}

void
xinf_slices_destroy (xinf_slices_t **self_p)
{
    if (self_p && *self_p) {
        xinf_slices_t *self = *self_p;
        for (size_t index = 0; index < self->count; index++)
            free (self->slices [index].copy);
        free (self->slices);
        free (self);
        *self_p = NULL;
    }
}

static s_slice_t *
s_append (xinf_slices_t *self)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? 2 * self->capacity : 64;
        s_slice_t *slices = realloc (self->slices, capacity * sizeof (s_slice_t));
        if (!slices)
            return NULL;
        self->slices = slices;
        self->capacity = capacity;
    }
    return &self->slices [self->count++];
}

const void *
xinf_slices_view (xinf_slices_t *self, const void *data, size_t bytes)
{
    s_slice_t *slice = s_append (self);
    if (!slice)
        return NULL;
    *slice = (s_slice_t) { data, 1, bytes, 0, bytes, NULL };
    self->total += bytes;
    return data;
}

void *
xinf_slices_copy (xinf_slices_t *self, const void *data, size_t rows, size_t row_bytes, size_t offset, size_t bytes)
{
    size_t size = rows * bytes;
    unsigned char *copy = malloc (size ? size : 1);
    s_slice_t *slice = copy ? s_append (self) : NULL;
    if (!slice) {
        free (copy);
        return NULL;
    }
    *slice = (s_slice_t) { data, rows, row_bytes, offset, bytes, copy };
    self->total += (uint64_t) rows * bytes;
    return copy;
}

uint64_t
xinf_slices_bytes (xinf_slices_t *self)
{
    return self->total;
}

//  Counts bytes read; false when the progress callback cancels.
static bool
s_advance (s_reading_t *reading, uint64_t bytes)
{
    reading->done += bytes;
    if (reading->progress && reading->done - reading->reported >= PROGRESS_EVERY) {
        reading->reported = reading->done;
        if (!reading->progress (reading->done, reading->total, reading->arg)) {
            snprintf (reading->error, reading->error_size, "load cancelled");
            return false;
        }
    }
    return true;
}

static bool
s_load (s_reading_t *reading, const unsigned char *at, size_t bytes, void *into)
{
    xinf_slices_t *self = reading->self;
    return self->read (self->read_arg, at, bytes, into, reading->error, reading->error_size) == 0
        && s_advance (reading, bytes);
}

//  A view is read into the image where it is, in chunks.
static bool
s_read_view (const s_slice_t *slice, s_reading_t *reading)
{
    for (size_t at = 0; at < slice->bytes; at += VIEW_CHUNK) {
        size_t step = slice->bytes - at < VIEW_CHUNK ? slice->bytes - at : VIEW_CHUNK;
        if (!s_load (reading, slice->source + at, step, (void *) (slice->source + at)))
            return false;
    }
    return true;
}

static bool
s_read_copy (const s_slice_t *slice, s_reading_t *reading)
{
    for (size_t row = 0; row < slice->rows; row++)
        if (!s_load (reading, slice->source + row * slice->row_bytes + slice->offset, slice->bytes,
                     slice->copy + row * slice->bytes))
            return false;
    return true;
}

static int
s_compare (const void *a, const void *b)
{
    uintptr_t first = (uintptr_t) ((const s_slice_t *) a)->source, second = (uintptr_t) ((const s_slice_t *) b)->source;
    return first < second ? -1 : first > second;
}

//  Asks for huge pages on the whole huge pages inside [start, end): decode
//  streams every weight each token, and on a VM a 4 KB page costs a TLB
//  walk through two page tables (a plain 2-thread read of 1 GB: 20 GB/s
//  from 4 KB pages, 29 from 2 MB ones; the matvecs, which prefetch far
//  ahead, gain less: 1.01x to 1.09x, xinf-bench-kernels --pages). Only
//  pages inside the views, so a rank that uses part of a tensor holds no
//  more of its memory than that; a hint, ignored where the system has
//  none or turned them off.
static void
s_advise_huge (uintptr_t start, uintptr_t end)
{
#ifdef MADV_HUGEPAGE
    uintptr_t first = (start + HUGE_PAGE - 1) & ~(uintptr_t) (HUGE_PAGE - 1);
    uintptr_t last = end & ~(uintptr_t) (HUGE_PAGE - 1);
    if (last > first)
        madvise ((void *) first, last - first, MADV_HUGEPAGE);
#else
    (void) start, (void) end;
#endif
}

//  The views (in file order) as runs of nearly adjacent memory, each run
//  advised to huge pages before it is read into.
static void
s_advise_views (xinf_slices_t *self)
{
    uintptr_t start = 0, end = 0;
    for (size_t index = 0; index < self->count; index++) {
        const s_slice_t *slice = &self->slices [index];
        if (slice->copy)
            continue;
        uintptr_t from = (uintptr_t) slice->source, to = from + slice->bytes;
        if (end && from <= end + HUGE_GAP) {
            end = to > end ? to : end;
            continue;
        }
        if (end)
            s_advise_huge (start, end);
        start = from;
        end = to;
    }
    if (end)
        s_advise_huge (start, end);
}

int
xinf_slices_read (xinf_slices_t *self, xinf_slices_progress_fn *progress, void *arg, char *error, size_t error_size)
{
    if (self->count > 1)
        qsort (self->slices, self->count, sizeof (s_slice_t), s_compare);     //  file order
    s_advise_views (self);
    s_reading_t reading = { self, progress, arg, 0, 0, self->total, error, error_size };
    for (size_t index = 0; index < self->count; index++) {
        const s_slice_t *slice = &self->slices [index];
        if (!(slice->copy ? s_read_copy (slice, &reading) : s_read_view (slice, &reading)))
            return -1;
    }
    if (progress && !progress (reading.done, reading.total, arg)) {
        snprintf (error, error_size, "load cancelled");
        return -1;
    }
    return 0;
}
