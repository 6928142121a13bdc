/*  xinf_request_logprobs: a request's log-probabilities on their way to
    RUN_TOKEN and RUN_DONE (xinf_request_logprobs.h).  */
#include "xinf_request_logprobs.h"

#include <math.h>

#define S_LOGPROB_MIN  -9999.0        //  -inf and anything below, as OpenAI writes it
#define S_TOKEN_BYTES  40             //  a token's entry without its top ones (map, keys, float, array header)
#define S_TOKEN_VALUES 5
#define S_TOP_BYTES    40             //  a top entry without its text
#define S_TOP_VALUES   7
#define S_PROMPT_BYTES 20             //  a prompt entry's token and text (keys, id, header)
#define S_PROMPT_VALUES 4

struct _xinf_request_logprobs_t {
    uint32_t top;
    bool stream;
    bool prompt;                      //  a prompt's: every entry with its token
    xinf_logprobs_row_t last;         //  the token just taken
    xinf_logprobs_row_t *kept;        //  not streamed: every token's
    size_t count, room;
    size_t bytes, values;             //  RUN_DONE's logprobs so far
};

xinf_request_logprobs_t *
xinf_request_logprobs_new (uint32_t top, bool stream)
{
    xinf_request_logprobs_t *self = calloc (1, sizeof *self);
    if (self) {
        self->top = top < XINF_LOGPROBS_TOP_MAX ? top : XINF_LOGPROBS_TOP_MAX;
        self->stream = stream;
        self->bytes = 5;              //  the array's header
        self->values = 2;             //  its key and itself
    }
    return self;
}

xinf_request_logprobs_t *
xinf_request_logprobs_new_prompt (uint32_t top)
{
    xinf_request_logprobs_t *self = xinf_request_logprobs_new (top, false);
    if (self) {
        self->prompt = true;          //  the first token's entry: no logprob, its text at most this
        self->bytes += S_PROMPT_BYTES + S_TOKEN_BYTES + XINF_TOKENIZER_TEXT_MAX;
        self->values += S_PROMPT_VALUES + S_TOKEN_VALUES;
    }
    return self;
}

size_t
xinf_request_logprobs_prompt_least (uint32_t top, size_t count)
{
    return 5 + S_PROMPT_BYTES + S_TOKEN_BYTES + count * (S_PROMPT_BYTES + S_TOKEN_BYTES + top * S_TOP_BYTES);
}

void
xinf_request_logprobs_destroy (xinf_request_logprobs_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->kept);
        free (*self_p);
        *self_p = NULL;
    }
}

uint32_t
xinf_request_logprobs_asked (const xinf_request_logprobs_t *self)
{
    return self->top + 1;
}

xinf_value_t *
xinf_token_piece_value (xinf_tokenizer_t *tokenizer, int32_t token)
{
    char piece [XINF_TOKENIZER_TEXT_MAX + 1];
    long length = xinf_tokenizer_piece (tokenizer, token, piece, sizeof piece);
    return xinf_value_new_strn (piece, length > 0 && length < (long) sizeof piece ? (size_t) length : 0);
}

//  The bytes of a token's piece.
static size_t
s_piece_bytes (xinf_tokenizer_t *tokenizer, uint32_t token)
{
    long length = xinf_tokenizer_piece (tokenizer, (int32_t) token, NULL, 0);
    return length > 0 ? (size_t) length : 0;
}

int
xinf_request_logprobs_take (xinf_request_logprobs_t *self, int32_t token, const xinf_logprobs_row_t *report,
                            xinf_tokenizer_t *tokenizer)
{
    self->last = *report;
    if (self->stream)
        return 0;
    if (self->count == self->room) {
        size_t room = self->room ? 2 * self->room : 64;
        xinf_logprobs_row_t *grown = realloc (self->kept, room * sizeof *grown);
        if (!grown)
            return -1;
        self->kept = grown;
        self->room = room;
    }
    self->kept [self->count++] = *report;
    self->bytes += S_TOKEN_BYTES + (self->prompt ? S_PROMPT_BYTES + s_piece_bytes (tokenizer, (uint32_t) token) : 0);
    self->values += S_TOKEN_VALUES + (self->prompt ? S_PROMPT_VALUES : 0);
    for (size_t top = 0; top + 1 < report->asked; top++) {
        self->bytes += S_TOP_BYTES + s_piece_bytes (tokenizer, report->top [top].token);
        self->values += S_TOP_VALUES;
    }
    return 0;
}

