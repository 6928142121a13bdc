/*  test_gateway_parse: the gateway's request parser, text assembly and keys
    in-process.

    Stop strings over token pieces (ASCII and UTF-8 split across pieces),
    the UTF-8 hold-back, invalid bytes made U+FFFD, the key file; then the
    parser fed thousands of mutated bodies (with tools, tool calls and
    tool results among the seeds: bytes flipped, cut, spliced,
    values swapped for other JSON types): every one is accepted or refused
    with a 400/404 and a message, never a crash or a leak (run it under
    ASan: -DXINF_SANITIZE=ON).
*/
#include "test_unit.h"
#include "xinf_gateway_private.h"
#include "xinf_gateway_tools.h"
#include "xinf_gateway_responses.h"
#include "xinf_gateway_reasoning.h"

//  Feeds pieces; returns what was shown and whether a stop matched.
static bool
s_feed (const char *const *pieces, size_t count, char *const *stops, size_t stop_count, xinf_gw_buf_t *shown)
{
    xinf_gw_text_t text;
    xinf_gw_text_init (&text, stops, stop_count);
    bool stopped = false;
    for (size_t index = 0; index < count && !stopped; index++) {
        size_t before = shown->size;
        stopped = xinf_gw_text_feed (&text, pieces [index], strlen (pieces [index]), shown);
        //  What is shown never ends inside a UTF-8 character
        CHECK (xinf_gw_utf8_complete (shown->data ? shown->data : "", shown->size) == shown->size || before == shown->size);
    }
    if (!stopped)
        xinf_gw_text_flush (&text, shown);
    xinf_gw_text_clear (&text);
    return stopped;
}

