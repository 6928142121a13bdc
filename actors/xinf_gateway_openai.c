/*  xinf_gateway_openai: OpenAI request bodies into a checked struct, and
    errors in OpenAI's shape.

    Every field the gateway uses is checked for type and range; a bad one
    is a 400 naming it (`param`). Unknown fields are ignored, as OpenAI
    does. jansson refuses malformed JSON, invalid UTF-8 and NUL in strings,
    and limits nesting.
*/
#include "xinf_gateway_private.h"
#include "xinf_gateway_tools.h"
#include "xinf_envelope_msg.h"
#include <math.h>

void
xinf_gw_error_set (xinf_gw_error_t *self, unsigned status, const char *type, const char *code,
                   const char *param, const char *format, ...)
{
    memset (self, 0, sizeof *self);
    self->status = status;
    self->type = type;
    self->code = code;
    snprintf (self->param, sizeof self->param, "%s", param ? param : "");
    va_list args;
    va_start (args, format);
    xinf_vtextf (self->message, sizeof self->message, format, args);
    va_end (args);
}

json_t *
xinf_gw_error_json (const xinf_gw_error_t *self)
{
    json_t *error = json_object ();
    json_object_set_new (error, "message", xinf_gw_json_text (self->message, strlen (self->message)));
    json_object_set_new (error, "type", json_string (self->type ? self->type : "invalid_request_error"));
    json_object_set_new (error, "param", *self->param ? json_string (self->param) : json_null ());
    json_object_set_new (error, "code", self->code ? json_string (self->code) : json_null ());
    json_t *root = json_object ();
    json_object_set_new (root, "error", error);
    return root;
}

//  A supervisor's refusal starts with the message it refused
//  ("GENERATE: "), which an HTTP client never sent: the rest, or all.
static const char *
s_without_type (const char *message)
{
    const char *at = message;
    while ((*at >= 'A' && *at <= 'Z') || *at == '_')
        at++;
    return at > message && at - message <= 32 && at [0] == ':' && at [1] == ' ' ? at + 2 : message;
}

//  The request field a refusal names ("field 'top_p' ..."), as OpenAI
//  names it (the field, not its item: logit_bias[2].token is logit_bias;
//  GENERATE's prompt_tokens is the prompt), into 'param'.
static void
s_param_named (const char *message, char *param, size_t size)
{
    const char *start = strstr (message, "field '");
    const char *end = start ? strchr (start + 7, '\'') : NULL;
    *param = 0;
    if (!end || end - start - 7 >= (ptrdiff_t) size)
        return;
    snprintf (param, size, "%.*s", (int) (end - start - 7), start + 7);
    param [strcspn (param, "[.")] = 0;
    if (streq (param, "prompt_tokens"))
        snprintf (param, size, "prompt");
    if (streq (param, "json_schema"))
        snprintf (param, size, "response_format");
    if (streq (param, "regex"))
        snprintf (param, size, "guided_regex");
}

//  XINF-CLIENT/1 error codes and their HTTP statuses.
void
xinf_gw_error_from_code (xinf_gw_error_t *self, const char *code, const char *message, uint64_t retry_after_ms)
{
    static const struct { const char *code; unsigned status; const char *type; const char *openai; } table [] = {
        { "BAD_REQUEST", 400, "invalid_request_error", "invalid_value" },
        { "CONTEXT_EXCEEDED", 400, "invalid_request_error", "context_length_exceeded" },
        { "TOO_LARGE", 413, "invalid_request_error", "request_too_large" },
        { "UNKNOWN_MODEL", 404, "invalid_request_error", "model_not_found" },
        { "DUPLICATE_MODEL", 409, "invalid_request_error", "model_exists" },
        { "OVERLOADED", 429, "server_overloaded", "overloaded" },
        { "RATE_LIMITED", 429, "server_overloaded", "rate_limited" },
        { "SLOW_CLIENT", 503, "server_error", "slow_client" },
        { "EXECUTOR_LOST", 503, "server_error", "executor_lost" },
        { "EXECUTOR_HUNG", 503, "server_error", "executor_hung" },
        { "MODEL_NOT_READY", 503, "server_error", "model_not_ready" },
        { "RESTARTING", 503, "server_error", "restarting" },
        { "STANDBY", 503, "server_error", "standby" },
        { "NO_WORKER", 503, "server_error", "no_worker" },
        { "DEADLINE_EXCEEDED", 504, "timeout_error", "deadline_exceeded" },
        { NULL, 500, "server_error", NULL }
    };
    size_t index = 0;
    while (table [index].code && !streq (table [index].code, code))
        index++;
    char param [64];
    const char *text = s_without_type (message);
    s_param_named (text, param, sizeof param);
    if (streq (code, "UNKNOWN_MODEL"))
        snprintf (param, sizeof param, "model");
    xinf_gw_error_set (self, table [index].status, table [index].type,
                       table [index].openai ? table [index].openai : code, *param ? param : NULL, "%s", text);
    self->retry_after_ms = (int64_t) retry_after_ms;
}

