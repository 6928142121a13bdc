/*  xinf_gateway_rerank: POST /v1/rerank (also /rerank and /v2/rerank: the
    shape of Jina's, Cohere's, llama-server's and Xinference's).

    The body: model, query, documents (strings, or objects with a text),
    top_n, return_documents. LIST_MODELS first gives the model's rerank
    prompt (its file's tokenizer.chat_template.rerank, with {query} and
    {document} in it: Qwen3-Reranker's); each document's prompt, made as it
    is sent (at most 32 exist at once), is
    one GENERATE embed with pooling rank (its control tokens' texts become
    those tokens, no BOS added), run as /v1/embeddings runs its inputs
    (xinf_gateway_embed.c). A model without that prompt gets llama.cpp's
    plain one: the query, the EOS, the document, the EOS. The score of a
    document is the first output of the model's classification head
    (Qwen3-Reranker's: the probability of "yes"). The answer lists the
    results by score, highest first (top_n of them): {"id", "model",
    "results": [{"index", "relevance_score", "document": {"text"}}],
    "usage", "meta": {"tokens"}}.
*/
#include "xinf_gateway_private.h"
#include "xinf_gateway_chat.h"
#include "xinf_client_msg.h"
#include "xinf_request_check.h"

#define XINF_GW_RERANK_LIST_MS  10000     //  LIST_MODELS deadline

//  documents as texts: strings, or objects with a string 'text'. NULL with the 400.
static json_t *
s_documents (json_t *documents, xinf_gw_error_t *error)
{
    if (!json_is_array (documents) || json_array_size (documents) == 0
    ||  json_array_size (documents) > XINF_GW_EMBED_INPUTS) {
        xinf_gw_error_bad (error, "documents", "must be an array of 1 to %d strings (or objects with a text)",
                           XINF_GW_EMBED_INPUTS);
        return NULL;
    }
    json_t *texts = json_array ();
    size_t index;
    json_t *item;
    json_array_foreach (documents, index, item) {
        json_t *text = json_is_object (item) ? json_object_get (item, "text") : item;
        if (!json_is_string (text)) {
            char param [32];
            snprintf (param, sizeof param, "documents[%zu]", index);
            xinf_gw_error_bad (error, param, "must be a string or an object with a string 'text'");
            json_decref (texts);
            return NULL;
        }
        json_array_append (texts, text);
    }
    return texts;
}

//  The body into the request; -1 with the 400 (or 404).
static int
s_parse (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error)
{
    xinf_gw_embed_t *embed = &request->embed;
    json_t *model = json_object_get (root, "model");
    json_t *query = json_object_get (root, "query");
    json_t *top_n = json_object_get (root, "top_n");
    json_t *documents = json_object_get (root, "return_documents");
    if (!json_is_string (model))
        return xinf_gw_error_bad (error, "model", "is required: the uid of a launched reranker");
    if (!xinf_gw_uid_valid (json_string_value (model))) {
        xinf_gw_error_set (error, 404, "invalid_request_error", "model_not_found", "model",
                           "The model '%.80s' does not exist", json_string_value (model));
        return -1;
    }
    if (!json_is_string (query) || !json_string_length (query))
        return xinf_gw_error_bad (error, "query", "is required: a non-empty string");
    if (top_n && !json_is_null (top_n) && (!json_is_integer (top_n) || json_integer_value (top_n) < 1))
        return xinf_gw_error_bad (error, "top_n", "must be an integer from 1");
    if (documents && !json_is_null (documents) && !json_is_boolean (documents))
        return xinf_gw_error_bad (error, "return_documents", "must be true or false");
    if (!(embed->documents = s_documents (json_object_get (root, "documents"), error)))
        return -1;
    snprintf (request->oai.model, sizeof request->oai.model, "%s", json_string_value (model));
    embed->query = json_incref (query);
    embed->inputs = json_incref (embed->documents);  //  a prompt each, made as it is sent
    embed->top_n = top_n && json_is_integer (top_n) ? (size_t) json_integer_value (top_n) : 0;
    embed->return_documents = json_is_true (documents);
    embed->rerank = true;
    embed->normalize = false;
    snprintf (embed->pooling, sizeof embed->pooling, "rank");
    return 0;
}

void
xinf_gw_rerank_start (xinf_gw_request_t *request)
{
    xinf_gw_error_t error;
    json_t *root = xinf_gw_json_parse (request->body.data, request->body.size, &error);
    if (!root || s_parse (request, root, &error)) {
        json_decref (root);
        xinf_gw_respond_error (request, &error);
        return;
    }
    json_decref (root);
    xinf_gw_buf_free (&request->body);
    xinf_msg_t *list = xinf_msg_new ("LIST_MODELS");
    if (xinf_gw_call (request, &list, XINF_GW_RERANK_LIST_MS, &error))
        xinf_gw_request_fail (request, &error);
}

//  'format' with {query} and {document} replaced, in one pass over it (a
//  heap string).
static char *
s_fill (const char *format, const char *query, const char *document)
{
    xinf_gw_buf_t out = { 0 };
    for (const char *at = format; *at; ) {
        if (!strncmp (at, "{query}", 7)) {
            xinf_gw_buf_add_str (&out, query);
            at += 7;
        }
        else
        if (!strncmp (at, "{document}", 10)) {
            xinf_gw_buf_add_str (&out, document);
            at += 10;
        }
        else
            xinf_gw_buf_add (&out, at++, 1);
    }
    xinf_gw_buf_add (&out, "", 1);
    return out.data;
}

