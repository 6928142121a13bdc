/*  xinf_request: a generation request in a model replica.  */
#include "xinf_request.h"
#include "xinf_request_tokens.h"
#include "xinf_client_msg.h"
#include "xinf_node_msg.h"

#include <float.h>


//  Bytes of MessagePack an id takes (the shortest encoding; ids are
//  checked not negative, a negative one counted as the longest).
static size_t
s_id_bytes (int32_t id)
{
    return id >= 0 && id < 128 ? 1 : id >= 0 && id < 65536 ? 3 : 5;
}

//  Bytes of MessagePack the ids take (the shortest encodings).
static size_t
s_ids_bytes (const int32_t *ids, size_t count)
{
    size_t bytes = 5;
    for (size_t index = 0; index < count; index++)
        bytes += s_id_bytes (ids [index]);
    return bytes;
}

void
xinf_request_destroy (xinf_request_t **self_p)
{
    if (self_p && *self_p) {
        xinf_request_t *self = *self_p;
        free (self->prompt);
        free (self->tokens);
        xinf_token_counts_destroy (&self->counts);
        xinf_token_counts_destroy (&self->seen);
        free (self->biases);
        free (self->stop_ids);
        free (self->allowed);
        free (self->bad);
        free (self->bad_ends);
        if (self->constraints) {
            xinf_constraints_release (self->constraints, self->schema);
            xinf_constraints_release (self->constraints, self->regex);
        }
        else {
            xinf_json_schema_destroy (&self->schema);
            xinf_regex_destroy (&self->regex);
        }
        xinf_request_logprobs_destroy (&self->logprobs);
        xinf_request_logprobs_destroy (&self->prompt_logprobs);
        xinf_request_embed_destroy (&self->embedding);
        free (self);
        *self_p = NULL;
    }
}

//  Prompt ids as given ('prompt_tokens', each below vocab).
static int32_t *
s_prompt_ids (const xinf_client_msg_generate_t *generate, xinf_tokenizer_t *tokenizer, size_t vocab,
              xinf_check_t *check, size_t *count)
{
    const xinf_value_t *ids = generate->prompt_tokens;
    bool add_bos = generate->has_add_bos && generate->add_bos;
    size_t n = xinf_value_count (ids) + (add_bos ? 1 : 0), at = 0;
    int32_t *prompt = calloc (n + 1, sizeof (int32_t));
    if (!prompt) {
        xinf_check_fail (check, "out of memory for a prompt of %zu tokens", n);
        return NULL;
    }
    if (add_bos && xinf_tokenizer_bos (tokenizer) >= 0)
        prompt [at++] = (int32_t) xinf_tokenizer_bos (tokenizer);
    for (size_t index = 0; !check->failed && index < xinf_value_count (ids); index++) {
        const xinf_value_t *id = xinf_array_at (ids, index);
        if (xinf_value_uint (id) >= vocab)
            xinf_check_fail (check, "field 'prompt_tokens[%zu]' must be a token id below %zu", index, vocab);
        prompt [at++] = (int32_t) xinf_value_uint (id);
    }
    *count = at;
    return prompt;
}

//  The model's control tokens (their texts are at least 2 bytes), longest first.
typedef struct {
    int32_t id;
    const char *text;
    size_t length;
} s_special_t;

static int
s_special_compare (const void *left, const void *right)
{
    size_t a = ((const s_special_t *) left)->length, b = ((const s_special_t *) right)->length;
    return a < b ? 1 : a > b ? -1 : 0;
}

static s_special_t *
s_specials (xinf_tokenizer_t *tokenizer, size_t *count)
{
    size_t vocab = xinf_tokenizer_vocab (tokenizer), found = 0;
    s_special_t *specials = NULL;
    for (size_t id = 0; id < vocab; id++) {
        size_t length = 0;
        const char *text = xinf_tokenizer_is_control (tokenizer, (int32_t) id)
                         ? xinf_tokenizer_text (tokenizer, (int32_t) id, &length) : NULL;
        if (!text || length < 2)
            continue;
        specials = realloc (specials, (found + 1) * sizeof *specials);
        assert (specials);
        specials [found++] = (s_special_t) { (int32_t) id, text, length };
    }
    if (found)
        qsort (specials, found, sizeof *specials, s_special_compare);
    *count = found;
    return specials;
}

