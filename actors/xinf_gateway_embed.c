/*  xinf_gateway_embed: POST /v1/embeddings (OpenAI's), over GENERATE embed;
    also the engine of /v1/rerank (xinf_gateway_rerank.c).

    Each input (a string, or an array of token ids) is one GENERATE with
    embed, max_tokens 0: the replica pools the final hidden states of its
    prompt (the mean, or the last position's: GENERATE pooling, or the
    model's file) and answers with the vector, scaled to length 1. Up to
    XINF_GW_EMBED_WINDOW inputs are in flight at once, so that a batch
    of inputs shares the replica's steps (continuous batching); each is
    a child request of the HTTP one (as the choices of n > 1 are), with
    its own call, deadline and CANCEL. An input the model's queue refuses
    (OVERLOADED: other requests hold it) waits for one of the request's
    own inputs to finish and goes again, so the request keeps fewer in
    flight (one more again with each answer); it fails only when none of
    its inputs is in flight. Any other
    failure of an input fails the request, and the others are cancelled.
    The request counts once in the gateway's metrics (outcome embedded).

    The answer: {"object": "list", "data": [{"object": "embedding",
    "index", "embedding"}], "model", "usage"}, each embedding an array of
    floats (9 significant digits: a float's exact value) or, with
    encoding_format "base64", its float32 little-endian bytes in base64.
    With dimensions d, the first d floats, scaled to length 1 again.
*/
#include "xinf_gateway_private.h"
#include "xinf_client_msg.h"
#include "xinf_envelope_msg.h"
#include "xinf_request_check.h"

#include <math.h>


//  One input: a non-empty string or a non-empty array of token ids. 0,
//  or -1 with the 400 naming input or input[index] (index < 0: the one).
static int
s_check_input (const json_t *input, long index, xinf_gw_error_t *error)
{
    char param [32];
    if (index < 0)
        snprintf (param, sizeof param, "input");
    else
        snprintf (param, sizeof param, "input[%ld]", index);
    if (json_is_string (input))
        return json_string_length (input) ? 0 : xinf_gw_error_bad (error, param, "an empty string has no embedding");
    if (!json_is_array (input) || json_array_size (input) == 0)
        return xinf_gw_error_bad (error, param, "must be a non-empty string or a non-empty array of token ids");
    if (json_array_size (input) > XINF_PROMPT_TOKENS_MAX)
        return xinf_gw_error_bad (error, param, "%zu token ids; at most %d", json_array_size (input),
                                  XINF_PROMPT_TOKENS_MAX);
    size_t at;
    json_t *id;
    json_array_foreach (input, at, id)
        if (!json_is_integer (id) || json_integer_value (id) < 0 || json_integer_value (id) > UINT32_MAX)
            return xinf_gw_error_bad (error, param, "item %zu must be a token id (an integer from 0)", at);
    return 0;
}

//  'input' as the list of inputs: one string or array of ids, or an
//  array of them. NULL with the 400.
static json_t *
s_inputs (json_t *input, xinf_gw_error_t *error)
{
    if (!input) {
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", "input",
                           "'input' is required: a string, an array of strings, of token ids or of arrays of them");
        return NULL;
    }
    bool one = json_is_string (input) || (json_is_array (input) && json_array_size (input)
                                          && json_is_integer (json_array_get (input, 0)));
    if (one)
        return s_check_input (input, -1, error) ? NULL : json_pack ("[O]", input);
    if (!json_is_array (input) || json_array_size (input) == 0 || json_array_size (input) > XINF_GW_EMBED_INPUTS) {
        xinf_gw_error_bad (error, "input", "must be a string, or an array of 1 to %d strings or arrays of token ids",
                           XINF_GW_EMBED_INPUTS);
        return NULL;
    }
    size_t index;
    json_t *item;
    json_array_foreach (input, index, item)
        if (s_check_input (item, (long) index, error))
            return NULL;
    return json_incref (input);
}

