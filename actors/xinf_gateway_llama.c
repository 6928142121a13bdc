/*  xinf_gateway_llama: llama-server's /completion and /infill
    (xinf_gateway_llama.h). The body becomes a /v1/completions body with
    llama-server's defaults (temperature 0.8, top_k 40, top_p 0.95, min_p
    0.05; n_predict -1: up to the context) and is read by the completions'
    parser; the model may be left out, the one launched model that
    generates then answering. /infill's input_prefix and prompt go before
    the model's fill-in-the-middle suffix marker, input_suffix after it,
    input_extra's chunks before the prefix marker (llama-server's repository
    pattern where the model has its tokens, xinf_gw_chat_fim). Editors' n_indent and
    t_max_predict_ms end the answer as llama-server's do (the shape sets
    shape_ended), response_fields picks the result's values. Samplers
    xinf does not have (mirostat, dynamic temperature, typical, XTC, DRY,
    top-n-sigma) are refused unless at their neutral values; llama.cpp's
    own knobs (cache_prompt, id_slot, samplers, n_keep, ...) are accepted
    and have nothing to do here. The answer: content, tokens, stop, stop_type,
    stopping_word, tokens_predicted, tokens_evaluated, tokens_cached,
    generation_settings, timings and, with n_probs, completion_probabilities;
    streamed, one such event a piece of text and the whole result last.
*/
#include "xinf_gateway_llama.h"

#define S_PROBS_MAX  20                 //  n_probs at most (top_logprobs' limit)

//  A shaped request's state.
typedef struct {
    json_t *settings;                   //  generation_settings
    xinf_gw_buf_t content;              //  without stream: the answer so far
    bool new_line;                      //  the answer holds a newline
    int64_t n_indent;                   //  each line after a newline needs this much indentation (0: off)
    int64_t t_max_predict_ms;           //  past this since the first token, a newline ends it (0: off)
    bool line_start;                    //  within a line's indentation, after a newline
    int64_t indent;                     //  its whitespace so far
    bool ended;                         //  n_indent or t_max_predict_ms ended it: no more text
    json_t *fields;                     //  response_fields, or NULL
} s_llama_t;

//  llama-server's samplers xinf does not have: a value past 'neutral'
//  (above it, or below it for typical_p) would change the answer.
static const struct { const char *field; double neutral; bool below; } s_samplers [] = {
    { "mirostat", 0, false }, { "dynatemp_range", 0, false }, { "typical_p", 1, true },
    { "xtc_probability", 0, false }, { "dry_multiplier", 0, false }, { "top_n_sigma", 0, false },
};

//  The fields refused outright, and why.
static const struct { const char *field; const char *why; } s_refused [] = {
    { "multimodal_data", "multimodal prompts are not supported" },
    { "post_sampling_probs", "post_sampling_probs is not supported: n_probs gives the model's log-probabilities" },
};

static int
s_unsupported (json_t *root, xinf_gw_error_t *error)
{
    for (size_t index = 0; index < sizeof s_samplers / sizeof s_samplers [0]; index++) {
        json_t *value = json_object_get (root, s_samplers [index].field);
        if (!value || json_is_null (value))
            continue;
        if (!json_is_number (value))
            return xinf_gw_error_bad (error, s_samplers [index].field, "must be a number");
        double number = json_number_value (value), neutral = s_samplers [index].neutral;
        if (s_samplers [index].below ? number < neutral : number > neutral)
            return xinf_gw_error_bad (error, s_samplers [index].field, "is not supported: xinf has no such sampler "
                                      "(leave it at %g)", neutral);
    }
    for (size_t index = 0; index < sizeof s_refused / sizeof s_refused [0]; index++) {
        json_t *value = json_object_get (root, s_refused [index].field);
        if (value && !json_is_null (value) && !json_is_false (value)
        &&  !(json_is_array (value) && json_array_size (value) == 0))
            return xinf_gw_error_bad (error, s_refused [index].field, "%s", s_refused [index].why);
    }
    json_t *n_cmpl = json_object_get (root, "n_cmpl");
    if (n_cmpl && !json_is_null (n_cmpl) && !(json_is_integer (n_cmpl) && json_integer_value (n_cmpl) == 1))
        return xinf_gw_error_bad (error, "n_cmpl", "only 1 completion a request is supported here "
                                  "(/v1/completions takes n)");
    return 0;
}