const char *
xinf_gw_error_from_msg (xinf_gw_error_t *self, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_envelope_msg_error_t answer;
    xinf_envelope_msg_error_decode (xinf_msg_body (msg), &answer, &check);
    const char *code = answer.code ? answer.code : "INTERNAL";
    xinf_gw_error_from_code (self, code, answer.message ? answer.message : "",
                             answer.has_retry_after_ms ? answer.retry_after_ms : 0);
    return code;
}

json_t *
xinf_gw_json_text (const char *bytes, size_t size)
{
    json_t *text = json_stringn (bytes, size);
    if (text)
        return text;
    //  Not valid UTF-8: replace each bad byte by U+FFFD
    xinf_gw_buf_t clean = { 0 };
    size_t at = 0;
    while (at < size) {
        size_t step = 1;
        unsigned char lead = (unsigned char) bytes [at];
        size_t need = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                    : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
        json_t *probe = need && at + need <= size ? json_stringn (bytes + at, need) : NULL;
        if (probe) {
            xinf_gw_buf_add (&clean, bytes + at, need);
            step = need;
            json_decref (probe);
        }
        else
            xinf_gw_buf_add (&clean, "\xEF\xBF\xBD", 3);
        at += step;
    }
    text = json_stringn (clean.data ? clean.data : "", clean.size);
    xinf_gw_buf_free (&clean);
    return text;
}

bool
xinf_gw_uid_valid (const char *text)
{
    size_t length = strlen (text);
    if (length < 1 || length > XINF_GW_UID_MAX)
        return false;
    for (const char *at = text; *at; at++)
        if (!isalnum ((unsigned char) *at) && *at != '.' && *at != '_' && *at != '-')
            return false;
    return true;
}

json_t *
xinf_gw_json_parse (const char *body, size_t size, xinf_gw_error_t *error)
{
    json_error_t reason;
    json_t *root = json_loadb (body ? body : "", size, 0, &reason);
    if (!root) {
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_json", NULL,
                           "the body is not valid JSON: %s (line %d, column %d)", reason.text, reason.line,
                           reason.column);
        return NULL;
    }
    if (!json_is_object (root)) {
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_json", NULL,
                           "the body must be a JSON object");
        json_decref (root);
        return NULL;
    }
    return root;
}

int
xinf_gw_error_bad (xinf_gw_error_t *error, const char *param, const char *format, ...)
{
    char text [600];
    va_list args;
    va_start (args, format);
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", param, "'%s': %s", param, text);
    return -1;
}

//  Replaces the first 'size' bytes of error->param, and the same quoted
//  at the start of the message, with 'to'.
static void
s_rename_prefix (xinf_gw_error_t *error, size_t size, const char *to)
{
    char param [sizeof error->param], message [sizeof error->message];
    snprintf (param, sizeof param, "%s%s", to, error->param + size);
    if (error->message [0] == '\'' && strncmp (error->message + 1, error->param, size) == 0) {
        snprintf (message, sizeof message, "'%s%s", to, error->message + 1 + size);
        snprintf (error->message, sizeof error->message, "%s", message);
    }
    snprintf (error->param, sizeof error->param, "%s", param);
}

void
xinf_gw_error_rename (xinf_gw_error_t *error, const char *from, const char *to)
{
    size_t size = strlen (from);
    char next = error->param [size];
    if (strncmp (error->param, from, size) == 0 && (next == 0 || next == '.' || next == '['))
        s_rename_prefix (error, size, to);
}

void
xinf_gw_error_rename_tools (xinf_gw_error_t *error, const char *parameters)
{
    const char *function = strstr (error->param, "].function.");
    if (strncmp (error->param, "tools[", 6) || !function)
        return;
    const char *field = function + strlen ("].function.");
    char to [sizeof error->param];
    snprintf (to, sizeof to, "%.*s].%s", (int) (function - error->param), error->param,
              strncmp (field, "parameters", 10) == 0 ? parameters : field);
    s_rename_prefix (error, strlen (error->param), to);
}

//  An optional number in [low, high]; absent or null keeps *value.
static int
s_number (json_t *root, const char *key, double low, double high, double *value, xinf_gw_error_t *error)
{
    json_t *item = json_object_get (root, key);
    if (!item || json_is_null (item))
        return 0;
    if (!json_is_number (item))
        return xinf_gw_error_bad (error, key, "must be a number, not %s", json_is_string (item) ? "a string" : "another type");
    double number = json_number_value (item);
    if (!isfinite (number) || number < low || number > high)
        return xinf_gw_error_bad (error, key, "must be between %g and %g", low, high);
    *value = number;
    return 0;
}