//  Appends the ids of text [0, length) to *ids; -1 when it cannot be tokenized.
static int
s_encode_plain (xinf_tokenizer_t *tokenizer, const char *text, size_t length, bool add_bos, int32_t **ids,
                size_t *count)
{
    long needed = xinf_tokenizer_encode (tokenizer, text, length, add_bos, NULL, 0);
    if (needed < 0)
        return -1;
    *ids = realloc (*ids, (*count + (size_t) needed + 1) * sizeof **ids);
    assert (*ids);
    xinf_tokenizer_encode (tokenizer, text, length, add_bos, *ids + *count, (size_t) needed + 1);
    *count += (size_t) needed;
    return 0;
}

//  ASCII whitespace, as isspace in the C locale.
static bool
s_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

//  With 'special' (chat prompts rendered from a template): the texts of
//  the model's control tokens (<|im_start|>, <|eot_id|>, ...) in the text
//  become those tokens, as llama.cpp's parse_special; the text between
//  them is tokenized as usual. Whitespace after a token that takes it
//  (xinf_tokenizer_rstrip: Phi-3's) is dropped, as Hugging Face does.
static int32_t *
s_prompt_special (xinf_tokenizer_t *tokenizer, const char *text, size_t length, bool add_bos, size_t *count,
                  xinf_check_t *check)
{
    size_t n_specials = 0, start = 0;
    s_special_t *specials = s_specials (tokenizer, &n_specials);
    int32_t *ids = calloc (1, sizeof *ids);
    assert (ids);
    *count = 0;
    if (add_bos && xinf_tokenizer_bos (tokenizer) >= 0)
        ids [(*count)++] = (int32_t) xinf_tokenizer_bos (tokenizer);
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < length; at++) {
        for (size_t index = 0; index < n_specials; index++) {
            s_special_t *special = &specials [index];
            if (special->text [0] != text [at] || special->length > length - at
            ||  memcmp (special->text, text + at, special->length) != 0)
                continue;
            if (at > start)
                rc = s_encode_plain (tokenizer, text + start, at - start, false, &ids, count);
            ids = realloc (ids, (*count + 1) * sizeof *ids);
            assert (ids);
            ids [(*count)++] = special->id;
            at += special->length - 1;
            //  Phi-3's control tokens take the whitespace after them
            while (xinf_tokenizer_rstrip (tokenizer, special->id) && at + 1 < length && s_space (text [at + 1]))
                at++;
            start = at + 1;
            break;
        }
    }
    if (rc == 0 && start < length)
        rc = s_encode_plain (tokenizer, text + start, length - start, false, &ids, count);
    free (specials);
    if (rc) {
        xinf_check_fail (check, "field 'prompt' could not be tokenized");
        free (ids);
        return NULL;
    }
    return ids;
}

int32_t *
xinf_request_encode (xinf_tokenizer_t *tokenizer, const char *text, size_t length, bool add_bos, bool special,
                     size_t *count, xinf_check_t *check)
{
    if (special)
        return s_prompt_special (tokenizer, text, length, add_bos, count, check);
    int32_t *ids = NULL;
    *count = 0;
    if (s_encode_plain (tokenizer, text, length, add_bos, &ids, count)) {
        xinf_check_fail (check, "the text could not be tokenized");
        return NULL;
    }
    if (!ids)
        ids = calloc (1, sizeof *ids);
    return ids;
}

//  Prompt ids of 'prompt' text, with a BOS where the model's file asks
//  for one (tokenizer.ggml.add_bos_token) unless 'add_bos' says otherwise.
static int32_t *
s_prompt_text (const xinf_client_msg_generate_t *generate, xinf_tokenizer_t *tokenizer, xinf_check_t *check,
               size_t *count)
{
    //  prompt is valid UTF-8 (client.xml's text), checked by the decoder as
    //  the supervisor checks it: RUN may come from an older supervisor, or
    //  from anyone who reaches the agent
    const char *text = generate->prompt;
    bool add_bos = generate->has_add_bos ? generate->add_bos : xinf_tokenizer_add_bos (tokenizer);
    bool special = generate->special;
    size_t length = strlen (text);
    if (special) {
        int32_t *ids = s_prompt_special (tokenizer, text, length, add_bos, count, check);
        //  A text that begins with the BOS's own text (a prompt formatted
        //  by hand) gets no second one from the model's default
        int64_t bos = xinf_tokenizer_bos (tokenizer);
        if (ids && add_bos && !generate->has_add_bos && *count >= 2 && ids [0] == bos && ids [1] == bos)
            memmove (ids, ids + 1, --*count * sizeof *ids);
        return ids;
    }
    long needed = xinf_tokenizer_encode (tokenizer, text, length, add_bos, NULL, 0);
    if (needed < 0) {
        xinf_check_fail (check, "field 'prompt' could not be tokenized");
        return NULL;
    }
    int32_t *prompt = calloc ((size_t) needed + 1, sizeof (int32_t));
    if (!prompt) {
        xinf_check_fail (check, "out of memory for a prompt of %ld tokens", needed);
        return NULL;
    }
    xinf_tokenizer_encode (tokenizer, text, length, add_bos, prompt, (size_t) needed + 1);
    *count = (size_t) needed;
    return prompt;
}