static void
s_test_stops (void)
{
    char *stops [] = { "END", "\xc3\xa9t\xc3\xa9" };     //  "été"
    {
        const char *pieces [] = { "Hello E", "N", "Dx more" };
        xinf_gw_buf_t shown = { 0 };
        CHECK (s_feed (pieces, 3, stops, 2, &shown));
        CHECK_STR (shown.data, "Hello ");
        xinf_gw_buf_free (&shown);
    }
    {
        //  A stop split inside its multi-byte characters
        const char *pieces [] = { "un \xc3", "\xa9", "t\xc3", "\xa9 chaud" };
        xinf_gw_buf_t shown = { 0 };
        CHECK (s_feed (pieces, 4, stops, 2, &shown));
        CHECK_STR (shown.data, "un ");
        xinf_gw_buf_free (&shown);
    }
    {
        //  A prefix of a stop that does not complete is shown at the end
        const char *pieces [] = { "ab E", "N" };
        xinf_gw_buf_t shown = { 0 };
        CHECK (!s_feed (pieces, 2, stops, 2, &shown));
        CHECK_STR (shown.data, "ab EN");
        xinf_gw_buf_free (&shown);
    }
    {
        //  No stops: a split character is held until complete
        xinf_gw_text_t text;
        xinf_gw_text_init (&text, NULL, 0);
        xinf_gw_buf_t shown = { 0 };
        CHECK (!xinf_gw_text_feed (&text, "a\xe4\xb8", 3, &shown));
        CHECK_INT (shown.size, 1);
        CHECK (!xinf_gw_text_feed (&text, "\x96z", 2, &shown));
        CHECK_STR (shown.data, "a\xe4\xb8\x96z");
        xinf_gw_text_clear (&text);
        xinf_gw_buf_free (&shown);
    }
    CHECK_INT (xinf_gw_utf8_complete ("ab\xf0\x9f\x98", 5), 2);
    CHECK_INT (xinf_gw_utf8_complete ("ab\xf0\x9f\x98\x80", 6), 6);
    CHECK_INT (xinf_gw_utf8_complete ("\x80\x80\x80\x80", 4), 4);
    json_t *text = xinf_gw_json_text ("a\xff" "b\xe4", 4);
    CHECK_STR (json_string_value (text), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    json_decref (text);
}

static void
s_test_keys (void)
{
    char path [] = "/tmp/xinf-keys-XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    const char *content = "# keys\nsk-user-12345678 user\n\n  sk-admin-12345678   admin  # the operator\n";
    CHECK (write (fd, content, strlen (content)) == (ssize_t) strlen (content));
    close (fd);
    char error [256];
    xinf_gw_keys_t *keys = xinf_gw_keys_load (path, error, sizeof error);
    CHECK (keys);
    CHECK_INT (xinf_gw_keys_count (keys), 2);
    CHECK_INT (xinf_gw_keys_check (keys, "Bearer sk-user-12345678"), XINF_GW_ROLE_USER);
    CHECK_INT (xinf_gw_keys_check (keys, "bearer sk-admin-12345678"), XINF_GW_ROLE_ADMIN);
    CHECK_INT (xinf_gw_keys_check (keys, "Bearer sk-user-1234567"), XINF_GW_ROLE_NONE);
    CHECK_INT (xinf_gw_keys_check (keys, "Bearer sk-user-123456789"), XINF_GW_ROLE_NONE);
    CHECK_INT (xinf_gw_keys_check (keys, "Basic sk-user-12345678"), XINF_GW_ROLE_NONE);
    CHECK_INT (xinf_gw_keys_check (keys, NULL), XINF_GW_ROLE_NONE);
    xinf_gw_keys_destroy (&keys);
    const char *bad [] = { "sk-user-12345678\n", "sk-user-12345678 root\n", "short user\n", "# nothing\n",
                           "sk-user-12345678 user extra\n" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        FILE *file = fopen (path, "w");
        fputs (bad [index], file);
        fclose (file);
        CHECK (xinf_gw_keys_load (path, error, sizeof error) == NULL);
        CHECK (strstr (error, "12345678") == NULL);     //  never the key in a message
    }
    unlink (path);
    CHECK (xinf_gw_keys_load ("/nonexistent/keys", error, sizeof error) == NULL);
}

//  Parses a body both ways; refusals are 400/404 with a message.
static int
s_parse (const char *body, size_t size, bool chat)
{
    xinf_gw_error_t error;
    memset (&error, 0, sizeof error);
    xinf_gw_oai_t oai;
    memset (&oai, 0, sizeof oai);
    json_t *root = xinf_gw_json_parse (body, size, &error);
    int rc = root ? xinf_gw_oai_parse (root, chat, &oai, &error) : -1;
    if (rc) {
        CHECK (error.status == 400 || error.status == 404);
        CHECK (strlen (error.message) > 0);
        json_t *shape = xinf_gw_error_json (&error);
        CHECK (json_object_get (json_object_get (shape, "error"), "message"));
        json_decref (shape);
    }
    else {
        CHECK (*oai.model);
        CHECK (oai.stop_count <= XINF_GW_STOPS_MAX);
        CHECK (chat ? oai.messages != NULL : (oai.prompt != NULL || oai.prompt_tokens != NULL));
        if (chat) {                 //  the fallback takes whatever the checks let through
            json_t *messages = xinf_gw_tools_fallback (oai.messages, oai.tools);
            CHECK (json_is_array (messages));
            json_decref (messages);
        }
    }
    xinf_gw_oai_clear (&oai);
    json_decref (root);
    return rc;
}

static const char *s_seeds [] = {
    "{\"model\":\"m\",\"prompt\":\"Hello\",\"max_tokens\":8,\"temperature\":0.5,\"top_p\":0.9,\"seed\":3,"
    "\"stop\":[\"a\",\"\\u00e9\"],\"stream\":true,\"stream_options\":{\"include_usage\":true},\"n\":1}",
    "{\"model\":\"m\",\"prompt\":[1,2,3],\"max_completion_tokens\":4,\"stop\":\"x\"}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
    "[{\"type\":\"text\",\"text\":\"Hi\"}]},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"max_tokens\":5}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},{\"role\":\"assistant\","
    "\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"d\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},\"strict\":false}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},\"parallel_tool_calls\":false}",
};

static const char *s_values [] = {
    "null", "true", "false", "0", "-1", "1e309", "3.5", "\"\"", "\"x\"", "[]", "{}", "[[[[[]]]]]",
    "\"\\ud800\"", "4294967296", "9223372036854775808", "[1,\"a\",null]", "{\"type\":\"text\"}",
};