//  An optional integer in [low, high]; absent or null keeps *value.
static int
s_integer (json_t *root, const char *key, json_int_t low, json_int_t high, json_int_t *value, xinf_gw_error_t *error)
{
    json_t *item = json_object_get (root, key);
    if (!item || json_is_null (item))
        return 0;
    if (!json_is_integer (item))
        return xinf_gw_error_bad (error, key, "must be an integer");
    json_int_t number = json_integer_value (item);
    if (number < low || number > high)
        return xinf_gw_error_bad (error, key, "must be between %lld and %lld", (long long) low, (long long) high);
    *value = number;
    return 0;
}

static int
s_bool (json_t *root, const char *key, bool *value, xinf_gw_error_t *error)
{
    json_t *item = json_object_get (root, key);
    if (!item || json_is_null (item))
        return 0;
    if (!json_is_boolean (item))
        return xinf_gw_error_bad (error, key, "must be true or false");
    *value = json_is_true (item);
    return 0;
}

static int
s_stop (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *stop = json_object_get (root, "stop");
    if (!stop || json_is_null (stop))
        return 0;
    json_t *single = json_is_string (stop) ? stop : NULL;
    if (!single && !json_is_array (stop))
        return xinf_gw_error_bad (error, "stop", "must be a string or an array of up to %d strings", XINF_GW_STOPS_MAX);
    size_t count = single ? 1 : json_array_size (stop);
    if (count > XINF_GW_STOPS_MAX)
        return xinf_gw_error_bad (error, "stop", "at most %d stop strings, not %zu", XINF_GW_STOPS_MAX, count);
    for (size_t index = 0; index < count; index++) {
        json_t *item = single ? single : json_array_get (stop, index);
        if (!json_is_string (item))
            return xinf_gw_error_bad (error, "stop", "item %zu must be a string", index);
        size_t length = json_string_length (item);
        if (length < 1 || length > XINF_GW_STOP_MAX)
            return xinf_gw_error_bad (error, "stop", "a stop string must have 1 to %d bytes", XINF_GW_STOP_MAX);
        out->stops [out->stop_count++] = strdup (json_string_value (item));
    }
    return 0;
}

//  A logit_bias key: a token id in decimal (OpenAI's form; leading zeros
//  ignored), at most UINT32_MAX; -1 for anything else.
static int64_t
s_bias_token (const char *key)
{
    size_t length = strlen (key), zeros = strspn (key, "0");
    if (length == 0 || strspn (key, "0123456789") != length)
        return -1;
    if (zeros == length)
        return 0;
    if (length - zeros > 10)
        return -1;
    unsigned long long token = strtoull (key + zeros, NULL, 10);
    return token <= UINT32_MAX ? (int64_t) token : -1;
}

//  One bias: its token (-1: not a token id) and value, checked.
static int
s_bias_put (xinf_gw_oai_t *out, int64_t token, const char *name, json_t *value, xinf_gw_error_t *error)
{
    if (token < 0)
        return xinf_gw_error_bad (error, "logit_bias", "key '%.40s' is not a token id (a decimal integer)", name);
    if (!json_is_number (value) || !isfinite (json_number_value (value)) || fabs (json_number_value (value)) > 100)
        return xinf_gw_error_bad (error, "logit_bias", "the bias of token %lld must be a number between -100 and 100",
                                  (long long) token);
    out->bias_tokens [out->bias_count] = (uint32_t) token;
    out->bias_values [out->bias_count++] = json_number_value (value);
    return 0;
}

//  logit_bias: OpenAI's object of token ids (strings) to biases in
//  [-100, 100], or llama-server's array of [token id, bias] pairs; up to
//  2,048 (the worker checks the ids against the vocabulary).
static int
s_logit_bias (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *bias = json_object_get (root, "logit_bias");
    if (!bias || json_is_null (bias))
        return 0;
    if (!json_is_object (bias) && !json_is_array (bias))
        return xinf_gw_error_bad (error, "logit_bias", "must be an object of token ids to biases");
    size_t count = json_is_object (bias) ? json_object_size (bias) : json_array_size (bias);
    if (count > XINF_GW_LOGIT_BIASES)
        return xinf_gw_error_bad (error, "logit_bias", "at most %d tokens, not %zu", XINF_GW_LOGIT_BIASES, count);
    if (count == 0)
        return 0;
    out->bias_tokens = calloc (count, sizeof *out->bias_tokens);
    out->bias_values = calloc (count, sizeof *out->bias_values);
    if (!out->bias_tokens || !out->bias_values)
        return xinf_gw_error_bad (error, "logit_bias", "out of memory for %zu biases", count);
    const char *key;
    json_t *value;
    json_object_foreach (bias, key, value)
        if (s_bias_put (out, s_bias_token (key), key, value, error))
            return -1;
    size_t index;
    json_array_foreach (bias, index, value) {
        json_t *token = json_array_get (value, 0);
        if (!json_is_array (value) || json_array_size (value) != 2 || !json_is_integer (token))
            return xinf_gw_error_bad (error, "logit_bias", "item %zu must be a [token id, bias] pair", index);
        json_int_t id = json_integer_value (token);
        if (id < 0 || id > UINT32_MAX)
            return xinf_gw_error_bad (error, "logit_bias", "item %zu: %lld is not a token id", index, (long long) id);
        if (s_bias_put (out, id, NULL, json_array_get (value, 1), error))
            return -1;
    }
    return 0;
}