//  llama-server's per-request adapters, lora [{"id": N, "scale": S}]: at
//  most one with a scale other than 0, and that scale 1 (xinf serves an
//  adapter at its alpha / rank); its id + 1 into *id (0: none). -1 with a
//  400.
static int
s_lora (json_t *root, int *id, xinf_gw_error_t *error)
{
    json_t *list = json_object_get (root, "lora");
    *id = 0;
    if (!list || json_is_null (list))
        return 0;
    if (!json_is_array (list) || json_array_size (list) > 64)
        return xinf_gw_error_bad (error, "lora", "must be an array of at most 64 {\"id\": N, \"scale\": S} objects");
    double scales [8] = { 0 };        //  by id: the last entry wins, a missing scale is 0 (llama-server's)
    for (size_t index = 0; index < json_array_size (list); index++) {
        json_t *item = json_array_get (list, index), *key = json_object_get (item, "id");
        json_t *scale = json_object_get (item, "scale");
        if (!json_is_integer (key) || json_integer_value (key) < 0 || json_integer_value (key) > 7
        ||  (scale && !json_is_number (scale)))
            return xinf_gw_error_bad (error, "lora", "item %zu must be {\"id\": 0-7, \"scale\": a number}", index);
        scales [json_integer_value (key)] = scale ? json_number_value (scale) : 0.0;
    }
    for (int key = 0; key < 8; key++) {
        if (scales [key] == 0)
            continue;
        if (scales [key] != 1)
            return xinf_gw_error_bad (error, "lora", "adapter scales other than 0 and 1 are not supported: xinf "
                                      "serves an adapter at its alpha / rank");
        if (*id)
            return xinf_gw_error_bad (error, "lora", "one adapter a request: ids %d and %d have scale 1", *id - 1, key);
        *id = key + 1;
    }
    return 0;
}

//  A string field, or "" when absent; -1 with a 400 when not a string.
static int
s_string (json_t *root, const char *field, const char **text, xinf_gw_error_t *error)
{
    json_t *value = json_object_get (root, field);
    *text = "";
    if (!value || json_is_null (value))
        return 0;
    if (!json_is_string (value) || strlen (json_string_value (value)) != json_string_length (value))
        return xinf_gw_error_bad (error, field, "must be a string (without a NUL character)");
    *text = json_string_value (value);
    return 0;
}

//  The prompt: a string, token ids, or either alone in an array.
static int
s_prompt (json_t *root, json_t *body, xinf_gw_error_t *error)
{
    json_t *prompt = json_object_get (root, "prompt");
    if (!prompt || json_is_null (prompt))
        return xinf_gw_error_bad (error, "prompt", "is required");
    if (json_is_array (prompt) && json_array_size (prompt) == 1 && !json_is_integer (json_array_get (prompt, 0)))
        prompt = json_array_get (prompt, 0);
    size_t index;
    json_t *item;
    bool ids = json_is_array (prompt) && json_array_size (prompt) > 0;
    json_array_foreach (ids ? prompt : NULL, index, item)
        ids = ids && json_is_integer (item);
    if (!json_is_string (prompt) && !ids)
        return xinf_gw_error_bad (error, "prompt", "must be a string or an array of token ids: one prompt a "
                                  "request, without strings and ids mixed");
    json_object_set (body, "prompt", prompt);
    return 0;
}