//  The request's logit biases ('logit_bias', each item's fields checked by
//  the decoder), tokens below 'vocab', each once, kept sorted by token.
static void
s_logit_biases (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab, xinf_check_t *check)
{
    size_t count = xinf_value_count (generate->logit_bias);
    if (!generate->has_logit_bias || count == 0)
        return;
    self->biases = calloc (count, sizeof *self->biases);
    if (!self->biases) {
        xinf_check_fail (check, "out of memory for %zu logit biases", count);
        return;
    }
    for (size_t index = 0; !check->failed && index < count; index++) {
        xinf_client_msg_logit_bias_t item;
        xinf_client_msg_logit_bias_decode (xinf_array_at (generate->logit_bias, index), &item, check);
        if (!check->failed && item.token >= vocab)
            xinf_check_fail (check, "field 'logit_bias[%zu].token': token %llu is not below the vocabulary of %zu",
                             index, (unsigned long long) item.token, vocab);
        self->biases [index] = (xinf_logit_bias_t) { (uint32_t) item.token, (float) item.bias };
    }
    uint32_t twice = 0;
    if (!check->failed && xinf_logit_bias_sort (self->biases, count, &twice))
        xinf_check_fail (check, "field 'logit_bias': token %u is biased twice", twice);
    self->n_biases = count;
}

bool
xinf_request_masked (const xinf_request_t *self)
{
    return self->grammar || self->allowed || self->n_bad || self->count < self->min_tokens;
}

//  A constraint compiled: the replica's shared one, or the request's own.
static void *
s_compiled (xinf_request_t *self, xinf_constraint_kind_t kind, const char *text, char *reason, size_t size)
{
    return self->constraints ? xinf_constraints_get (self->constraints, kind, text, reason, size)
                             : xinf_constraints_compile (kind, text, reason, size);
}

//  response_format regex or grammar: the compiled expression's (or
//  grammar's root rule's) whole match.
static void
s_grammar_regex (xinf_request_t *self, const xinf_client_msg_generate_t *generate, bool gbnf, xinf_check_t *check)
{
    const char *field = gbnf ? "grammar" : "regex";
    const char *text = gbnf ? generate->grammar : generate->regex;
    if (!(gbnf ? generate->has_grammar : generate->has_regex)) {
        xinf_check_fail (check, "field '%s' is required with response_format %s", field, field);
        return;
    }
    char reason [400];
    self->regex = s_compiled (self, gbnf ? XINF_CONSTRAINT_GBNF : XINF_CONSTRAINT_REGEX, text, reason,
                              sizeof reason);
    if (!self->regex) {
        xinf_check_fail (check, "field '%s': %s", field, reason);
        return;
    }
    self->grammar = &xinf_grammar_regex;
    xinf_regex_start (&self->grammar_state.regex, self->regex);
}