//  Log-probabilities. Chat: logprobs true or false (or 1 or 0, which
//  lenient clients send), top_logprobs 0-20 with it. Completions:
//  logprobs, the most likely tokens 0-20 (OpenAI allows 5, vLLM 20); null
//  and false leave it off.
static int
s_logprobs (json_t *root, bool chat, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_int_t top = 0;
    json_t *logprobs = json_object_get (root, "logprobs");
    if (!chat) {
        out->logprobs = logprobs && !json_is_null (logprobs) && !json_is_false (logprobs);
        if (out->logprobs && s_integer (root, "logprobs", 0, XINF_GW_TOP_LOGPROBS, &top, error))
            return -1;
        out->top_logprobs = (uint64_t) top;
        return 0;
    }
    if (json_is_integer (logprobs) && (json_integer_value (logprobs) == 0 || json_integer_value (logprobs) == 1))
        out->logprobs = json_integer_value (logprobs) == 1;
    else
    if (s_bool (root, "logprobs", &out->logprobs, error))
        return -1;
    if (s_integer (root, "top_logprobs", 0, XINF_GW_TOP_LOGPROBS, &top, error))
        return -1;
    if (top > 0 && !out->logprobs)
        return xinf_gw_error_bad (error, "top_logprobs", "needs logprobs set to true");
    out->top_logprobs = (uint64_t) top;
    return 0;
}

//  vLLM's stop_token_ids: up to 64 token ids (the worker checks them
//  against the vocabulary).
static int
s_stop_ids (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *ids = json_object_get (root, "stop_token_ids");
    if (!ids || json_is_null (ids))
        return 0;
    if (!json_is_array (ids) || json_array_size (ids) > XINF_GW_STOP_IDS_MAX)
        return xinf_gw_error_bad (error, "stop_token_ids", "must be an array of up to %d token ids",
                                  XINF_GW_STOP_IDS_MAX);
    size_t index;
    json_t *id;
    json_array_foreach (ids, index, id) {
        if (!json_is_integer (id) || json_integer_value (id) < 0 || json_integer_value (id) > UINT32_MAX)
            return xinf_gw_error_bad (error, "stop_token_ids", "item %zu is not a token id", index);
        out->stop_ids [out->stop_id_count++] = (uint32_t) json_integer_value (id);
    }
    return 0;
}

//  vLLM's allowed_token_ids: a non-empty array of token ids (checked
//  against the vocabulary by the replica), kept for GENERATE.
static int
s_allowed (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *ids = json_object_get (root, "allowed_token_ids");
    if (!ids || json_is_null (ids))
        return 0;
    if (!json_is_array (ids) || json_array_size (ids) == 0 || json_array_size (ids) > 32768)
        return xinf_gw_error_bad (error, "allowed_token_ids", "must be an array of 1 to 32768 token ids");
    size_t index;
    json_t *id;
    json_array_foreach (ids, index, id)
        if (!json_is_integer (id) || json_integer_value (id) < 0 || json_integer_value (id) > UINT32_MAX)
            return xinf_gw_error_bad (error, "allowed_token_ids", "item %zu is not a token id", index);
    out->allowed = json_incref (ids);
    return 0;
}

//  vLLM's bad_words: up to 64 strings of 1 to 256 bytes.
static int
s_bad_words (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *words = json_object_get (root, "bad_words");
    if (!words || json_is_null (words))
        return 0;
    if (!json_is_array (words) || json_array_size (words) > 64)
        return xinf_gw_error_bad (error, "bad_words", "must be an array of up to 64 strings");
    size_t index;
    json_t *word;
    json_array_foreach (words, index, word)
        if (!json_is_string (word) || json_string_length (word) < 1 || json_string_length (word) > 256)
            return xinf_gw_error_bad (error, "bad_words", "item %zu must be a string of 1 to 256 bytes", index);
    out->bad_words = json_incref (words);
    return 0;
}

