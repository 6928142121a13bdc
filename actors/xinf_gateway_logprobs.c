/*  xinf_gateway_logprobs: OpenAI's logprobs of a generation, from the
    logprob and top_logprobs of each GENERATE_TOKEN (client.md), in the
    shape each endpoint answers with (protocols/http.md):

    chat:         {"content": [{"token", "logprob", "bytes", "top_logprobs":
                  [{"token", "logprob", "bytes"}]}]}
    completions:  {"tokens": [...], "token_logprobs": [...],
                  "top_logprobs": [{text: logprob}], "text_offset": [...]}

    A token's text is its bytes as JSON text (bytes that are no UTF-8
    become U+FFFD; "bytes" has them as they are). Entries are kept in the
    chat shape as tokens come and turned into the completions' one when
    an answer or chunk is written.  */
#include "xinf_gateway_private.h"
#include "xinf_client_msg.h"

#include <math.h>

//  A token's text and bytes into 'entry'.
static void
s_put_text (json_t *entry, const char *text, size_t size)
{
    json_object_set_new (entry, "token", xinf_gw_json_text (text, size));
    json_t *bytes = json_array ();
    for (size_t at = 0; at < size; at++)
        json_array_append_new (bytes, json_integer ((unsigned char) text [at]));
    json_object_set_new (entry, "bytes", bytes);
}

//  An entry; 'logprob' NaN: null (a prompt's first token).
json_t *
xinf_gw_logprobs_entry (const char *text, size_t size, double logprob, const xinf_value_t *top)
{
    json_t *entry = json_object ();
    s_put_text (entry, text, size);
    json_object_set_new (entry, "logprob", isnan (logprob) ? json_null () : json_real (logprob));
    json_t *tops = json_array ();
    for (size_t index = 0; top && index < xinf_value_count (top); index++) {
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_client_msg_token_logprob_t item;
        const xinf_value_t *value = xinf_array_at (top, index);
        if (xinf_client_msg_token_logprob_decode (value, &item, &check))
            continue;                 //  the whole message was checked: cannot happen
        size_t length = 0;
        const char *bytes = xinf_value_bytes (xinf_map_get (value, "text"), &length);
        json_t *alternative = json_object ();
        s_put_text (alternative, bytes ? bytes : "", bytes ? length : 0);
        json_object_set_new (alternative, "logprob", json_real (item.logprob));
        json_array_append_new (tops, alternative);
    }
    json_object_set_new (entry, "top_logprobs", tops);
    return entry;
}

void
xinf_gw_logprobs_ids (json_t *entry, uint32_t token, const xinf_value_t *top)
{
    json_object_set_new (entry, "id", json_integer (token));
    json_t *tops = json_object_get (entry, "top_logprobs");
    for (size_t index = 0; top && index < xinf_value_count (top) && index < json_array_size (tops); index++) {
        const xinf_value_t *id = xinf_map_get (xinf_array_at (top, index), "token");
        json_object_set_new (json_array_get (tops, index), "id", json_integer ((json_int_t) xinf_value_uint (id)));
    }
}

//  Characters of a token's text as its entry shows it (the JSON string's
//  code points): text_offset sums them, as vLLM does; a character split
//  between tokens counts in each.
static size_t
s_characters (json_t *token)
{
    const char *text = json_string_value (token);
    size_t count = 0;
    for (size_t at = 0; text && at < json_string_length (token); at++)
        count += ((unsigned char) text [at] & 0xC0) != 0x80;
    return count;
}

//  The completions' shape of 'entries'; 'offset': characters of the
//  answer before them, moved past them.
static json_t *
s_completions (json_t *entries, size_t *offset)
{
    json_t *tokens = json_array (), *logprobs = json_array (), *tops = json_array (), *offsets = json_array ();
    size_t index;
    json_t *entry;
    json_array_foreach (entries, index, entry) {
        json_t *token = json_object_get (entry, "token");
        json_array_append (tokens, token);
        json_array_append (logprobs, json_object_get (entry, "logprob"));
        //  Keyed by text: of tokens that show the same text (bytes that
        //  are no UTF-8 all show U+FFFD) the most likely one's value; null
        //  where the token has no logprob (a prompt's first)
        json_t *top = json_is_null (json_object_get (entry, "logprob")) ? json_null () : json_object (), *alternative;
        size_t at;
        json_array_foreach (json_is_null (top) ? NULL : json_object_get (entry, "top_logprobs"), at, alternative) {
            json_t *text = json_object_get (alternative, "token");
            if (!json_object_getn (top, json_string_value (text), json_string_length (text)))
                json_object_setn (top, json_string_value (text), json_string_length (text),
                                  json_object_get (alternative, "logprob"));
        }
        json_array_append_new (tops, top);
        json_array_append_new (offsets, json_integer ((json_int_t) *offset));
        *offset += s_characters (token);
    }
    json_t *object = json_object ();
    json_object_set_new (object, "tokens", tokens);
    json_object_set_new (object, "token_logprobs", logprobs);
    json_object_set_new (object, "top_logprobs", tops);
    json_object_set_new (object, "text_offset", offsets);
    return object;
}

json_t *
xinf_gw_logprobs_choice (json_t *entries, bool chat, size_t *offset)
{
    if (!entries)
        return json_null ();
    if (!chat)
        return s_completions (entries, offset);
    json_t *object = json_object ();
    json_object_set (object, "content", entries);
    return object;
}

void
xinf_gw_logprobs_prompt (json_t *entries, const xinf_value_t *prompt, xinf_gw_buf_t *text)
{
    for (size_t index = 0; index < xinf_value_count (prompt); index++) {
        const xinf_value_t *item = xinf_array_at (prompt, index);
        size_t size = 0;
        const char *bytes = xinf_value_bytes (xinf_map_get (item, "text"), &size);
        const xinf_value_t *logprob = xinf_map_get (item, "logprob");
        json_array_append_new (entries, xinf_gw_logprobs_entry (bytes ? bytes : "", bytes ? size : 0,
                                                                logprob ? xinf_value_float (logprob) : NAN,
                                                                xinf_map_get (item, "top_logprobs")));
        xinf_gw_buf_add (text, bytes ? bytes : "", bytes ? size : 0);
    }
}