//  response_format: one JSON object, a value of the compiled
//  json_schema, or a whole match of the compiled regex; a model without
//  an end token cannot end one.
static void
s_grammar (xinf_request_t *self, const xinf_client_msg_generate_t *generate, xinf_tokenizer_t *tokenizer,
           xinf_check_t *check)
{
    const char *format = generate->response_format ? generate->response_format : "text";
    bool schema = streq (format, "json_schema");
    if (generate->has_json_schema && !schema) {
        xinf_check_fail (check, "field 'json_schema' needs response_format json_schema");
        return;
    }
    if (generate->has_regex && !streq (format, "regex")) {
        xinf_check_fail (check, "field 'regex' needs response_format regex");
        return;
    }
    if (generate->has_grammar && !streq (format, "grammar")) {
        xinf_check_fail (check, "field 'grammar' needs response_format grammar");
        return;
    }
    if (streq (format, "text"))
        return;
    if (xinf_tokenizer_end_ids (tokenizer, NULL, 0) == 0) {
        xinf_check_fail (check, "field 'response_format': %s needs an end-of-generation token, and this model's "
                         "vocabulary has none", format);
        return;
    }
    if (streq (format, "regex") || streq (format, "grammar"))
        s_grammar_regex (self, generate, streq (format, "grammar"), check);
    else
    if (schema && !generate->has_json_schema)
        xinf_check_fail (check, "field 'json_schema' is required with response_format json_schema");
    else
    if (schema) {
        char reason [400];
        self->schema = s_compiled (self, XINF_CONSTRAINT_SCHEMA, generate->json_schema, reason, sizeof reason);
        if (!self->schema) {
            xinf_check_fail (check, "field 'json_schema': %s", reason);
            return;
        }
        self->grammar = &xinf_grammar_schema;
        xinf_schema_start (&self->grammar_state.schema, self->schema);
    }
    else {
        self->grammar = &xinf_grammar_json;
        xinf_json_start (&self->grammar_state.json);
    }
}

//  prompt_logprobs: kept as they are scored, refused at once when even
//  their least size would not fit in the answer's one message.
static void
s_prompt_logprobs (xinf_request_t *self, uint32_t top, xinf_check_t *check, const char **code)
{
    size_t least = xinf_request_logprobs_prompt_least (top, self->prompt_count - 1);
    if (self->answer_bytes + least + 5 + XINF_TOKENIZER_TEXT_MAX > XINF_HEADER_MAX) {
        *code = "TOO_LARGE";
        xinf_check_fail (check, "field 'prompt_logprobs': the log-probabilities of a prompt of %zu tokens with %u "
                         "most likely tokens each take at least %zu bytes, more than the one message the answer "
                         "travels in holds; ask fewer or send a shorter prompt", self->prompt_count, top, least);
    }
    else
    if (!(self->prompt_logprobs = xinf_request_logprobs_new_prompt (top)))
        xinf_check_fail (check, "out of memory for the prompt's log-probabilities");
}

//  GENERATE embed: what an embedding may not ask; a text prompt then ends
//  with the EOS where the model's file asks it (and it does not yet).
static void
s_embed (xinf_request_t *self, const xinf_client_msg_generate_t *generate, xinf_tokenizer_t *tokenizer,
         xinf_check_t *check)
{
    const char *field = generate->max_tokens ? "max_tokens" : generate->stream ? "stream"
                      : generate->logprobs ? "logprobs" : generate->has_prompt_logprobs ? "prompt_logprobs"
                      : !streq (generate->response_format, "text") ? "response_format" : NULL;
    if (field) {
        xinf_check_fail (check, "field '%s': an embedding (embed) generates nothing: max_tokens must be 0, and it "
                         "takes no stream, logprobs, prompt_logprobs or response_format", field);
        return;
    }
    self->embed = true;
    self->pool_asked = xinf_request_embed_pool (generate->has_pooling ? generate->pooling : NULL);
    self->rank_asked = generate->has_pooling && streq (generate->pooling, "rank");
    self->normalize = generate->normalize;
    int64_t eos = xinf_tokenizer_eos (tokenizer);
    //  (not a reranker's prompt: its template ends it, as llama.cpp has it)
    if (!generate->has_prompt || self->rank_asked || !xinf_tokenizer_add_eos (tokenizer)
    ||  self->prompt [self->prompt_count - 1] == eos)
        return;
    int32_t *longer = realloc (self->prompt, (self->prompt_count + 1) * sizeof (int32_t));
    if (!longer) {
        xinf_check_fail (check, "out of memory for the prompt");
        return;
    }
    self->prompt = longer;
    self->prompt [self->prompt_count++] = (int32_t) eos;
}

//  vLLM's truncate_prompt_tokens: only the prompt's last 'keep' tokens, a
//  BOS it starts with kept before them (vLLM truncates before adding it).
static void
s_truncate (xinf_request_t *self, size_t keep, int64_t bos)
{
    if (self->prompt_count <= keep)
        return;
    size_t first = bos >= 0 && keep >= 2 && self->prompt [0] == (int32_t) bos ? 1 : 0;
    memmove (self->prompt + first, self->prompt + (self->prompt_count - (keep - first)),
             (keep - first) * sizeof (int32_t));
    self->prompt_count = keep;
}

