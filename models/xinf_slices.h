/*  xinf_slices: the parts of a file's tensors that a model uses, and the
    one pass that reads them while the model loads.

    Addresses are in the file's image (xinf_gguf: memory laid out as the
    file, filled only where read). A slice is either a view (a whole
    tensor, or a range of its rows: the bytes are contiguous and are read
    into the image where they are) or a copy (the same range of columns of
    every row of a matrix: not contiguous in the file, so read into memory
    this object owns). xinf_slices_read reads every view and makes every
    copy, in file order, through the reader it was given, reporting byte
    progress; it reads nothing of the file that no slice names, so a
    tensor-parallel rank reads only its own part of the weights.

        xinf_slices_t *slices = xinf_slices_new (read_fn, gguf);
        const void *rows = xinf_slices_view (slices, data + first * row_bytes, count * row_bytes);
        void *columns = xinf_slices_copy (slices, data, rows, row_bytes, offset, bytes);
        if (xinf_slices_read (slices, progress, arg, error, sizeof error))
            ... cancelled, or the file could not be read
*/
#ifndef XINF_SLICES_H_INCLUDED
#define XINF_SLICES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _xinf_slices_t xinf_slices_t;

//  Bytes done out of total; returning false cancels the read.
typedef bool (xinf_slices_progress_fn) (uint64_t done, uint64_t total, void *arg);

//  Reads the file's 'bytes' bytes whose image is at 'at' into 'into'
//  (which may be 'at'); 0, or -1 with the reason in 'error'.
typedef int (xinf_slices_read_fn) (void *arg, const void *at, size_t bytes, void *into,
                                   char *error, size_t error_size);

xinf_slices_t *xinf_slices_new (xinf_slices_read_fn *read, void *arg);
//  Frees the copies too: destroy it after the model that uses them.
void xinf_slices_destroy (xinf_slices_t **self_p);

//  The 'bytes' bytes at 'data' are used where they are; returns 'data',
//  or NULL when out of memory.
const void *xinf_slices_view (xinf_slices_t *self, const void *data, size_t bytes);

//  Of 'rows' rows of 'row_bytes' bytes at 'data', the 'bytes' bytes at
//  'offset' in each row are used: returns the memory (rows x bytes, owned
//  by this object) that xinf_slices_read copies them into, or NULL when
//  out of memory.
void *xinf_slices_copy (xinf_slices_t *self, const void *data, size_t rows, size_t row_bytes,
                        size_t offset, size_t bytes);

//  Bytes of the file the slices use (each counted once per slice).
uint64_t xinf_slices_bytes (xinf_slices_t *self);

//  Reads every slice once (views: into the image; copies: made), calling
//  'progress' (may be NULL) every 16 MB and at the end. 0, or -1 when
//  'progress' returned false ("load cancelled") or a read failed (its
//  reason), in 'error'.
int xinf_slices_read (xinf_slices_t *self, xinf_slices_progress_fn *progress, void *arg,
                      char *error, size_t error_size);

#endif