//  /infill: input_prefix and prompt before the suffix marker, input_suffix
//  after it, input_extra's chunks (checked, kept for xinf_gw_chat_fim)
//  before the prefix marker.
static int
s_infill (json_t *root, json_t *body, xinf_gw_oai_t *oai, xinf_gw_error_t *error)
{
    const char *prefix, *prompt, *suffix;
    if (s_string (root, "input_prefix", &prefix, error) || s_string (root, "prompt", &prompt, error)
    ||  s_string (root, "input_suffix", &suffix, error))
        return -1;
    char *before = malloc (strlen (prefix) + strlen (prompt) + 1);
    assert (before);
    strcpy (before, prefix);
    strcat (before, prompt);
    json_object_set_new (body, "prompt", json_string (before));
    free (before);
    json_t *extra = json_object_get (root, "input_extra");
    if (extra && !json_is_null (extra) && !json_is_array (extra))
        return xinf_gw_error_bad (error, "input_extra", "must be an array of {\"filename\", \"text\"} chunks");
    size_t index;
    json_t *chunk;
    json_array_foreach (json_is_array (extra) ? extra : NULL, index, chunk) {
        const char *text, *name;
        if (!json_is_object (chunk) || s_string (chunk, "text", &text, error)
        ||  s_string (chunk, "filename", &name, error))
            return xinf_gw_error_bad (error, "input_extra", "item %zu must be a {\"filename\", \"text\"} object "
                                      "of strings", index);
    }
    oai->suffix = strdup (suffix);
    assert (oai->suffix);
    oai->fim_chunks = json_is_array (extra) && json_array_size (extra) ? json_incref (extra) : NULL;
    return 0;
}

//  llama-server's logit_bias with false (never) as -100; token texts are
//  refused.
static int
s_logit_bias (json_t *root, json_t *body, xinf_gw_error_t *error)
{
    json_t *bias = json_object_get (root, "logit_bias");
    if (!bias || json_is_null (bias))
        return 0;
    json_t *copy = json_deep_copy (bias);
    size_t index;
    json_t *pair;
    json_array_foreach (json_is_array (copy) ? copy : NULL, index, pair) {
        if (json_is_array (pair) && json_array_size (pair) == 2 && json_is_string (json_array_get (pair, 0))) {
            json_decref (copy);
            return xinf_gw_error_bad (error, "logit_bias", "item %zu names a token by its text: give its id "
                                      "(POST /tokenize)", index);
        }
        if (json_is_array (pair) && json_array_size (pair) == 2 && json_is_false (json_array_get (pair, 1)))
            json_array_set_new (pair, 1, json_real (-100));
    }
    json_object_set_new (body, "logit_bias", copy);
    return 0;
}