static int32_t *
s_prompt (const xinf_client_msg_generate_t *generate, xinf_tokenizer_t *tokenizer, size_t vocab, xinf_check_t *check,
          size_t *count)
{
    *count = 0;
    if (generate->has_prompt_tokens == generate->has_prompt) {
        xinf_check_fail (check, "give exactly one of 'prompt' and 'prompt_tokens'");
        return NULL;
    }
    return generate->has_prompt_tokens ? s_prompt_ids (generate, tokenizer, vocab, check, count)
                                       : s_prompt_text (generate, tokenizer, check, count);
}

//  The repetition penalty: its tokens (the window's part of the prompt)
//  counted, with room for every token the answer and a step's drafts may
//  add.
static void
s_repetition (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab, xinf_check_t *check)
{
    self->repetition = generate->has_repetition_penalty ? (float) generate->repetition_penalty : 1;
    self->repetition_window = generate->has_repetition_last_n ? (size_t) generate->repetition_last_n : SIZE_MAX;
    if (self->repetition == 1 || self->repetition_window == 0)
        return;
    size_t from = self->prompt_count > self->repetition_window ? self->prompt_count - self->repetition_window : 0;
    size_t more = self->max_tokens + XINF_SPEC_TOKENS_MAX < vocab ? self->max_tokens + XINF_SPEC_TOKENS_MAX : vocab;
    if (!(self->seen = xinf_token_counts_new_from (self->prompt + from, self->prompt_count - from, more)))
        xinf_check_fail (check, "out of memory for the repetition penalty's %zu tokens", self->prompt_count - from);
}

xinf_request_t *
xinf_request_new (xinf_value_t *body, xinf_tokenizer_t *tokenizer, size_t vocab, size_t context,
                  xinf_constraints_t *constraints, xinf_check_t *check, const char **code)
{
    xinf_request_t *self = calloc (1, sizeof *self);
    *code = "BAD_REQUEST";
    if (!self) {
        xinf_check_fail (check, "out of memory for a request");
        return NULL;
    }
    self->constraints = constraints;
    //  The RUN's own fields (node.xml) and the client's GENERATE (client.xml)
    xinf_node_msg_run_t run;
    xinf_client_msg_generate_t generate;
    xinf_node_msg_run_decode (body, &run, check);
    xinf_client_msg_generate_decode (body, &generate, check);
    if (!check->failed && !((float) generate.top_p > 0))      //  sampled as a float: 1e-50 is 0 there
        xinf_check_fail (check, "field 'top_p' must be in (0, 1] (at least %g), got %g", (double) FLT_MIN,
                         generate.top_p);
    self->id = run.request;
    self->priority = generate.priority;
    if (generate.has_lora)
        snprintf (self->lora, sizeof self->lora, "%s", generate.lora);
    //  More than the context can hold ends with finish_reason "context"
    self->max_tokens = generate.max_tokens > context ? context : generate.max_tokens;
    double temperature = generate.temperature, top_p = generate.top_p;
    uint64_t top_k = generate.top_k > vocab ? vocab : generate.top_k, seed = generate.seed;
    self->stream = generate.stream;
    self->ignore_eos = generate.ignore_eos;
    if (!check->failed)
        s_grammar (self, &generate, tokenizer, check);
    if (!check->failed)
        self->prompt = s_prompt (&generate, tokenizer, vocab, check, &self->prompt_count);
    if (!check->failed && generate.has_truncate_prompt_tokens)
        s_truncate (self, generate.truncate_prompt_tokens ? (size_t) generate.truncate_prompt_tokens : context - 1,
                    xinf_tokenizer_bos (tokenizer));
    if (!check->failed && self->prompt_count == 0)
        xinf_check_fail (check, "the prompt is empty");
    if (!check->failed && generate.embed)
        s_embed (self, &generate, tokenizer, check);
    if (!check->failed && self->prompt_count + 1 > context) {
        *code = "CONTEXT_EXCEEDED";
        xinf_check_fail (check, "the prompt has %zu tokens; the context holds %zu, leaving no room to %s",
                         self->prompt_count, context, self->embed ? "embed it (at most context - 1 tokens)"
                         : "generate");
    }
    if (!check->failed) {
        //  RUN_DONE's ids array headers, its other fields, the prompt's ids
        self->answer_bytes = 5 + 1024 + s_ids_bytes (self->prompt, self->prompt_count);
        self->answer_values = self->prompt_count + 64;
        if (xinf_request_answer_full (self)) {
            *code = "TOO_LARGE";
            xinf_check_fail (check, "the prompt's %zu tokens fill the one message the answer travels in, leaving "
                             "no room to generate; send a shorter prompt", self->prompt_count);
        }
    }
    if (!check->failed) {
        self->sampling = (xinf_sampling_t) { (float) temperature, (float) top_p, (uint32_t) top_k, seed, 0 };
        self->min_p = (float) generate.min_p;
        self->presence = (float) generate.presence_penalty;
        self->frequency = (float) generate.frequency_penalty;
        //  Room for every token it may generate, each distinct
        size_t distinct = self->max_tokens < vocab ? self->max_tokens : vocab;
        if ((self->presence != 0 || self->frequency != 0) && !(self->counts = xinf_token_counts_new (distinct)))
            xinf_check_fail (check, "out of memory for counting %zu tokens' penalties", distinct);
        if (!check->failed)
            s_repetition (self, &generate, vocab, check);
        s_logit_biases (self, &generate, vocab, check);
        if (!check->failed)
            xinf_request_take_stops (self, &generate, vocab, check);
        if (!check->failed)
            xinf_request_take_allowed (self, &generate, vocab, check);
        if (!check->failed)
            xinf_request_take_bad_words (self, &generate, tokenizer, check);
        if (!check->failed && generate.logprobs
        &&  !(self->logprobs = xinf_request_logprobs_new ((uint32_t) generate.top_logprobs, self->stream)))
            xinf_check_fail (check, "out of memory for the log-probabilities");
        if (!check->failed && generate.has_prompt_logprobs)
            s_prompt_logprobs (self, (uint32_t) generate.prompt_logprobs, check, code);
        self->tokens = calloc (self->max_tokens + 1, sizeof (int32_t));
        if (!self->tokens)
            xinf_check_fail (check, "out of memory for %zu tokens", self->max_tokens);
    }
    if (check->failed)
        xinf_request_destroy (&self);
    else {
        self->started = zclock_usecs ();
        if (run.has_deadline_ms)
            self->deadline = zclock_mono () + (int64_t) run.deadline_ms;
    }
    return self;
}