//  The body's other fields into the request; -1 with the 400.
static int
s_options (json_t *root, xinf_gw_embed_t *embed, xinf_gw_error_t *error)
{
    json_t *format = json_object_get (root, "encoding_format");
    if (format && !json_is_null (format)) {
        if (!json_is_string (format)
        ||  (!streq (json_string_value (format), "float") && !streq (json_string_value (format), "base64")))
            return xinf_gw_error_bad (error, "encoding_format", "must be \"float\" or \"base64\"");
        embed->base64 = streq (json_string_value (format), "base64");
    }
    json_t *dimensions = json_object_get (root, "dimensions");
    if (dimensions && !json_is_null (dimensions)) {
        if (!json_is_integer (dimensions) || json_integer_value (dimensions) < 1
        ||  json_integer_value (dimensions) > 65536)
            return xinf_gw_error_bad (error, "dimensions", "must be an integer from 1 to the model's width");
        embed->dimensions = (size_t) json_integer_value (dimensions);
    }
    json_t *pooling = json_object_get (root, "pooling");
    if (pooling && !json_is_null (pooling)) {
        if (!json_is_string (pooling)
        ||  (!streq (json_string_value (pooling), "mean") && !streq (json_string_value (pooling), "last")))
            return xinf_gw_error_bad (error, "pooling", "must be \"mean\" or \"last\" (default: the model's)");
        snprintf (embed->pooling, sizeof embed->pooling, "%s", json_string_value (pooling));
    }
    json_t *normalize = json_object_get (root, "normalize");
    embed->normalize = true;
    if (normalize && !json_is_null (normalize)) {
        if (!json_is_boolean (normalize))
            return xinf_gw_error_bad (error, "normalize", "must be true or false");
        embed->normalize = json_is_true (normalize);
    }
    return 0;
}

//  A child for the inputs in flight: no connection, the parent's model.
static xinf_gw_request_t *
s_child_new (xinf_gw_request_t *parent)
{
    xinf_gw_request_t *child = calloc (1, sizeof *child);
    assert (child);
    child->gateway = parent->gateway;
    child->route = parent->route;
    child->parent = parent;
    child->begun = parent->begun;
    child->oai = parent->oai;         //  its model only; cleared with the parent
    child->ended = true;              //  the parent counts in the metrics, not its inputs
    return child;
}

//  GENERATE embed of the parent's next input, by 'child'.
static void
s_send_next (xinf_gw_request_t *child)
{
    xinf_gw_request_t *parent = child->parent;
    xinf_gw_embed_t *embed = &parent->embed;
    child->choice = embed->n_parked ? embed->parked [--embed->n_parked] : embed->next++;
    json_t *input = embed->rerank ? NULL : json_array_get (embed->inputs, child->choice);
    xinf_msg_t *msg = xinf_msg_new ("GENERATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "uid", parent->oai.model);
    xinf_map_put_uint (body, "max_tokens", 0);
    xinf_map_put_bool (body, "embed", true);
    xinf_map_put_bool (body, "normalize", embed->normalize && !embed->dimensions);
    if (*embed->pooling)
        xinf_map_put_str (body, "pooling", embed->pooling);
    if (embed->rerank) {
        xinf_map_put_bool (body, "special", true);
        if (embed->template_prompt)
            xinf_map_put_bool (body, "add_bos", false);
    }
    if (embed->rerank) {
        char *prompt = xinf_gw_rerank_prompt (parent, child->choice);
        xinf_map_put_str (body, "prompt", prompt);
        free (prompt);
    }
    else
    if (json_is_string (input))
        xinf_map_put (body, "prompt", xinf_value_new_strn (json_string_value (input), json_string_length (input)));
    else {
        xinf_value_t *ids = xinf_value_new_array ();
        size_t at;
        json_t *id;
        json_array_foreach (input, at, id)
            xinf_array_push (ids, xinf_value_new_uint ((uint64_t) json_integer_value (id)));
        xinf_map_put (body, "prompt_tokens", ids);
    }
    xinf_gw_error_t error;
    if (xinf_gw_call (child, &msg, parent->gateway->config.request_timeout_ms, &error)) {
        xinf_gw_request_fail (child, &error);
        return;
    }
    child->generating = true;
    child->generate_corr = child->corr;
}

void
xinf_gw_embed_start (xinf_gw_request_t *request)
{
    xinf_gw_error_t error;
    json_t *root = xinf_gw_json_parse (request->body.data, request->body.size, &error);
    json_t *model = root ? json_object_get (root, "model") : NULL;
    if (root && !json_is_string (model))
        xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "model",
                           "'model' is required: the uid of a launched model");
    else
    if (root && !xinf_gw_uid_valid (json_string_value (model)))
        xinf_gw_error_set (&error, 404, "invalid_request_error", "model_not_found", "model",
                           "The model '%.80s' does not exist", json_string_value (model));
    else
    if (root && (s_options (root, &request->embed, &error) == 0))
        request->embed.inputs = s_inputs (json_object_get (root, "input"), &error);
    if (!request->embed.inputs) {
        json_decref (root);
        xinf_gw_respond_error (request, &error);
        return;
    }
    snprintf (request->oai.model, sizeof request->oai.model, "%s", json_string_value (model));
    json_decref (root);
    xinf_gw_buf_free (&request->body);
    xinf_gw_embed_run (request);
}