//  The /v1/completions body of a llama-server body.
static json_t *
s_body (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error)
{
    static const char *const passed [] = {
        "temperature", "top_k", "top_p", "min_p", "seed", "stop", "stream", "presence_penalty",
        "frequency_penalty", "repeat_penalty", "repeat_last_n", "ignore_eos", "grammar", "json_schema", "min_tokens",
        NULL
    };
    json_t *body = json_object ();
    json_t *model = json_object_get (root, "model");
    json_object_set_new (body, "model", json_is_string (model) ? json_copy (model) : json_string ("x"));
    for (size_t index = 0; passed [index]; index++)
        if (json_object_get (root, passed [index]))
            json_object_set (body, passed [index], json_object_get (root, passed [index]));
    //  llama-server's defaults
    static const struct { const char *field; double value; } defaults [] = {
        { "temperature", XINF_GW_LLAMA_TEMPERATURE }, { "top_p", XINF_GW_LLAMA_TOP_P }, { "min_p", XINF_GW_LLAMA_MIN_P }
    };
    for (size_t index = 0; index < 3; index++)
        if (!json_object_get (root, defaults [index].field))
            json_object_set_new (body, defaults [index].field, json_real (defaults [index].value));
    if (!json_object_get (root, "top_k"))
        json_object_set_new (body, "top_k", json_integer (XINF_GW_LLAMA_TOP_K));
    json_t *temperature = json_object_get (body, "temperature");
    if (json_is_number (temperature) && json_number_value (temperature) < 0)
        json_object_set_new (body, "temperature", json_real (0));       //  llama-server's greedy
    json_t *seed = json_object_get (root, "seed");
    if (json_is_integer (seed) && json_integer_value (seed) == -1)
        json_object_del (body, "seed");                                  //  a random seed
    json_t *n_predict = json_object_get (root, "n_predict");
    if (n_predict && !json_is_null (n_predict)) {
        if (!json_is_integer (n_predict) || json_integer_value (n_predict) < -1
        ||  json_integer_value (n_predict) > UINT32_MAX) {
            json_decref (body);
            xinf_gw_error_bad (error, "n_predict", "must be an integer from -1 (to the context's end)");
            return NULL;
        }
        if (json_integer_value (n_predict) > 0)
            json_object_set (body, "max_tokens", n_predict);
        if (json_integer_value (n_predict) == 0)             //  the prompt alone (its keys into the cache):
            json_object_set_new (body, "max_tokens", json_integer (1));      //  set after the parse
    }
    if (!json_object_get (body, "max_tokens"))
        json_object_set_new (body, "max_tokens", json_integer (UINT32_MAX));     //  the worker stops at the context
    json_t *probs = json_object_get (root, "n_probs");
    if (probs && !json_is_null (probs)) {
        if (!json_is_integer (probs) || json_integer_value (probs) < 0 || json_integer_value (probs) > S_PROBS_MAX) {
            json_decref (body);
            xinf_gw_error_bad (error, "n_probs", "must be an integer from 0 to %d", S_PROBS_MAX);
            return NULL;
        }
        if (json_integer_value (probs) > 0)
            json_object_set (body, "logprobs", probs);
    }
    bool infill = request->route == XINF_GW_ROUTE_LLAMA_INFILL;
    if ((infill ? s_infill (root, body, &request->oai, error) : s_prompt (root, body, error))
    ||  s_logit_bias (root, body, error)) {
        json_decref (body);
        return NULL;
    }
    return body;
}

//  Field names of the completions' parser as llama-server's.
static void
s_rename (xinf_gw_error_t *error)
{
    xinf_gw_error_rename (error, "max_tokens", "n_predict");
    xinf_gw_error_rename (error, "logprobs", "n_probs");
}

//  generation_settings: what the answer was generated with.
static json_t *
s_settings (const xinf_gw_oai_t *oai, json_t *root)
{
    json_t *settings = json_object ();
    json_object_set_new (settings, "n_predict", json_integer (oai->zero_tokens ? 0 : oai->max_tokens
                                                              && oai->max_tokens < UINT32_MAX
                                                              ? (json_int_t) oai->max_tokens : -1));
    json_object_set_new (settings, "seed", oai->has_seed ? json_integer ((json_int_t) oai->seed) : json_integer (-1));
    json_object_set_new (settings, "temperature", json_real (oai->temperature));
    json_object_set_new (settings, "top_k", json_integer ((json_int_t) oai->top_k));
    json_object_set_new (settings, "top_p", json_real (oai->top_p));
    json_object_set_new (settings, "min_p", json_real (oai->min_p));
    json_object_set_new (settings, "presence_penalty", json_real (oai->presence_penalty));
    json_object_set_new (settings, "frequency_penalty", json_real (oai->frequency_penalty));
    json_object_set_new (settings, "repeat_penalty", json_real (oai->repetition_penalty));
    json_object_set_new (settings, "repeat_last_n", json_integer (oai->has_repetition_last_n
                                                                  ? (json_int_t) oai->repetition_last_n : -1));
    json_object_set_new (settings, "ignore_eos", json_boolean (oai->ignore_eos));
    json_object_set_new (settings, "n_probs", json_integer (oai->logprobs ? (json_int_t) oai->top_logprobs : 0));
    json_object_set_new (settings, "stream", json_boolean (oai->stream));
    json_t *stops = json_array ();
    for (size_t index = 0; index < oai->stop_count; index++)
        json_array_append_new (stops, xinf_gw_json_text (oai->stops [index], strlen (oai->stops [index])));
    json_object_set_new (settings, "stop", stops);
    json_t *grammar = json_object_get (root, "grammar");
    json_object_set_new (settings, "grammar", json_is_string (grammar) ? json_copy (grammar) : json_string (""));
    return settings;
}