//  A mutated copy of seed (the caller frees it).
static char *
s_mutate (const char *seed, size_t *size)
{
    size_t length = strlen (seed);
    char *body = malloc (length + 64);
    assert (body);
    memcpy (body, seed, length);
    int kind = randof (5);
    size_t at = (size_t) randof ((int) length);
    if (kind == 0)                  //  flip a byte
        body [at] = (char) randof (256);
    else
    if (kind == 1)                  //  cut
        length = at;
    else
    if (kind == 2) {                //  drop a span
        size_t span = (size_t) randof (16) + 1;
        if (at + span > length)
            span = length - at;
        memmove (body + at, body + at + span, length - at - span);
        length -= span;
    }
    else
    if (kind == 3) {                //  a value swapped for another JSON value after a ':'
        const char *colon = strchr (seed + at, ':');
        if (colon) {
            size_t start = (size_t) (colon - seed) + 1, end = start;
            while (end < length && seed [end] != ',' && seed [end] != '}' && seed [end] != ']')
                end++;
            const char *value = s_values [randof ((int) (sizeof s_values / sizeof s_values [0]))];
            size_t value_length = strlen (value);
            char *spliced = malloc (length - (end - start) + value_length + 1);
            assert (spliced);
            memcpy (spliced, seed, start);
            memcpy (spliced + start, value, value_length);
            memcpy (spliced + start + value_length, seed + end, length - end);
            length = length - (end - start) + value_length;
            free (body);
            body = spliced;
        }
    }
    else                            //  insert a byte
    {
        memmove (body + at + 1, body + at, length - at);
        body [at] = "{}[]\",:\\\x80\xff" "0"[randof (12)];
        length++;
    }
    *size = length;
    return body;
}

static void
s_test_fuzz (void)
{
    for (size_t index = 0; index < sizeof s_seeds / sizeof s_seeds [0]; index++)
        CHECK_INT (s_parse (s_seeds [index], strlen (s_seeds [index]), index >= 2), 0);
    size_t accepted = 0, refused = 0;
    for (int round = 0; round < 30000; round++) {
        size_t size;
        const char *seed = s_seeds [round % 4];
        char *body = s_mutate (seed, &size);
        //  Mutations of a mutation reach deeper
        if (round % 4 == 0) {
            char *again = malloc (size + 1);
            memcpy (again, body, size);
            again [size] = 0;
            free (body);
            body = s_mutate (again, &size);
            free (again);
        }
        int rc = s_parse (body, size, round % 4 >= 2);
        rc ? refused++ : accepted++;
        s_parse (body, size, round % 4 < 2);
        free (body);
    }
    printf ("fuzz: 30000 mutated bodies, %zu accepted, %zu refused with a 400/404\n", accepted, refused);
    CHECK (accepted > 100 && refused > 1000);
}

//  A Responses body made a chat, with a store holding one response to
//  continue; refusals are 400/404 with a message and a named field.
static int
s_parse_responses (xinf_gw_state_t *gateway, const char *body, size_t size)
{
    xinf_gw_request_t request;
    memset (&request, 0, sizeof request);
    request.gateway = gateway;
    request.route = XINF_GW_ROUTE_RESPONSES;
    xinf_gw_error_t error;
    memset (&error, 0, sizeof error);
    json_t *root = xinf_gw_json_parse (body, size, &error);
    int rc = root ? xinf_gw_responses_parse (&request, root, &error) : -1;
    if (rc) {
        CHECK (error.status == 400 || error.status == 404);
        CHECK (strlen (error.message) > 0);
    }
    else {
        CHECK (request.oai.chat && request.oai.messages && json_array_size (request.oai.messages) > 0);
        xinf_gw_resp_t *resp = request.shaped;
        CHECK (json_is_object (resp->echo) && json_is_array (resp->conversation));
    }
    xinf_gw_responses_clear (&request);
    xinf_gw_oai_clear (&request.oai);
    json_decref (root);
    return rc;
}

static const char *s_responses_seeds [] = {
    "{\"model\":\"m\",\"input\":\"Hi\",\"instructions\":\"Be brief.\",\"max_output_tokens\":9,\"temperature\":0,"
    "\"store\":false,\"metadata\":{\"k\":\"v\"},\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"p\","
    "\"schema\":{\"type\":\"object\"}}},\"include\":[\"message.output_text.logprobs\"],\"top_logprobs\":2}",
    "{\"model\":\"m\",\"previous_response_id\":\"resp_kept\",\"input\":[{\"role\":\"developer\",\"content\":"
    "[{\"type\":\"input_text\",\"text\":\"a\"}]},{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
    "[{\"type\":\"output_text\",\"text\":\"b\"}]},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\","
    "\"arguments\":\"{}\"},{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"ok\"}],"
    "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}],"
    "\"tool_choice\":{\"type\":\"function\",\"name\":\"f\"},\"parallel_tool_calls\":false,\"stream\":true}",
};