void
xinf_gw_embed_run (xinf_gw_request_t *request)
{
    request->choices = json_array ();
    size_t count = json_array_size (request->embed.inputs);
    for (size_t index = 0; index < count; index++)
        json_array_append_new (request->choices, json_null ());
    request->child_count = count < XINF_GW_EMBED_WINDOW ? count : XINF_GW_EMBED_WINDOW;
    request->children = calloc (request->child_count, sizeof (xinf_gw_request_t *));
    assert (request->children);
    for (size_t index = 0; index < request->child_count; index++)
        request->children [index] = s_child_new (request);
    for (size_t index = 0; index < request->child_count && !request->failed; index++)
        s_send_next (request->children [index]);
}

//  Bytes in base64 (RFC 4648, padded), as a JSON string.
static json_t *
s_base64 (const unsigned char *bytes, size_t size)
{
    static const char digits [] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *text = malloc ((size + 2) / 3 * 4 + 1);
    assert (text);
    size_t out = 0;
    for (size_t at = 0; at < size; at += 3) {
        uint32_t group = (uint32_t) bytes [at] << 16;
        if (at + 1 < size)
            group |= (uint32_t) bytes [at + 1] << 8;
        if (at + 2 < size)
            group |= bytes [at + 2];
        text [out++] = digits [group >> 18 & 63];
        text [out++] = digits [group >> 12 & 63];
        text [out++] = at + 1 < size ? digits [group >> 6 & 63] : '=';
        text [out++] = at + 2 < size ? digits [group & 63] : '=';
    }
    json_t *string = json_stringn (text, out);
    free (text);
    return string;
}

//  An input's embedding object from GENERATE_REPLY's floats: its first
//  'dimensions' (0: all), scaled to length 1 again when cut; NULL with
//  the error when there are fewer.
static json_t *
s_embedding (xinf_gw_request_t *parent, const xinf_value_t *floats, size_t index, xinf_gw_error_t *error)
{
    xinf_gw_embed_t *embed = &parent->embed;
    size_t dim = xinf_value_count (floats), keep = embed->dimensions ? embed->dimensions : dim;
    if (keep > dim) {
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", "dimensions",
                           "'dimensions' is %zu; model %s's embeddings have %zu", keep, parent->oai.model, dim);
        return NULL;
    }
    float *values = malloc ((keep ? keep : 1) * sizeof (float));
    assert (values);
    double norm = 0;
    for (size_t i = 0; i < keep; i++) {
        values [i] = (float) xinf_value_float (xinf_array_at (floats, i));
        norm += (double) values [i] * values [i];
    }
    double scale = embed->dimensions && embed->normalize && norm > 0 ? 1.0 / sqrt (norm) : 1.0;
    json_t *vector;
    if (embed->base64) {
        for (size_t i = 0; i < keep; i++)
            values [i] = (float) (values [i] * scale);
        vector = s_base64 ((const unsigned char *) values, keep * sizeof (float));
    }
    else {
        vector = json_array ();
        for (size_t i = 0; i < keep; i++)
            json_array_append_new (vector, json_real ((float) (values [i] * scale)));
    }
    free (values);
    return json_pack ("{s:s, s:I, s:o}", "object", "embedding", "index", (json_int_t) index, "embedding", vector);
}

//  Every input answered: the list.
static void
s_respond (xinf_gw_request_t *parent)
{
    json_t *answer = json_pack ("{s:s, s:O, s:s, s:{s:I, s:I}}", "object", "list", "data", parent->choices,
                                "model", parent->oai.model, "usage", "prompt_tokens", (json_int_t) parent->prompt_tokens,
                                "total_tokens", (json_int_t) parent->prompt_tokens);
    char *text = json_dumps (answer, JSON_COMPACT | JSON_REAL_PRECISION (9));
    json_decref (answer);
    assert (text);
    parent->ended = true;
    xinf_gw_metrics_end (parent->gateway->metrics, parent->oai.model, "embedded", parent->prompt_tokens, 0);
    xinf_gw_respond_text (parent, 200, "application/json", text, strlen (text));
}