xinf_sampling_t
xinf_request_sampling (const xinf_request_t *self)
{
    xinf_sampling_t sampling = self->sampling;
    sampling.index = self->count;
    return sampling;
}

//  Token 'position' of the prompt, the answer and the drafts counted
//  ahead of it.
static int32_t
s_token_at (const xinf_request_t *self, size_t position)
{
    if (position < self->prompt_count)
        return self->prompt [position];
    position -= self->prompt_count;
    return position < self->count ? self->tokens [position] : self->ahead [position - self->count];
}

//  The token that leaves the repetition penalty's window when the one at
//  'position' comes, or -1.
static int32_t
s_leaving (const xinf_request_t *self, size_t position)
{
    return self->repetition_window != SIZE_MAX && position >= self->repetition_window
           ? s_token_at (self, position - self->repetition_window) : -1;
}

void
xinf_request_seen_push (xinf_request_t *self, int32_t token, size_t ahead)
{
    if (!self->seen || ahead > XINF_SPEC_TOKENS_MAX)
        return;
    size_t position = self->prompt_count + self->count + (ahead ? ahead - 1 : 0);
    if (ahead)
        self->ahead [ahead - 1] = token;
    int32_t leaving = s_leaving (self, position);
    xinf_token_counts_add (self->seen, (uint32_t) token);
    if (leaving >= 0)
        xinf_token_counts_remove (self->seen, (uint32_t) leaving);
}

void
xinf_request_seen_pop (xinf_request_t *self, int32_t token, size_t ahead)
{
    if (!self->seen || ahead == 0 || ahead > XINF_SPEC_TOKENS_MAX)
        return;
    int32_t leaving = s_leaving (self, self->prompt_count + self->count + ahead - 1);
    if (leaving >= 0)
        xinf_token_counts_add (self->seen, (uint32_t) leaving);
    xinf_token_counts_remove (self->seen, (uint32_t) token);
}