//  Whether 'id' is stored for 'owner' (the copy read is dropped).
static bool
s_stored (xinf_gw_rstore_t *store, const char *id, const char *owner)
{
    json_t *found = xinf_gw_rstore_get (store, id, owner, NULL);
    json_decref (found);
    return found != NULL;
}

static void
s_test_responses (void)
{
    xinf_gw_state_t gateway;
    memset (&gateway, 0, sizeof gateway);
    gateway.responses = xinf_gw_rstore_new (2, 1 << 20);
    //  A conversation that ends with the assistant's answer: a request's
    //  function_call items join a copy of it, never the stored one
    json_t *conversation = json_pack ("[{s:s,s:s},{s:s,s:s}]", "role", "user", "content", "before", "role",
                                      "assistant", "content", "answer");
    CHECK (xinf_gw_rstore_put (gateway.responses, "", json_pack ("{s:s}", "id", "resp_kept"), conversation));
    for (size_t index = 0; index < 2; index++)
        CHECK_INT (s_parse_responses (&gateway, s_responses_seeds [index], strlen (s_responses_seeds [index])), 0);
    for (int round = 0; round < 2; round++) {
        const char *call = "{\"model\":\"m\",\"previous_response_id\":\"resp_kept\",\"input\":[{\"type\":"
                           "\"function_call\",\"call_id\":\"x\",\"name\":\"f\",\"arguments\":\"{}\"}],\"tools\":5}";
        CHECK (s_parse_responses (&gateway, call, strlen (call)) == -1);       //  refused, after joining the call
        json_t *kept = NULL;
        json_decref (xinf_gw_rstore_get (gateway.responses, "resp_kept", "", &kept));
        CHECK (json_array_size (kept) == 2 && !json_object_get (json_array_get (kept, 1), "tool_calls"));
        json_decref (kept);
    }
    size_t accepted = 0, refused = 0;
    for (int round = 0; round < 20000; round++) {
        size_t size;
        char *body = s_mutate (s_responses_seeds [round % 2], &size);
        s_parse_responses (&gateway, body, size) ? refused++ : accepted++;
        free (body);
    }
    printf ("responses fuzz: 20000 mutated bodies, %zu accepted, %zu refused with a 400/404\n", accepted, refused);
    CHECK (accepted > 100 && refused > 1000);
    //  The store: bounded by count and bytes, each response its owner's
    CHECK (!s_stored (gateway.responses, "resp_kept", "someone"));
    CHECK (xinf_gw_rstore_put (gateway.responses, "a", json_pack ("{s:s}", "id", "r1"), json_array ()));
    CHECK (xinf_gw_rstore_put (gateway.responses, "a", json_pack ("{s:s}", "id", "r2"), json_array ()));
    CHECK_INT (xinf_gw_rstore_count (gateway.responses), 2);
    CHECK (!s_stored (gateway.responses, "resp_kept", ""));     //  the oldest went
    CHECK (s_stored (gateway.responses, "r1", "a"));
    CHECK (!xinf_gw_rstore_delete (gateway.responses, "r1", "b"));
    CHECK (xinf_gw_rstore_delete (gateway.responses, "r1", "a"));
    size_t big_size = 2 << 20;                         //  over the store's 1 MiB
    char *big = malloc (big_size);
    assert (big);
    memset (big, 'x', big_size);
    json_t *large = json_pack ("{s:s,s:s%}", "id", "big", "text", big, big_size);
    free (big);
    CHECK (!xinf_gw_rstore_put (gateway.responses, "a", large, json_array ()));
    CHECK (s_stored (gateway.responses, "r2", "a"));            //  nothing pushed out for it
    //  A NUL byte in an answer (a byte token) reads back
    CHECK (xinf_gw_rstore_put (gateway.responses, "a", json_pack ("{s:s,s:s%}", "id", "nul", "text", "a\0b",
                                                                   (size_t) 3), json_array ()));
    json_t *nul = xinf_gw_rstore_get (gateway.responses, "nul", "a", NULL);
    CHECK (nul && json_string_length (json_object_get (nul, "text")) == 3);
    json_decref (nul);
    CHECK (xinf_gw_rstore_delete (gateway.responses, "nul", "a"));
    xinf_gw_rstore_destroy (&gateway.responses);
}

//  Pieces through the thought parter: (thought, content) as strings.
static bool s_harmony;                //  s_part parts harmony's messages