//  vLLM's repetition_penalty (on the whole prompt and answer), or
//  llama-server's repeat_penalty and repeat_last_n (its default 64; -1:
//  the whole context; 0: none).
static int
s_repetition (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    out->repetition_penalty = 1;
    json_t *vllm = json_object_get (root, "repetition_penalty"), *llama = json_object_get (root, "repeat_penalty");
    bool by_vllm = vllm && !json_is_null (vllm), by_llama = llama && !json_is_null (llama);
    bool same = json_is_number (vllm) && json_is_number (llama) && json_number_value (vllm) == json_number_value (llama);
    if (by_vllm && by_llama && !same)         //  SillyTavern sends both, the same
        return xinf_gw_error_bad (error, "repeat_penalty", "repetition_penalty and repeat_penalty differ: give one");
    json_int_t last_n = by_vllm ? -1 : XINF_GW_REPEAT_LAST_N;
    if (s_number (root, by_vllm ? "repetition_penalty" : "repeat_penalty", 0.01, 10, &out->repetition_penalty, error)
    ||  s_integer (root, "repeat_last_n", -1, UINT32_MAX, &last_n, error))
        return -1;
    out->has_repetition_last_n = last_n >= 0;
    out->repetition_last_n = last_n >= 0 ? (uint64_t) last_n : 0;
    return 0;
}

//  The sampling fields both endpoints share.
static int
s_sampling (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_int_t n = 1, max_tokens = -1, top_k = 0, seed = 0, priority = 0;
    out->temperature = 1.0;
    out->top_p = 1.0;
    if (s_integer (root, "n", 1, XINF_GW_CHOICES_MAX, &n, error))
        return -1;
    out->n = (size_t) n;
    json_int_t best_of = n;
    if (s_integer (root, "best_of", 1, INT32_MAX, &best_of, error))
        return -1;
    if (best_of != n)
        return xinf_gw_error_bad (error, "best_of", "only best_of = n (%lld) is supported: each choice generated "
                                  "is returned", (long long) n);
    const char *keys [] = { "max_tokens", "max_completion_tokens" };
    for (size_t index = 0; index < 2; index++)
        if (s_integer (root, keys [index], 0, UINT32_MAX, &max_tokens, error))
            return -1;
    out->zero_tokens = max_tokens == 0;
    out->max_tokens = max_tokens > 0 ? (uint64_t) max_tokens : 0;
    if (s_number (root, "temperature", 0, 2, &out->temperature, error)
    ||  s_number (root, "top_p", 0, 1, &out->top_p, error)
    ||  s_number (root, "min_p", 0, 1, &out->min_p, error)
    ||  s_number (root, "presence_penalty", -2, 2, &out->presence_penalty, error)
    ||  s_number (root, "frequency_penalty", -2, 2, &out->frequency_penalty, error)
    ||  s_repetition (root, out, error)
    ||  s_logit_bias (root, out, error)
    ||  s_logprobs (root, out->chat, out, error)
    ||  s_bool (root, "ignore_eos", &out->ignore_eos, error)
    ||  xinf_gw_oai_guided (root, out, error)
    ||  s_stop_ids (root, out, error)
    ||  s_allowed (root, out, error)
    ||  s_bad_words (root, out, error)
    ||  s_integer (root, "top_k", 0, UINT32_MAX, &top_k, error)
    ||  s_integer (root, "seed", INT64_MIN, INT64_MAX, &seed, error)
    ||  s_integer (root, "priority", -1000000, 1000000, &priority, error)
    ||  s_bool (root, "stream", &out->stream, error)
    ||  s_stop (root, out, error))
        return -1;
    json_int_t min_tokens = 0, truncate = 0;
    if (s_integer (root, "min_tokens", 0, UINT32_MAX, &min_tokens, error)
    ||  s_integer (root, "truncate_prompt_tokens", -1, UINT32_MAX, &truncate, error)
    ||  s_bool (root, "include_stop_str_in_output", &out->include_stop, error))
        return -1;
    if (json_is_integer (json_object_get (root, "truncate_prompt_tokens")) && truncate == 0)
        return xinf_gw_error_bad (error, "truncate_prompt_tokens", "must be -1 (the context) or at least 1");
    out->truncate = (int64_t) truncate;
    if (max_tokens >= 0 && min_tokens > max_tokens)
        return xinf_gw_error_bad (error, "min_tokens", "must be at most max_tokens (%lld)", (long long) max_tokens);
    out->min_tokens = (uint64_t) min_tokens;
    out->top_k = (uint64_t) top_k;
    out->seed = (uint64_t) seed;
    out->has_seed = json_is_integer (json_object_get (root, "seed"));
    out->priority = (int64_t) priority;
    json_t *options = json_object_get (root, "stream_options");
    if (options && !json_is_null (options)) {
        if (!json_is_object (options))
            return xinf_gw_error_bad (error, "stream_options", "must be an object");
        if (!out->stream)
            return xinf_gw_error_bad (error, "stream_options", "is only allowed when stream is true");
        if (s_bool (options, "include_usage", &out->include_usage, error))
            return -1;
    }
    return 0;
}