int
xinf_request_take (xinf_request_t *self, int32_t token, const xinf_logprobs_row_t *report,
                   xinf_tokenizer_t *tokenizer)
{
    if (!self->first_token)
        self->first_token = zclock_usecs ();
    if (self->count >= self->max_tokens)
        return 0;
    xinf_request_seen_push (self, token, 0);
    self->tokens [self->count++] = token;
    if (self->counts)
        xinf_token_counts_add (self->counts, (uint32_t) token);
    long piece = xinf_tokenizer_piece (tokenizer, token, NULL, 0);
    self->answer_bytes += s_id_bytes (token) + (size_t) (piece > 0 ? piece : 0);
    self->answer_text += (size_t) (piece > 0 ? piece : 0);
    self->answer_values++;
    return self->logprobs && report ? xinf_request_logprobs_take (self->logprobs, token, report, tokenizer) : 0;
}

int
xinf_request_take_prompt (xinf_request_t *self, int32_t token, const xinf_logprobs_row_t *report,
                          xinf_tokenizer_t *tokenizer)
{
    return self->prompt_logprobs ? xinf_request_logprobs_take (self->prompt_logprobs, token, report, tokenizer) : 0;
}

uint32_t
xinf_request_prompt_word (const xinf_request_t *self)
{
    return self->prompt_logprobs ? xinf_request_logprobs_asked (self->prompt_logprobs) : 0;
}

uint32_t
xinf_request_logprobs_word (const xinf_request_t *self)
{
    return self->logprobs ? xinf_request_logprobs_asked (self->logprobs) : 0;
}

//  RUN_DONE's logprobs: the bytes and values so far, and what one more
//  token may add; the prompt's count whether they go in RUN_DONE or in
//  the first RUN_TOKEN.
static size_t
s_logprobs_bytes (const xinf_request_t *self, bool next)
{
    size_t bytes = self->prompt_logprobs ? xinf_request_logprobs_bytes (self->prompt_logprobs) : 0;
    if (!self->logprobs)
        return bytes;
    return bytes + xinf_request_logprobs_bytes (self->logprobs)
         + (next ? xinf_request_logprobs_next_bytes (self->logprobs) : 0);
}

static size_t
s_logprobs_values (const xinf_request_t *self, bool next)
{
    size_t values = self->prompt_logprobs ? xinf_request_logprobs_values (self->prompt_logprobs) : 0;
    if (!self->logprobs)
        return values;
    return values + xinf_request_logprobs_values (self->logprobs)
         + (next ? xinf_request_logprobs_next_values (self->logprobs) : 0);
}

bool
xinf_request_answer_full (const xinf_request_t *self)
{
    return self->answer_bytes + 5 + XINF_TOKENIZER_TEXT_MAX + s_logprobs_bytes (self, true) > XINF_HEADER_MAX
        || self->answer_values + 1 + s_logprobs_values (self, true) > XINF_OBJECTS_MAX
        || self->answer_text + XINF_TOKENIZER_TEXT_MAX > XINF_RUN_TEXT_MAX;
}

bool
xinf_request_at_length (const xinf_request_t *self)
{
    return self->count >= self->max_tokens || xinf_request_answer_full (self);
}

xinf_msg_t *
xinf_request_token_msg (xinf_request_t *self, xinf_tokenizer_t *tokenizer, bool end)
{
    int32_t token = self->tokens [self->count - 1];
    xinf_msg_t *msg = xinf_msg_new ("RUN_TOKEN");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_uint (body, "request", self->id);
    xinf_map_put_uint (body, "index", self->count - 1);
    xinf_map_put_uint (body, "token", (uint64_t) token);
    xinf_map_put (body, "text", xinf_token_piece_value (tokenizer, token));
    if (end)
        xinf_map_put_bool (body, "end", true);
    if (self->count == 1) {
        xinf_map_put_uint (body, "prompt_length", self->prompt_count);
        xinf_map_put_uint (body, "cached_tokens", self->cached_tokens);
    }
    if (self->count == 1 && self->prompt_logprobs)
        xinf_request_logprobs_put_prompt (self->prompt_logprobs, tokenizer, self->prompt, body);
    if (self->logprobs)
        xinf_request_logprobs_put_token (self->logprobs, tokenizer, body);
    return msg;
}

