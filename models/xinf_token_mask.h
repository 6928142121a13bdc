/*  xinf_token_mask: which tokens a STEP's rows may sample (constrained
    decoding: protocols/model.md, the STEP's TMSK frame): a row with a mask
    samples only tokens whose bit is set; the others' logits become -inf
    before sampling.

    Wire form, little-endian: u32 magic "TMSK", u32 rows (the step's
    n_out), u32 vocab, then per row a u32 'masked' (0 or 1) and, when 1,
    (vocab + 31) / 32 u32 words: bit t % 32 of word t / 32 set when token
    t is allowed. A masked row allows at least one token; bits past the
    vocabulary are 0.
*/
#ifndef XINF_TOKEN_MASK_H_INCLUDED
#define XINF_TOKEN_MASK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_TOKEN_MASK_MAGIC  0x4b534d54u   //  "TMSK" little-endian

//  u32 words of one row's mask.
size_t xinf_token_mask_words (size_t vocab);

//  A step's masks being written: rows are added in order.
typedef struct _xinf_token_masks_t xinf_token_masks_t;

xinf_token_masks_t *xinf_token_masks_new (size_t rows, size_t vocab);
void xinf_token_masks_destroy (xinf_token_masks_t **self_p);
//  Adds the next row: its mask ('bits', xinf_token_mask_words of them),
//  or NULL for a row without one. -1 past 'rows'.
int xinf_token_masks_add (xinf_token_masks_t *self, const uint32_t *bits);
//  The frame, once every row is added (NULL before).
const void *xinf_token_masks_data (const xinf_token_masks_t *self);
size_t xinf_token_masks_size (const xinf_token_masks_t *self);

//  Reads a frame of 'rows' rows for 'vocab' tokens: masks [r] points into
//  'bytes' at row r's words, or is NULL for a row without a mask. 0, or
//  -1 with the reason naming the field.
int xinf_token_masks_decode (const void *bytes, size_t size, size_t rows, size_t vocab, const uint32_t **masks,
                             char *error, size_t error_size);

//  Sets the logits of the tokens 'bits' does not allow to -inf.
void xinf_token_mask_apply (const uint32_t *bits, float *logits, size_t vocab);

#endif
