/*  xinf_penalties: OpenAI's logit biases and presence and frequency
    penalties, and vLLM's and llama.cpp's repetition penalty, of a step's
    rows (protocols/model.md, STEP's third frame). A row's request biases
    token t by bias [t]; its sequence has generated token t count [t]
    times; token t is among the tokens its repetition penalty looks at
    (seen: the prompt's and the generated ones, or the last N of them).
    Before sampling (greedy too) its logits become

        logit [t] + bias [t]                              where biased, then
        logit [t] / repetition    (logit > 0)
        logit [t] x repetition    (else)                  where seen, then
        logit [t] - (count [t] x frequency + presence)   where count [t] > 0

    in float (an add; a divide or multiply; a multiply, an add, a
    subtract), in vLLM's order (and llama.cpp's) and as OpenAI defines
    its penalties: presence and frequency count the generated tokens only.
    A step whose rows have none sends no third frame.

    Wire form, little-endian: u32 magic "PNLB", u32 rows, then each row:
    f32 presence, f32 frequency, f32 repetition, u32 pairs, u32 seen, u32
    biases, then that many (u32 token, u32 count) pairs, tokens
    ascending; that many seen (u32 token, u32 count), tokens ascending;
    that many (u32 token, f32 bias), tokens ascending.
*/
#ifndef XINF_PENALTIES_H_INCLUDED
#define XINF_PENALTIES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_PENALTIES_MAGIC 0x424c4e50u  //  "PNLB" little-endian
#define XINF_PENALTY_MAX     2.0f         //  |presence|, |frequency| at most (OpenAI's range)
#define XINF_REPETITION_MIN  0.01f        //  the repetition penalty's range
#define XINF_REPETITION_MAX  10.0f
#define XINF_LOGIT_BIAS_MAX  100.0f       //  |bias| at most (OpenAI's range)
#define XINF_LOGIT_BIASES    2048         //  biased tokens a request may have at most

//  A decoded row: its penalties and its (token, count) pairs, its
//  (token, bias) pairs, read from the frame (which must outlive it).
typedef struct {
    float presence, frequency, repetition;
    const unsigned char *pairs;
    size_t n_pairs;
    const unsigned char *seen;
    size_t n_seen;
    const unsigned char *biases;
    size_t n_biases;
} xinf_penalty_t;

//  A request's bias of one token.
typedef struct {
    uint32_t token;
    float bias;
} xinf_logit_bias_t;

typedef struct _xinf_penalties_t xinf_penalties_t;
typedef struct _xinf_token_counts_t xinf_token_counts_t;

//  A generation's tokens counted as it goes, room for 'distinct' tokens
//  (made once: min (max_tokens, vocab)); NULL when out of memory.
xinf_token_counts_t *xinf_token_counts_new (size_t distinct);
//  The 'count' tokens of 'tokens' counted (sorted once: O(n log n)),
//  with room for 'more' distinct tokens; NULL when out of memory.
xinf_token_counts_t *xinf_token_counts_new_from (const int32_t *tokens, size_t count, size_t more);
void xinf_token_counts_destroy (xinf_token_counts_t **self_p);

//  Counts one more 'token' (O(distinct) at worst: the pairs stay sorted);
//  a new token past the room made is not counted (cannot happen when
//  the room is min (max_tokens, vocab)).
void xinf_token_counts_add (xinf_token_counts_t *self, uint32_t token);

//  Counts one 'token' less (a draft counted for one row of a step,
//  xinf_spec.h); a token not counted is ignored.
void xinf_token_counts_remove (xinf_token_counts_t *self, uint32_t token);

//  The distinct tokens so far.
size_t xinf_token_counts_size (const xinf_token_counts_t *self);

//  An empty frame to add rows to; NULL when out of memory.
xinf_penalties_t *xinf_penalties_new (void);
void xinf_penalties_destroy (xinf_penalties_t **self_p);

//  A row's request: its penalties, its generation's counted tokens (NULL:
//  none; ignored when presence and frequency are 0), the tokens its
//  repetition penalty looks at (NULL: none; ignored when it is 1), and its
//  'n_biases' biases (tokens ascending, as xinf_logit_bias_sort leaves
//  them).
typedef struct {
    float presence, frequency, repetition;
    const xinf_token_counts_t *counts, *seen;
    const xinf_logit_bias_t *biases;
    size_t n_biases;
} xinf_penalty_row_t;

//  Appends a row. O(distinct tokens + biases). 0, or -1 when out of
//  memory (the frame is then unusable).
int xinf_penalties_add_row (xinf_penalties_t *self, const xinf_penalty_row_t *row);
//  The same for a row without a repetition penalty.
int xinf_penalties_add (xinf_penalties_t *self, float presence, float frequency, const xinf_token_counts_t *counts,
                        const xinf_logit_bias_t *biases, size_t n_biases);

//  Sorts a request's biases by token; 0, or -1 when a token appears twice
//  (then 'duplicate' is that token).
int xinf_logit_bias_sort (xinf_logit_bias_t *biases, size_t n_biases, uint32_t *duplicate);

//  The frame so far: its bytes and their size.
const void *xinf_penalties_data (const xinf_penalties_t *self);
size_t xinf_penalties_size (const xinf_penalties_t *self);

//  Reads 'rows' rows (the step's n_out) into 'out' and checks every
//  field: the size, the header, penalties finite within +-2, the
//  repetition penalty within XINF_REPETITION_MIN .. MAX, pairs and seen
//  tokens at most 'vocab', biases at most XINF_LOGIT_BIASES and 'vocab',
//  tokens below it and ascending, counts at least 1, biases finite within
//  +-100.
//  0, or -1 with the reason naming the row and field.
int xinf_penalties_decode (const void *bytes, size_t size, size_t rows, size_t vocab, xinf_penalty_t *out,
                           char *error, size_t error_size);

//  Whether the row changes any logit.
bool xinf_penalty_active (const xinf_penalty_t *row);

//  Applies the row's biases, then its repetition penalty, then its
//  presence and frequency penalties, to its logits (vocab floats, which
//  the decode checked the tokens against).
void xinf_penalty_apply (const xinf_penalty_t *row, float *logits);

#endif