//  What editors' code completion sends (llama.vim, llama.vscode): n_indent,
//  t_max_predict_ms (non-negative integers) and response_fields (strings).
static int
s_editor_fields (json_t *root, s_llama_t *llama, xinf_gw_error_t *error)
{
    const char *names [] = { "n_indent", "t_max_predict_ms" };
    int64_t *values [] = { &llama->n_indent, &llama->t_max_predict_ms };
    for (size_t index = 0; index < 2; index++) {
        json_t *value = json_object_get (root, names [index]);
        if (!value || json_is_null (value))
            continue;
        if (!json_is_integer (value) || json_integer_value (value) < 0 || json_integer_value (value) > INT32_MAX)
            return xinf_gw_error_bad (error, names [index], "must be an integer from 0 (0: off)");
        *values [index] = json_integer_value (value);
    }
    json_t *fields = json_object_get (root, "response_fields");
    if (!fields || json_is_null (fields))
        return 0;
    size_t index;
    json_t *field;
    bool strings = json_is_array (fields) && json_array_size (fields) <= 256;
    json_array_foreach (strings ? fields : NULL, index, field)
        strings = strings && json_is_string (field);
    if (!strings)
        return xinf_gw_error_bad (error, "response_fields", "must be an array of up to 256 field paths (strings)");
    llama->fields = json_array_size (fields) ? json_incref (fields) : NULL;
    return 0;
}

int
xinf_gw_llama_parse (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error)
{
    if (!json_is_object (root))
        return xinf_gw_error_bad (error, "body", "must be a JSON object");
    if (s_unsupported (root, error))
        return -1;
    json_t *body = s_body (request, root, error);
    if (!body)
        return -1;
    bool named = json_is_string (json_object_get (root, "model"));
    json_t *n_predict = json_object_get (root, "n_predict");
    bool prompt_alone = json_is_integer (n_predict) && json_integer_value (n_predict) == 0;
    char *suffix = request->oai.suffix;
    json_t *chunks = request->oai.fim_chunks;
    request->oai.suffix = NULL;
    request->oai.fim_chunks = NULL;
    int rc = xinf_gw_oai_parse (body, false, &request->oai, error);
    json_decref (body);
    free (request->oai.suffix);
    request->oai.suffix = suffix;
    request->oai.fim_chunks = chunks;
    request->oai.infill = request->route == XINF_GW_ROUTE_LLAMA_INFILL;
    if (rc) {
        s_rename (error);
        return -1;
    }
    if (!named)
        request->oai.model [0] = 0;           //  the one model that generates (LIST_MODELS)
    if (s_lora (root, &request->oai.lora_id, error))
        return -1;
    if (prompt_alone) {
        request->oai.max_tokens = 0;
        request->oai.zero_tokens = true;
    }
    request->oai.llama = true;
    json_t *tokens = json_object_get (root, "return_tokens");
    request->oai.return_tokens = json_is_true (tokens);
    s_llama_t *llama = calloc (1, sizeof *llama);
    assert (llama);
    request->shape = &xinf_gw_llama_shape;
    request->shaped = llama;
    if (s_editor_fields (root, llama, error))
        return -1;
    llama->settings = s_settings (&request->oai, root);
    return 0;
}

//  ---- the answer ---------------------------------------------------------------

static void
s_new_id (char *id, size_t size)
{
    snprintf (id, size, "cmpl-%08x%08x", (unsigned) randof (0x7fffffff), (unsigned) randof (0x7fffffff));
}

//  The log-probabilities not yet written (taken).
static json_t *
s_probabilities (xinf_gw_request_t *request)
{
    json_t *entries = request->logprobs ? request->logprobs : json_array ();
    request->logprobs = NULL;
    return entries;
}