static void
s_part (const char *const *pieces, size_t count, bool inside, const char *thought, const char *content)
{
    xinf_gw_reasoning_t reasoning;
    xinf_gw_reasoning_init (&reasoning, inside, s_harmony);
    xinf_gw_buf_t got_thought = { 0 }, got_content = { 0 };
    for (size_t index = 0; index < count; index++)
        xinf_gw_reasoning_feed (&reasoning, pieces [index], strlen (pieces [index]), &got_thought, &got_content);
    xinf_gw_reasoning_flush (&reasoning, &got_thought, &got_content);
    xinf_gw_buf_add (&got_thought, "", 1);
    xinf_gw_buf_add (&got_content, "", 1);
    if (strcmp (got_thought.data, thought) || strcmp (got_content.data, content))
        printf ("parted: thought '%s' content '%s', want '%s' '%s'\n", got_thought.data, got_content.data, thought,
                content);
    CHECK (streq (got_thought.data, thought) && streq (got_content.data, content));
    xinf_gw_buf_free (&got_thought);
    xinf_gw_buf_free (&got_content);
    xinf_gw_reasoning_clear (&reasoning);
}

//  'text' cut in two at every byte parts as 'thought' and 'content'.
static void
s_part_cuts (const char *text, const char *thought, const char *content)
{
    for (size_t cut = 1; cut < strlen (text); cut++) {
        char first [160], second [160];
        snprintf (first, sizeof first, "%.*s", (int) cut, text);
        snprintf (second, sizeof second, "%s", text + cut);
        const char *pieces [] = { first, second };
        s_part (pieces, 2, false, thought, content);
    }
}

static void
s_test_reasoning (void)
{
    //  Whole tags, tags cut at every byte, leading whitespace, a thought
    //  the prompt opened, none at all, an unclosed one, a late tag
    const char *whole [] = { "<think>\nadd 2 and 2\n</think>\n\nIt is 4." };
    s_part (whole, 1, false, "\nadd 2 and 2\n", "It is 4.");
    s_part_cuts ("  <think>a<b</think>\n c", "a<b", "c");
    const char *bytes [] = { "<", "t", "h", "i", "n", "k", ">", "x", "<", "/", "t", "h", "i", "n", "k", ">", "y" };
    s_part (bytes, sizeof bytes / sizeof bytes [0], false, "x", "y");
    const char *opened [] = { "Let me see.\n</th", "ink>\n\nIt is 4." };
    s_part (opened, 2, true, "Let me see.\n", "It is 4.");
    const char *plain [] = { "Hello <think> there" };
    s_part (plain, 1, false, "", "Hello <think> there");
    const char *unclosed [] = { "<think>still thinking </thi" };
    s_part (unclosed, 1, false, "still thinking </thi", "");
    const char *partial [] = { "\n<thi" };
    s_part (partial, 1, false, "", "\n<thi");
    const char *nothing [] = { "", "", "<think>a</think>b" };      //  empty pieces first: nothing held yet
    s_part (nothing, 3, false, "a", "b");
    xinf_gw_reasoning_t empty;
    xinf_gw_reasoning_init (&empty, false, false);
    xinf_gw_buf_t none_thought = { 0 }, none_content = { 0 };
    xinf_gw_reasoning_feed (&empty, NULL, 0, &none_thought, &none_content);
    xinf_gw_reasoning_flush (&empty, &none_thought, &none_content);
    CHECK (none_thought.size == 0 && none_content.size == 0);
    xinf_gw_reasoning_clear (&empty);
    const char *only_space [] = { "<think>x</think>", "\n\n" };
    s_part (only_space, 2, false, "x", "");
    CHECK (xinf_gw_reasoning_prompt_open ("<|im_start|>assistant\n<think>\n"));
    CHECK (!xinf_gw_reasoning_prompt_open ("<|Assistant|><think>\n</think>"));
    CHECK (!xinf_gw_reasoning_prompt_open ("<|im_start|>assistant\n"));
    CHECK (xinf_gw_reasoning_template ("{{ '<think>' }}...{{ '</think>' }}"));
    CHECK (!xinf_gw_reasoning_template ("{{ '<think>' }}"));
    CHECK (!xinf_gw_reasoning_template (NULL));
}