static double
s_logprob (float logprob)
{
    return logprob >= S_LOGPROB_MIN ? (double) logprob : S_LOGPROB_MIN;
}

//  The top_logprobs array of a report.
static xinf_value_t *
s_top_array (const xinf_logprobs_row_t *report, xinf_tokenizer_t *tokenizer)
{
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t top = 0; top + 1 < report->asked; top++) {
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_uint (item, "token", report->top [top].token);
        xinf_map_put_float (item, "logprob", s_logprob (report->top [top].logprob));
        xinf_map_put (item, "text", xinf_token_piece_value (tokenizer, (int32_t) report->top [top].token));
        xinf_array_push (array, item);
    }
    return array;
}

void
xinf_request_logprobs_put_token (const xinf_request_logprobs_t *self, xinf_tokenizer_t *tokenizer,
                                 xinf_value_t *body)
{
    xinf_map_put_float (body, "logprob", s_logprob (self->last.logprob));
    xinf_map_put (body, "top_logprobs", s_top_array (&self->last, tokenizer));
}

void
xinf_request_logprobs_put_done (const xinf_request_logprobs_t *self, xinf_tokenizer_t *tokenizer,
                                xinf_value_t *body)
{
    if (self->stream)
        return;
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t index = 0; index < self->count; index++) {
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_float (item, "logprob", s_logprob (self->kept [index].logprob));
        xinf_map_put (item, "top_logprobs", s_top_array (&self->kept [index], tokenizer));
        xinf_array_push (array, item);
    }
    xinf_map_put (body, "logprobs", array);
}

//  A prompt token's id and text into 'item'.
static void
s_put_prompt_token (xinf_value_t *item, xinf_tokenizer_t *tokenizer, int32_t token)
{
    xinf_map_put_uint (item, "token", (uint64_t) token);
    xinf_map_put (item, "text", xinf_token_piece_value (tokenizer, token));
}

void
xinf_request_logprobs_put_prompt (const xinf_request_logprobs_t *self, xinf_tokenizer_t *tokenizer,
                                  const int32_t *tokens, xinf_value_t *body)
{
    xinf_value_t *array = xinf_value_new_array ();
    xinf_value_t *first = xinf_value_new_map ();
    s_put_prompt_token (first, tokenizer, tokens [0]);
    xinf_map_put (first, "top_logprobs", xinf_value_new_array ());
    xinf_array_push (array, first);
    for (size_t index = 0; index < self->count; index++) {
        xinf_value_t *item = xinf_value_new_map ();
        s_put_prompt_token (item, tokenizer, tokens [index + 1]);
        xinf_map_put_float (item, "logprob", s_logprob (self->kept [index].logprob));
        xinf_map_put (item, "top_logprobs", s_top_array (&self->kept [index], tokenizer));
        xinf_array_push (array, item);
    }
    xinf_map_put (body, "prompt_logprobs", array);
}

size_t
xinf_request_logprobs_count (const xinf_request_logprobs_t *self)
{
    return self->count;
}

size_t
xinf_request_logprobs_bytes (const xinf_request_logprobs_t *self)
{
    return self->stream ? 0 : self->bytes;
}

size_t
xinf_request_logprobs_values (const xinf_request_logprobs_t *self)
{
    return self->stream ? 0 : self->values;
}

size_t
xinf_request_logprobs_next_bytes (const xinf_request_logprobs_t *self)
{
    return self->stream ? 0 : S_TOKEN_BYTES + self->top * (S_TOP_BYTES + XINF_TOKENIZER_TEXT_MAX);
}

size_t
xinf_request_logprobs_next_values (const xinf_request_logprobs_t *self)
{
    return self->stream ? 0 : S_TOKEN_VALUES + self->top * S_TOP_VALUES;
}