//  How much of a piece of text to show under n_indent: all, or the text
//  before the first line (after a newline) that begins less indented
//  than n_indent (llama-server's cut; *cut then set).
static size_t
s_indented (s_llama_t *llama, const char *text, size_t size, bool *cut)
{
    for (size_t at = 0; llama->n_indent > 0 && at < size; at++) {
        char c = text [at];
        if (llama->line_start && (c == ' ' || c == '\t')) {
            llama->indent++;
            continue;
        }
        if (llama->line_start && llama->indent < llama->n_indent) {
            *cut = true;
            return at;
        }
        llama->line_start = c == '\n';
        llama->indent = 0;
    }
    return size;
}

//  A piece of text: kept for the answer, or a stream's event; where
//  n_indent cuts it or t_max_predict_ms has passed at a newline, the
//  answer ends (shape_ended).
static void
s_text (xinf_gw_request_t *request, const char *text, size_t size, json_t *calls)
{
    s_llama_t *llama = request->shaped;
    (void) calls;
    if (llama->ended || size == 0)
        return;
    bool cut = false;
    size = s_indented (llama, text, size, &cut);
    bool newline = size && memchr (text, '\n', size);
    llama->new_line = llama->new_line || newline;
    int64_t elapsed_ms = (zclock_usecs () - request->first_token_us) / 1000;
    if (cut || (newline && llama->t_max_predict_ms > 0 && request->first_token_us
                && elapsed_ms > llama->t_max_predict_ms))
        llama->ended = request->shape_ended = true;
    if (!request->oai.stream) {
        xinf_gw_buf_add (&llama->content, text, size);
        return;
    }
    if (size == 0)
        return;
    json_t *event = json_object ();
    json_object_set_new (event, "index", json_integer (0));
    json_object_set_new (event, "content", xinf_gw_json_text (text, size));
    json_object_set_new (event, "tokens", json_array ());
    json_object_set_new (event, "stop", json_false ());
    json_object_set_new (event, "id_slot", json_integer (0));
    json_object_set_new (event, "tokens_predicted", json_integer ((json_int_t) request->completion_tokens));
    json_object_set_new (event, "tokens_evaluated", json_integer ((json_int_t) request->prompt_tokens));
    if (request->oai.logprobs)
        json_object_set_new (event, "completion_probabilities", s_probabilities (request));
    xinf_gw_sse_json (&request->sse, event);
}

static void
s_thought (xinf_gw_request_t *request, const char *text, size_t size)
{
    s_text (request, text, size, NULL);       //  a completion has no thought apart
}

//  llama-server's timings of the generation.
static json_t *
s_timings (const xinf_gw_request_t *request)
{
    size_t cached = request->cached_tokens, prompt = request->prompt_tokens > cached ? request->prompt_tokens - cached : 0;
    double prefill = request->prefill_ms > 0 ? request->prefill_ms : 0, decode = request->decode_ms > 0
                   ? request->decode_ms : 0;
    size_t predicted = request->completion_tokens;
    json_t *timings = json_object ();
    json_object_set_new (timings, "cache_n", json_integer ((json_int_t) cached));
    json_object_set_new (timings, "prompt_n", json_integer ((json_int_t) prompt));
    json_object_set_new (timings, "prompt_ms", json_real (prefill));
    json_object_set_new (timings, "prompt_per_token_ms", json_real (prompt ? prefill / (double) prompt : 0));
    json_object_set_new (timings, "prompt_per_second", json_real (prefill > 0 ? 1000.0 * (double) prompt / prefill : 0));
    json_object_set_new (timings, "predicted_n", json_integer ((json_int_t) predicted));
    json_object_set_new (timings, "predicted_ms", json_real (decode));
    json_object_set_new (timings, "predicted_per_token_ms", json_real (predicted ? decode / (double) predicted : 0));
    json_object_set_new (timings, "predicted_per_second", json_real (decode > 0 ? 1000.0 * (double) predicted / decode
                                                                                : 0));
    return timings;
}