//  Completions: prompt is a string, a one-string array, token ids, or one
//  array of token ids.
static int
s_prompt (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *prompt = json_object_get (root, "prompt");
    if (!prompt)
        return xinf_gw_error_bad (error, "prompt", "is required");
    if (json_is_array (prompt) && json_array_size (prompt) == 1 && !json_is_integer (json_array_get (prompt, 0)))
        prompt = json_array_get (prompt, 0);
    if (json_is_string (prompt)) {
        out->prompt_size = json_string_length (prompt);
        out->prompt = malloc (out->prompt_size + 1);
        assert (out->prompt);
        memcpy (out->prompt, json_string_value (prompt), out->prompt_size + 1);
        return 0;
    }
    if (!json_is_array (prompt) || json_array_size (prompt) == 0)
        return xinf_gw_error_bad (error, "prompt", "must be a string, or an array of token ids (one prompt per request)");
    out->prompt_token_count = json_array_size (prompt);
    out->prompt_tokens = calloc (out->prompt_token_count, sizeof *out->prompt_tokens);
    assert (out->prompt_tokens);
    for (size_t index = 0; index < out->prompt_token_count; index++) {
        json_t *id = json_array_get (prompt, index);
        if (!json_is_integer (id) || json_integer_value (id) < 0 || json_integer_value (id) > UINT32_MAX)
            return xinf_gw_error_bad (error, "prompt", "item %zu must be a token id (an integer from 0), or the prompt a string "
                          "(one prompt per request)", index);
        out->prompt_tokens [index] = (uint32_t) json_integer_value (id);
    }
    return 0;
}

//  Completions' suffix: the text after the one to write (an insertion, by
//  the model's fill-in-the-middle tokens, found once the model is known);
//  "" or null: none. Not with echo (the answer is the middle alone) nor a
//  prompt of token ids (the markers go between texts).
static int
s_suffix (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *suffix = json_object_get (root, "suffix");
    if (!suffix || json_is_null (suffix) || (json_is_string (suffix) && json_string_length (suffix) == 0))
        return 0;
    if (!json_is_string (suffix))
        return xinf_gw_error_bad (error, "suffix", "must be a string");
    if (strlen (json_string_value (suffix)) != json_string_length (suffix))
        return xinf_gw_error_bad (error, "suffix", "must not hold a NUL character");
    if (out->echo)
        return xinf_gw_error_bad (error, "suffix", "cannot be combined with echo: the answer is the text between "
                                  "the prompt and the suffix");
    if (out->prompt_tokens)
        return xinf_gw_error_bad (error, "suffix", "needs a text prompt (the fill-in-the-middle markers go between "
                                  "texts)");
    out->suffix = strdup (json_string_value (suffix));
    assert (out->suffix);
    return 0;
}

//  Completions' echo: the prompt's text before the completion's, and
//  with logprobs its tokens' log-probabilities before the completion's
//  (the prompt's first token's null), as OpenAI's legacy completions and
//  vLLM have them; a prompt of token ids is echoed as its tokens' text.
static int
s_echo (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    if (s_bool (root, "echo", &out->echo, error) || s_suffix (root, out, error))
        return -1;
    if (out->zero_tokens && !out->echo)
        return xinf_gw_error_bad (error, "max_tokens", "must be at least 1 (0 only with echo: the prompt alone)");
    return 0;
}

//  A message's content: a string, or text parts joined; missing or null
//  only in an assistant's message that calls tools (as OpenAI's API: a
//  template would render a missing one as nothing, or as "None").
static int
s_content (json_t *message, size_t index, xinf_gw_error_t *error)
{
    json_t *content = json_object_get (message, "content");
    if (json_is_string (content))
        return 0;
    if (!content || json_is_null (content)) {
        const char *role = json_string_value (json_object_get (message, "role"));
        if (streq (role, "assistant") && json_object_get (message, "tool_calls"))
            return 0;                 //  the calls are checked by xinf_gw_tools_check_message
        return xinf_gw_error_bad (error, "messages", "message %zu (%s): content is required (null or missing only in "
                                  "an assistant's message with tool_calls)", index, role);
    }
    if (!json_is_array (content))
        return xinf_gw_error_bad (error, "messages", "message %zu: content must be a string or an array of text parts", index);
    xinf_gw_buf_t text = { 0 };
    for (size_t part = 0; part < json_array_size (content); part++) {
        json_t *item = json_array_get (content, part);
        json_t *type = json_object_get (item, "type"), *value = json_object_get (item, "text");
        if (!json_is_object (item) || !json_is_string (type) || !streq (json_string_value (type), "text")
        ||  !json_is_string (value)) {
            xinf_gw_buf_free (&text);
            return xinf_gw_error_bad (error, "messages", "message %zu part %zu: only {\"type\": \"text\", \"text\": STRING} "
                          "parts are supported", index, part);
        }
        xinf_gw_buf_add (&text, json_string_value (value), json_string_length (value));
    }
    json_object_set_new (message, "content", json_stringn (text.data ? text.data : "", text.size));
    xinf_gw_buf_free (&text);
    return 0;
}