static xinf_value_t *
s_id_array (const int32_t *ids, size_t count)
{
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t index = 0; index < count; index++)
        xinf_array_push (array, xinf_value_new_uint ((uint64_t) ids [index]));
    return array;
}

static xinf_value_t *
s_timings (xinf_request_t *self)
{
    int64_t now = zclock_usecs ();
    int64_t first = self->first_token ? self->first_token : now;
    double prefill_ms = (double) (first - self->started) / 1000.0;
    double decode_ms = (double) (now - first) / 1000.0;
    xinf_value_t *timings = xinf_value_new_map ();
    xinf_map_put_float (timings, "prefill_ms", prefill_ms);
    xinf_map_put_float (timings, "prefill_tokens_per_s", prefill_ms > 0 ? (double) self->prompt_count * 1000.0 / prefill_ms : 0);
    xinf_map_put_float (timings, "decode_ms", decode_ms);
    //  The first token comes from the prefill's logits: decode made count - 1
    xinf_map_put_float (timings, "decode_tokens_per_s",
                        decode_ms > 0 && self->count > 1 ? (double) (self->count - 1) * 1000.0 / decode_ms : 0);
    xinf_map_put_uint (timings, "cached_tokens", self->cached_tokens);
    return timings;
}

//  RUN_FAILED TOO_LARGE when the answer's ids and text would not fit in
//  one message (the envelope's header bytes and values, RUN_DONE's text),
//  NULL when they fit; with 1 KiB for the other fields.
static xinf_msg_t *
s_too_large (xinf_request_t *self, long text_size)
{
    size_t dim = self->embedding ? xinf_request_embed_dim (self->embedding) : 0;   //  9 bytes a float
    size_t bytes = s_ids_bytes (self->prompt, self->prompt_count) + s_ids_bytes (self->tokens, self->count)
                 + (size_t) (text_size > 0 ? text_size : 0) + 1024 + s_logprobs_bytes (self, false) + 9 * dim;
    size_t values = self->prompt_count + self->count + 64 + s_logprobs_values (self, false) + dim;
    if (bytes <= XINF_HEADER_MAX && values <= XINF_OBJECTS_MAX && text_size <= XINF_RUN_TEXT_MAX)
        return NULL;
    char text [256];
    snprintf (text, sizeof text, "the answer (a prompt of %zu tokens, %zu generated, %ld bytes of text) is larger "
              "than one message carries; ask for fewer tokens or send a shorter prompt", self->prompt_count,
              self->count, text_size);
    return xinf_request_failed_msg (self->id, "TOO_LARGE", text);
}

xinf_msg_t *
xinf_request_done_msg (xinf_request_t *self, xinf_tokenizer_t *tokenizer, const char *reason)
{
    long size = xinf_tokenizer_decode (tokenizer, self->tokens, self->count, NULL, 0);
    xinf_msg_t *failed = s_too_large (self, size);
    if (failed)
        return failed;
    char *text = calloc ((size_t) (size > 0 ? size : 0) + 1, 1);
    if (text && size > 0)
        xinf_tokenizer_decode (tokenizer, self->tokens, self->count, text, (size_t) size + 1);
    xinf_msg_t *msg = xinf_msg_new ("RUN_DONE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_uint (body, "request", self->id);
    xinf_map_put (body, "prompt_tokens", s_id_array (self->prompt, self->prompt_count));
    xinf_map_put (body, "tokens", s_id_array (self->tokens, self->count));
    xinf_map_put (body, "text", xinf_value_new_strn (text ? text : "", text && size > 0 ? (size_t) size : 0));
    xinf_map_put_str (body, "finish_reason", reason);
    xinf_map_put (body, "timings", s_timings (self));
    if (self->logprobs)
        xinf_request_logprobs_put_done (self->logprobs, tokenizer, body);
    if (self->prompt_logprobs && (!self->stream || self->count == 0))
        xinf_request_logprobs_put_prompt (self->prompt_logprobs, tokenizer, self->prompt, body);
    free (text);
    return msg;
}

xinf_msg_t *
xinf_request_failed_msg (uint64_t id, const char *code, const char *text)
{
    xinf_msg_t *msg = xinf_msg_new ("RUN_FAILED");
    xinf_map_put_uint (xinf_msg_body (msg), "request", id);
    xinf_map_put_str (xinf_msg_body (msg), "code", code);
    xinf_map_put_str (xinf_msg_body (msg), "message", text);
    return msg;
}