//  llama-server's response_fields: the result's values at those paths
//  ("timings/prompt_n": a nested one), each under its path; paths not
//  in it left out. Takes 'result'.
static json_t *
s_fields (json_t *result, json_t *fields)
{
    json_t *picked = json_object ();
    size_t index;
    json_t *field;
    json_array_foreach (fields, index, field) {
        char path [256];
        snprintf (path, sizeof path, "%s", json_string_value (field));
        json_t *value = result;
        char *rest = NULL;
        for (char *key = strtok_r (path, "/", &rest); key && value; key = strtok_r (NULL, "/", &rest))
            value = json_is_object (value) ? json_object_get (value, key) : NULL;
        if (value)
            json_object_set (picked, json_string_value (field), value);
    }
    json_decref (result);
    return picked;
}

//  The whole result ('content': the answer; a stream's last event has "").
static json_t *
s_result (xinf_gw_request_t *request, const char *reason, const char *content, size_t size)
{
    s_llama_t *llama = request->shaped;
    json_t *result = json_object ();
    json_object_set_new (result, "index", json_integer (0));
    json_object_set_new (result, "content", xinf_gw_json_text (content, size));
    json_t *tokens = json_array ();
    for (size_t index = 0; index < request->id_count; index++)
        json_array_append_new (tokens, json_integer (request->ids [index]));
    json_object_set_new (result, "tokens", tokens);
    json_object_set_new (result, "id_slot", json_integer (0));
    json_object_set_new (result, "stop", json_true ());
    json_object_set_new (result, "model", json_string (request->oai.model));
    json_object_set_new (result, "tokens_predicted", json_integer ((json_int_t) request->completion_tokens));
    json_object_set_new (result, "tokens_evaluated", json_integer ((json_int_t) request->prompt_tokens));
    json_object_set (result, "generation_settings", llama->settings);
    json_object_set_new (result, "prompt", request->oai.prompt ? xinf_gw_json_text (request->oai.prompt,
                                                                                      request->oai.prompt_size)
                                                                 : json_string (""));
    json_object_set_new (result, "has_new_line", json_boolean (llama->new_line));
    json_object_set_new (result, "truncated", json_false ());
    int matched = request->text.matched;
    json_object_set_new (result, "stop_type", json_string (streq (reason, "length") ? "limit"
                                                           : matched >= 0 ? "word" : "eos"));
    const char *word = matched >= 0 ? request->oai.stops [matched] : "";
    json_object_set_new (result, "stopping_word", xinf_gw_json_text (word, strlen (word)));
    json_object_set_new (result, "tokens_cached", json_integer ((json_int_t) request->cached_tokens));
    json_object_set_new (result, "timings", s_timings (request));
    if (request->oai.logprobs)
        json_object_set_new (result, "completion_probabilities", s_probabilities (request));
    return llama->fields ? s_fields (result, llama->fields) : result;
}

static void
s_finish (xinf_gw_request_t *request, const char *reason)
{
    s_llama_t *llama = request->shaped;
    if (!request->oai.stream) {
        json_t *result = s_result (request, reason, llama->content.data ? llama->content.data : "",
                                   llama->content.size);
        xinf_gw_respond_json (request, 200, result);
        return;
    }
    xinf_gw_sse_json (&request->sse, s_result (request, reason, "", 0));
    request->stream_ended = true;
    xinf_gw_stream_wake (request);
}

//  A stream that fails once open: llama-server's error event, then its end.
static void
s_fail_stream (xinf_gw_request_t *request, const xinf_gw_error_t *error)
{
    xinf_gw_sse_json (&request->sse, xinf_gw_error_json (error));
    request->stream_ended = true;
    xinf_gw_stream_wake (request);
}

static void
s_clear (xinf_gw_request_t *request)
{
    s_llama_t *llama = request->shaped;
    if (!llama)
        return;
    json_decref (llama->settings);
    json_decref (llama->fields);
    xinf_gw_buf_free (&llama->content);
    free (llama);
    request->shaped = NULL;
}

const xinf_gw_shape_t xinf_gw_llama_shape = {
    .new_id = s_new_id, .text = s_text, .thought = s_thought, .finish = s_finish, .fail_stream = s_fail_stream,
    .rename = s_rename, .clear = s_clear
};