//  vLLM's and llama-server's chat_template_kwargs: more variables for the
//  template (Qwen3's enable_thinking, Llama 3.1's date_string, ...); not
//  the ones the request's own fields set.
static int
s_template_kwargs (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    static const char *const reserved [] = { "messages", "tools", "documents", "add_generation_prompt", "bos_token",
                                             "eos_token", NULL };
    json_t *kwargs = json_object_get (root, "chat_template_kwargs");
    if (!kwargs || json_is_null (kwargs))
        return 0;
    if (!json_is_object (kwargs) || json_object_size (kwargs) > XINF_GW_TEMPLATE_KWARGS)
        return xinf_gw_error_bad (error, "chat_template_kwargs", "must be an object of up to %d variables",
                                  XINF_GW_TEMPLATE_KWARGS);
    for (size_t index = 0; reserved [index]; index++)
        if (json_object_get (kwargs, reserved [index]))
            return xinf_gw_error_bad (error, "chat_template_kwargs", "'%s' is set by the request itself, not here",
                                      reserved [index]);
    char *compact = json_dumps (kwargs, JSON_COMPACT);
    size_t size = compact ? strlen (compact) : SIZE_MAX;
    free (compact);
    if (size > XINF_GW_TEMPLATE_KWARGS_BYTES)
        return xinf_gw_error_bad (error, "chat_template_kwargs", "at most %d bytes as compact JSON",
                                  XINF_GW_TEMPLATE_KWARGS_BYTES);
    out->template_kwargs = json_incref (kwargs);
    return 0;
}

bool
xinf_gw_reasoning_effort_known (const char *name)
{
    static const char *const efforts [] = { "none", "minimal", "low", "medium", "high", "xhigh" };
    for (size_t index = 0; name && index < sizeof efforts / sizeof efforts [0]; index++)
        if (streq (efforts [index], name))
            return true;
    return false;
}

//  OpenAI's reasoning_effort: the chat template's variable of that name,
//  as vLLM passes it (GPT-OSS's template writes "Reasoning: high"); a
//  value chat_template_kwargs gives itself wins.
static int
s_reasoning_effort (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *effort = json_object_get (root, "reasoning_effort");
    if (!effort || json_is_null (effort))
        return 0;
    const char *name = json_string_value (effort);
    if (!xinf_gw_reasoning_effort_known (name))
        return xinf_gw_error_bad (error, "reasoning_effort", "must be \"none\", \"minimal\", \"low\", \"medium\", "
                                  "\"high\" or \"xhigh\"");
    if (!out->template_kwargs)
        out->template_kwargs = json_object ();
    if (!json_object_get (out->template_kwargs, "reasoning_effort")) {
        json_t *kwargs = json_deep_copy (out->template_kwargs);      //  the request's object stays as it was
        json_object_set_new (kwargs, "reasoning_effort", json_string (name));
        json_decref (out->template_kwargs);
        out->template_kwargs = kwargs;
    }
    return 0;
}

//  llama-server's reasoning_format: "none" leaves a reasoning model's
//  thought in the content; "auto" and "deepseek" (the default) part it.
static int
s_reasoning_format (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *format = json_object_get (root, "reasoning_format");
    if (!format || json_is_null (format))
        return 0;
    const char *name = json_string_value (format);
    if (!name || !(streq (name, "none") || streq (name, "auto") || streq (name, "deepseek")))
        return xinf_gw_error_bad (error, "reasoning_format", "must be \"auto\", \"deepseek\" (the thought in "
                                  "reasoning_content) or \"none\" (left in the content)");
    out->reasoning_raw = streq (name, "none");
    return 0;
}