//  GPT-OSS's harmony messages: the analysis channel's bodies are the
//  thought, the others' the content, headers dropped (a body ends at the
//  next header, its <|end|> text dropped), cut at every byte; an
//  answer without headers, a header that never ends, a final answer alone,
//  a commentary preamble.
static void
s_test_harmony (void)
{
    s_harmony = true;
    s_part_cuts ("<|channel|>analysis<|message|>Add 2 and 2.<|start|>assistant<|channel|>final<|message|>It is 4.",
                 "Add 2 and 2.", "It is 4.");
    s_part_cuts ("<|channel|>analysis<|message|>Add 2 and 2.<|end|><|start|>assistant<|channel|>final<|message|>"
                 "It is 4.", "Add 2 and 2.", "It is 4.");
    const char *bytes [] = { "<|", "channel", "|>", "analysis", "<|", "message", "|>", "x", " <", "y",
                             "<|", "start", "|>", "assistant", "<|", "channel", "|>", "final", "<|", "message",
                             "|>", "z" };
    s_part (bytes, sizeof bytes / sizeof bytes [0], false, "x <y", "z");
    const char *ended [] = { "<|channel|>analysis<|message|>w<|end|><|start|>assistant<|channel|>final<|message|>"
                             "v<|return|>" };                              //  ends written as text
    s_part (ended, 1, false, "w", "v");
    const char *final [] = { "<|channel|>final<|message|>Just this." };
    s_part (final, 1, false, "", "Just this.");
    const char *plain [] = { "Hello <|channel|> there" };
    s_part (plain, 1, false, "", "Hello <|channel|> there");
    const char *unfinished [] = { "<|channel|>analysis" };
    s_part (unfinished, 1, false, "", "<|channel|>analysis");
    const char *preamble [] = { "<|channel|>analysis<|message|>t<|start|>assistant<|channel|>commentary<|message|>"
                                "Let me look.<|start|>assistant<|channel|>final<|message|>Done." };
    s_part (preamble, 1, false, "t", "Let me look.Done.");
    //  A call (its recipient before or after the channel): Hermes's form for the tool-call parser, closed
    //  at its end, or where the generation ended (<|call|> is rendered as nothing)
    const char *call [] = { "<|channel|>analysis<|message|>Weather.<|start|>assistant<|channel|>commentary "
                            "to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}" };
    s_part (call, 1, false, "Weather.", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                        "{\"city\": \"Paris\"}}\n</tool_call>");
    const char *before [] = { "<|start|>assistant to=functions.f_1<|channel|>commentary json<|message|>{}<|call|>",
                              "" };
    s_part (before, 2, false, "", "<tool_call>\n{\"name\": \"f_1\", \"arguments\": {}}\n</tool_call>");
    //  The first message with its recipient in the role (the prompt ended with <|start|>assistant), a call
    //  on the analysis channel, a stray commentary channel before the analysis one (GPT-OSS 20B's)
    const char *in_role [] = { " to=functions.get_weather<|channel|>commentary json<|message|>{}" };
    s_part (in_role, 1, false, "", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>");
    const char *analysis_call [] = { "<|channel|>analysis to=functions.f <|constrain|>json<|message|>{}" };
    s_part (analysis_call, 1, false, "", "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>");
    const char *stray [] = { "<|channel|>commentary<|channel|>analysis<|message|>t<|start|>assistant<|channel|>final"
                             "<|message|>a" };
    s_part (stray, 1, false, "t", "a");
    const char *nameless [] = { "<|channel|>commentary to=functions. <|message|>x" };
    s_part (nameless, 1, false, "", "x");
    const char *spaced [] = { "<|channel|>analysis to=x <|message|>u" };      //  not "analysisfoo"
    s_part (spaced, 1, false, "u", "");
    const char *lookalike [] = { "<|channel|>analysisx<|message|>v" };
    s_part (lookalike, 1, false, "", "v");
    char *long_header = malloc (400);
    assert (long_header);
    snprintf (long_header, 400, "<|channel|>%0300d", 0);
    const char *too_long [] = { long_header };
    s_part (too_long, 1, false, "", long_header);
    free (long_header);
    s_harmony = false;
    CHECK (xinf_gw_reasoning_harmony ("{{ '<|channel|>analysis<|message|>' }}"));
    CHECK (xinf_gw_reasoning_template ("{{ '<|channel|>analysis<|message|>' }}"));
    CHECK (!xinf_gw_reasoning_harmony ("{{ '<think>' }}...{{ '</think>' }}") && !xinf_gw_reasoning_harmony (NULL));
}

int
main (void)
{
    zsys_init ();
    srandom (7);
    s_test_stops ();
    s_test_keys ();
    s_test_fuzz ();
    s_test_responses ();
    s_test_reasoning ();
    s_test_harmony ();
    printf ("PASS: gateway parser, stop strings, UTF-8, keys\n");
    return 0;
}