char *
xinf_gw_rerank_prompt (xinf_gw_request_t *parent, size_t index)
{
    return s_fill (parent->embed.prompt_format, json_string_value (parent->embed.query),
                   json_string_value (json_array_get (parent->embed.documents, index)));
}

//  The prompt every document goes into: the model's rerank template or
//  the plain form (query, EOS, document, EOS; the EOS's text a control
//  token's). 0, or -1 with the 413 when the query alone makes a prompt
//  larger than a GENERATE carries (refused before any is made).
static int
s_prompt_format (xinf_gw_request_t *request, const xinf_gw_chat_model_t *model, xinf_gw_error_t *error)
{
    const xinf_value_t *entry = xinf_map_get (model->entry, "rerank_template");
    const char *format = xinf_value_type (entry) == XINF_STR ? xinf_value_str (entry) : NULL;
    char plain [2200];
    if (!format) {
        snprintf (plain, sizeof plain, "{query}%s{document}%s", model->eos_token ? model->eos_token : "",
                  model->eos_token ? model->eos_token : "");
        format = plain;
    }
    size_t queries = 0, size = strlen (format);
    for (const char *at = strstr (format, "{query}"); at; at = strstr (at + 7, "{query}"))
        queries++;
    size += queries * json_string_length (request->embed.query);
    if (size > XINF_GENERATE_BODY_MAX) {
        xinf_gw_error_set (error, 413, "invalid_request_error", "request_too_large", "query",
                           "the query makes each document's prompt %zu bytes; a request to the supervisor carries at "
                           "most %d", size, XINF_GENERATE_BODY_MAX);
        return -1;
    }
    request->embed.template_prompt = format != plain;
    request->embed.prompt_format = strdup (format);
    assert (request->embed.prompt_format);
    return 0;
}

void
xinf_gw_rerank_on_models (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_chat_model_t model;
    xinf_gw_error_t error;
    xinf_gw_call_forget (request);
    if (xinf_gw_chat_model_find (msg, request->oai.model, &model, &error)
    ||  s_prompt_format (request, &model, &error)) {
        xinf_gw_request_fail (request, &error);
        return;
    }
    xinf_gw_embed_run (request);
}

json_t *
xinf_gw_rerank_result (xinf_gw_request_t *parent, const xinf_value_t *outputs, size_t index, xinf_gw_error_t *error)
{
    json_t *result = json_pack ("{s:I, s:f}", "index", (json_int_t) index, "relevance_score",
                                xinf_value_float (xinf_array_at (outputs, 0)));
    if (!result) {
        xinf_gw_error_set (error, 502, "server_error", "bad_reply", NULL, "the score of document %zu is no number",
                           index);
        return NULL;
    }
    if (parent->embed.return_documents)
        json_object_set_new (result, "document",
                             json_pack ("{s:O}", "text", json_array_get (parent->embed.documents, index)));
    return result;
}

//  Highest score first; the lower index first among equal ones.
static int
s_by_score (const void *left, const void *right)
{
    json_t *a = *(json_t *const *) left, *b = *(json_t *const *) right;
    double x = json_real_value (json_object_get (a, "relevance_score"));
    double y = json_real_value (json_object_get (b, "relevance_score"));
    if (x != y)
        return x < y ? 1 : -1;
    return json_integer_value (json_object_get (a, "index")) < json_integer_value (json_object_get (b, "index"))
         ? -1 : 1;
}

void
xinf_gw_rerank_respond (xinf_gw_request_t *parent)
{
    size_t count = json_array_size (parent->choices);
    json_t **sorted = calloc (count ? count : 1, sizeof (json_t *));
    assert (sorted);
    for (size_t index = 0; index < count; index++)
        sorted [index] = json_array_get (parent->choices, index);
    qsort (sorted, count, sizeof (json_t *), s_by_score);
    size_t keep = parent->embed.top_n && parent->embed.top_n < count ? parent->embed.top_n : count;
    json_t *results = json_array ();
    for (size_t index = 0; index < keep; index++)
        json_array_append (results, sorted [index]);
    free (sorted);
    char id [48];
    snprintf (id, sizeof id, "rerank-%08x%08x", (unsigned) randof (0x7fffffff), (unsigned) randof (0x7fffffff));
    json_int_t tokens = (json_int_t) parent->prompt_tokens;
    json_t *answer = json_pack ("{s:s, s:s, s:o, s:{s:I, s:I}, s:{s:{s:I, s:I}}}", "id", id, "model",
                                parent->oai.model, "results", results, "usage", "prompt_tokens", tokens,
                                "total_tokens", tokens, "meta", "tokens", "input_tokens", tokens, "output_tokens",
                                (json_int_t) 0);
    parent->ended = true;
    xinf_gw_metrics_end (parent->gateway->metrics, parent->oai.model, "embedded", parent->prompt_tokens, 0);
    xinf_gw_respond_json (parent, 200, answer);
}