//  Chat: messages, each with a role and a content the template can use.
static int
s_messages (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    if (s_template_kwargs (root, out, error) || s_reasoning_effort (root, out, error)
    ||  s_reasoning_format (root, out, error))
        return -1;
    json_t *messages = json_object_get (root, "messages");
    if (!json_is_array (messages) || json_array_size (messages) == 0)
        return xinf_gw_error_bad (error, "messages", "is required: a non-empty array of {role, content}");
    if (json_array_size (messages) > XINF_GW_MESSAGES_MAX)
        return xinf_gw_error_bad (error, "messages", "at most %d messages", XINF_GW_MESSAGES_MAX);
    out->messages = json_deep_copy (messages);
    for (size_t index = 0; index < json_array_size (out->messages); index++) {
        json_t *message = json_array_get (out->messages, index);
        json_t *role = json_object_get (message, "role");
        if (!json_is_object (message) || !json_is_string (role))
            return xinf_gw_error_bad (error, "messages", "message %zu must be an object with a string role", index);
        const char *roles [] = { "system", "developer", "user", "assistant", "tool" };
        bool known = false;
        for (size_t at = 0; at < sizeof roles / sizeof roles [0]; at++)
            known |= streq (json_string_value (role), roles [at]);
        if (!known)
            return xinf_gw_error_bad (error, "messages", "message %zu: role must be system, developer, user, assistant or "
                                      "tool%s", index, streq (json_string_value (role), "function") ?
                                      " (the deprecated 'function' role: send its result as a 'tool' message)" : "");
        //  OpenAI's developer messages are what these models' templates
        //  know as system: an unknown role would be dropped or rendered raw
        if (streq (json_string_value (role), "developer"))
            json_object_set_new (message, "role", json_string ("system"));
        if (s_content (message, index, error) || xinf_gw_tools_check_message (message, index, error))
            return -1;
    }
    if (xinf_gw_tools_parse (root, out, error))
        return -1;
    out->add_generation_prompt = true;
    return s_bool (root, "add_generation_prompt", &out->add_generation_prompt, error);
}

//  OpenAI features this server does not have are refused, naming the
//  field, rather than ignored: code that expects an insertion would break
//  on an answer that silently lacks it (what asks for nothing passes).
//  Unknown fields stay ignored.
static int
s_unsupported (json_t *root, bool chat, xinf_gw_error_t *error)
{
    //  vLLM's own form of the prompt's log-probabilities (with each
    //  token's rank) is not given: OpenAI's echo with logprobs is
    json_t *prompt_logprobs = json_object_get (root, "prompt_logprobs");
    if (prompt_logprobs && !json_is_null (prompt_logprobs))
        return xinf_gw_error_bad (error, "prompt_logprobs", "is not supported in vLLM's form: ask /v1/completions "
                                  "with echo and logprobs for the prompt's log-probabilities");
    return 0;
}

int
xinf_gw_oai_parse (json_t *root, bool chat, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    memset (out, 0, sizeof *out);
    out->chat = chat;
    json_t *model = json_object_get (root, "model");
    if (!json_is_string (model))
        return xinf_gw_error_bad (error, "model", "is required: the uid of a launched model (GET /v1/models lists them)");
    if (!xinf_gw_uid_valid (json_string_value (model))) {
        xinf_gw_error_set (error, 404, "invalid_request_error", "model_not_found", "model",
                           "The model '%.80s' does not exist (GET /v1/models lists them)", json_string_value (model));
        return -1;
    }
    snprintf (out->model, sizeof out->model, "%s", json_string_value (model));
    if (s_unsupported (root, chat, error) || s_sampling (root, out, error)
    ||  (chat ? s_messages (root, out, error) : s_prompt (root, out, error) || s_echo (root, out, error)))
        return -1;
    if (chat && out->zero_tokens)
        return xinf_gw_error_bad (error, "max_tokens", "must be at least 1");
    //  A tool call's markup (<tool_call>, [TOOL_CALLS], ...) is no JSON
    //  object, no match of a regex: a call that must come could never be made
    bool must_call = out->tool_choice == XINF_GW_TOOL_CHOICE_REQUIRED || out->tool_choice == XINF_GW_TOOL_CHOICE_FUNCTION;
    if (out->constraint && must_call)
        return xinf_gw_error_bad (error, out->constraint, "a constrained answer cannot be combined with a tool_choice "
                                  "that requires a call: the call's markup is not what it is constrained to");
    return 0;
}

void
xinf_gw_oai_clear (xinf_gw_oai_t *self)
{
    free (self->prompt);
    free (self->suffix);
    json_decref (self->fim_chunks);
    json_decref (self->allowed);
    json_decref (self->bad_words);
    free (self->prompt_tokens);
    free (self->bias_tokens);
    free (self->bias_values);
    json_decref (self->messages);
    json_decref (self->tools);
    json_decref (self->template_kwargs);
    free (self->json_schema);
    free (self->regex);
    free (self->gbnf);
    for (size_t index = 0; index < self->stop_count; index++)
        free (self->stops [index]);
    memset (self, 0, sizeof *self);
}