//  Whether inputs wait to be sent (parked or not sent yet).
static bool
s_more (xinf_gw_request_t *parent)
{
    return !parent->failed
        && (parent->embed.n_parked || parent->embed.next < json_array_size (parent->embed.inputs));
}

//  After an input answered, one idle child (its input parked before)
//  takes another: the request's inputs in flight grow back by one an
//  answer, as they shrank by one a refusal.
static void
s_wake_one (xinf_gw_request_t *parent)
{
    for (size_t index = 0; index < parent->child_count && s_more (parent); index++)
        if (!parent->children [index]->generating) {
            s_send_next (parent->children [index]);
            return;
        }
}

static void
s_on_done (xinf_gw_request_t *child, xinf_msg_t *msg)
{
    xinf_gw_request_t *parent = child->parent;
    child->generating = false;
    xinf_gw_call_forget (child);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_generate_reply_t reply;
    xinf_gw_error_t error;
    xinf_client_msg_generate_reply_decode (xinf_msg_body (msg), &reply, &check);
    if (check.failed || !reply.has_embedding || xinf_value_count (reply.embedding) == 0) {
        xinf_gw_error_set (&error, 502, "server_error", "bad_reply", NULL, "the answer to input %zu has no "
                           "embedding%s%s", child->choice, check.failed ? ": " : "", check.failed ? check.reason : "");
        xinf_gw_request_fail (child, &error);
        return;
    }
    json_t *item = parent->embed.rerank ? xinf_gw_rerank_result (parent, reply.embedding, child->choice, &error)
                 : s_embedding (parent, reply.embedding, child->choice, &error);
    if (!item) {
        xinf_gw_request_fail (child, &error);
        return;
    }
    json_array_set_new (parent->choices, child->choice, item);
    parent->prompt_tokens += reply.prompt_tokens ? xinf_value_count (reply.prompt_tokens) : 0;
    xinf_gw_embed_t *embed = &parent->embed;
    if (++embed->done == json_array_size (embed->inputs) && embed->rerank)
        xinf_gw_rerank_respond (parent);
    else
    if (embed->done == json_array_size (embed->inputs))
        s_respond (parent);
    else
    if (s_more (parent)) {
        s_send_next (child);
        s_wake_one (parent);
    }
}

//  An input the model's queue refused while others of the request run:
//  kept to go again when one of them finishes. False when none runs.
static bool
s_park (xinf_gw_request_t *child)
{
    xinf_gw_request_t *parent = child->parent;
    xinf_gw_call_forget (child);
    if (!xinf_gw_choices_generating (parent))
        return false;
    parent->embed.parked [parent->embed.n_parked++] = child->choice;
    return true;
}

void
xinf_gw_embed_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    if (!request->parent && request->route == XINF_GW_ROUTE_RERANK) {
        xinf_gw_rerank_on_models (request, msg);       //  the rerank's LIST_MODELS
        return;
    }
    if (!request->parent || request->parent->failed)
        return;
    if (xinf_msg_is (msg, "GENERATE_REPLY")) {
        s_on_done (request, msg);
        return;
    }
    request->generating = false;
    xinf_gw_error_t error;
    if (xinf_msg_is (msg, "ERROR") && streq (xinf_gw_error_from_msg (&error, msg), "OVERLOADED") && s_park (request))
        return;
    if (!xinf_msg_is (msg, "ERROR"))
        xinf_gw_error_set (&error, 502, "server_error", "bad_reply", NULL, "GENERATE answered with %s",
                           xinf_msg_type (msg));
    if (error.status >= 500)
        xinf_info ("gateway", "embedding failed model=%s input=%zu status=%u message=\"%s\"", request->oai.model,
                   request->choice, error.status, error.message);
    xinf_gw_request_fail (request, &error);
}

void
xinf_gw_embed_clear (xinf_gw_request_t *request)
{
    json_decref (request->embed.inputs);
    request->embed.inputs = NULL;
    json_decref (request->embed.documents);
    request->embed.documents = NULL;
    json_decref (request->embed.query);
    request->embed.query = NULL;
    free (request->embed.prompt_format);
    request->embed.prompt_format = NULL;
}
