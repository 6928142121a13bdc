/*  test_request: a replica's request (actors/xinf_request): the RUN_TOKEN
    of a token whose text is long carries all of its bytes, up to the
    1024 a vocabulary token may have (the tokenizer refuses longer ones),
    and passes the RUN_TOKEN decoder; a prompt that fills the answer's one
    message is refused, a generation stops with finish_reason length when
    the answer (ids or text) is full; log-probabilities streamed in each
    RUN_TOKEN, or all in RUN_DONE, which still fits.  */
#include "test_unit.h"

#include <math.h>
#include "xinf_request.h"
#include "xinf_node_msg.h"
#include "test_tokenizer.h"

static const char *const s_merges [] = { "h e", "l l" };

//  A streaming RUN of three prompt ids and up to 4 tokens.
static xinf_value_t *
s_run (void)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_uint (body, "request", 7);
    xinf_map_put_str (body, "uid", "m");
    xinf_map_put_uint (body, "replica", 0);
    xinf_value_t *prompt = xinf_value_new_array ();
    for (uint64_t id = 104; id <= 106; id++)
        xinf_array_push (prompt, xinf_value_new_uint (id));
    xinf_map_put (body, "prompt_tokens", prompt);
    xinf_map_put_uint (body, "max_tokens", 4);
    xinf_map_put_bool (body, "stream", true);
    return body;
}

//  The long token's text: a, b, c, ...
static char s_long_text [XINF_TOKENIZER_TEXT_MAX];

//  A GPT-2 tokenizer whose last token ('*long_id') has the first 'length'
//  bytes of s_long_text, built into 'vocab'.
static xinf_tokenizer_t *
s_long_tokenizer (test_vocab_t *vocab, size_t length, int32_t *long_id)
{
    for (size_t index = 0; index < sizeof s_long_text; index++)
        s_long_text [index] = (char) ('a' + index % 26);
    test_gpt2_vocab (vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
    *long_id = (int32_t) vocab->count;
    test_vocab_add (vocab, s_long_text, length, 0, XINF_TOKEN_NORMAL);
    xinf_tokenizer_spec_t spec = test_spec (vocab, "gpt2");
    xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (&spec, NULL, 0);
    CHECK (tokenizer);
    return tokenizer;
}

static void
test_long_piece (void)
{
    size_t lengths [] = { 255, 256, 300, XINF_TOKENIZER_TEXT_MAX };
    for (size_t round = 0; round < sizeof lengths / sizeof lengths [0]; round++) {
        test_vocab_t vocab;
        int32_t long_id;
        xinf_tokenizer_t *tokenizer = s_long_tokenizer (&vocab, lengths [round], &long_id);
        xinf_value_t *body = s_run ();
        xinf_check_t check = XINF_CHECK_INIT;
        const char *code = NULL;
        xinf_request_t *request = xinf_request_new (body, tokenizer, vocab.count, 64, NULL, &check, &code);
        if (!request)
            fprintf (stderr, "RUN refused: %s\n", check.reason);
        CHECK (request);
        xinf_request_take (request, long_id, NULL, tokenizer);
        xinf_msg_t *msg = xinf_request_token_msg (request, tokenizer, false);
        xinf_node_msg_run_token_t token;
        xinf_node_msg_run_token_decode (xinf_msg_body (msg), &token, &check);
        CHECK (!check.failed);
        size_t size = 0;
        CHECK (xinf_value_bytes (xinf_map_get (xinf_msg_body (msg), "text"), &size));
        CHECK_INT (size, lengths [round]);
        CHECK (memcmp (token.text, s_long_text, size) == 0);
        xinf_msg_destroy (&msg);
        xinf_request_destroy (&request);
        xinf_value_destroy (&body);
        xinf_tokenizer_destroy (&tokenizer);
        test_vocab_destroy (&vocab);
    }
}

//  A request of 'count' prompt ids of five bytes each (70000 ..) and up
//  to 'max_tokens'; NULL with the code when refused.
static xinf_request_t *
s_big_request (xinf_tokenizer_t *tokenizer, size_t count, uint64_t max_tokens, const char **code, char *reason)
{
    xinf_value_t *body = s_run ();
    xinf_value_t *prompt = xinf_value_new_array ();
    for (size_t index = 0; index < count; index++)
        xinf_array_push (prompt, xinf_value_new_uint (70000 + index % 1000));
    xinf_map_put (body, "prompt_tokens", prompt);
    xinf_map_put_uint (body, "max_tokens", max_tokens);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_request_t *request = xinf_request_new (body, tokenizer, 80000, 300000, NULL, &check, code);
    snprintf (reason, 512, "%s", check.reason);
    xinf_value_destroy (&body);
    return request;
}

//  What is sent fits: it encodes within the header limit.
static void
s_check_fits (xinf_msg_t **msg_p)
{
    zmsg_t *wire = xinf_msg_encode (msg_p);
    CHECK (wire && zframe_size (zmsg_first (wire)) <= XINF_HEADER_MAX + XINF_SIGNATURE_SIZE);
    zmsg_destroy (&wire);
}

//  Generates 'token' as the replica does (xinf_replica.c s_on_row): keep
//  it, stop when the request is at its length; the final message.
static xinf_msg_t *
s_generate (xinf_request_t *request, xinf_tokenizer_t *tokenizer, int32_t token)
{
    do
        xinf_request_take (request, token, NULL, tokenizer);
    while (!xinf_request_at_length (request));
    return xinf_request_done_msg (request, tokenizer, "length");
}

//  The final message is RUN_DONE with finish_reason length, 'tokens' and
//  'text' bytes of text, and it fits in one message.
static void
s_check_done (xinf_msg_t **msg_p, size_t tokens, size_t text)
{
    xinf_value_t *body = xinf_msg_body (*msg_p);
    if (xinf_msg_is (*msg_p, "RUN_FAILED"))
        fprintf (stderr, "RUN_FAILED %s: %s\n", xinf_value_str (xinf_map_get (body, "code")),
                 xinf_value_str (xinf_map_get (body, "message")));
    CHECK (xinf_msg_is (*msg_p, "RUN_DONE"));
    CHECK_STR (xinf_value_str (xinf_map_get (body, "finish_reason")), "length");
    CHECK_INT (xinf_value_count (xinf_map_get (body, "tokens")), tokens);
    size_t size = 0;
    CHECK (xinf_value_bytes (xinf_map_get (body, "text"), &size));
    CHECK_INT (size, text);
    s_check_fits (msg_p);
}

//  The answer travels in one message (RUN_DONE: the prompt's ids, the
//  generated ids, the text). A prompt that leaves no room to generate is
//  refused at once (TOO_LARGE); a generation stops when the answer has no
//  room for another token, with finish_reason length as at max_tokens,
//  and its RUN_DONE fits (before: every token, then RUN_FAILED
//  TOO_LARGE); an answer grown past that anyway is still RUN_FAILED
//  TOO_LARGE, never a RUN_DONE no peer would read.
static void
test_answer_too_large (void)
{
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (&spec, NULL, 0);
    CHECK (tokenizer);
    const char *code = NULL;
    char reason [512];
    //  A small answer: room to spare, it ends at max_tokens
    xinf_request_t *request = s_big_request (tokenizer, 1000, 4, &code, reason);
    CHECK (request);
    xinf_msg_t *msg = s_generate (request, tokenizer, 104);
    CHECK (!xinf_request_answer_full (request));
    s_check_done (&msg, 4, 4);
    xinf_request_destroy (&request);

    //  A prompt of 1.25 MB of ids: refused before any work
    request = s_big_request (tokenizer, 250000, 4, &code, reason);
    CHECK (!request);
    CHECK_STR (code, "TOO_LARGE");
    CHECK_HAS (reason, "the prompt's 250000 tokens fill the one message");

    //  1 MB of prompt ids: thousands of tokens (2 bytes each: id, text)
    //  fit, then the answer is full, far below max_tokens
    request = s_big_request (tokenizer, 200000, 100000, &code, reason);
    CHECK (request);
    msg = s_generate (request, tokenizer, 104);
    s_check_done (&msg, request->count, request->count);
    CHECK (xinf_request_answer_full (request));
    CHECK (request->count > 10000 && request->count < request->max_tokens);
    //  Generated past full (as before the check): TOO_LARGE with the counts
    for (int token = 0; token < 30000; token++)
        xinf_request_take (request, 104, NULL, tokenizer);
    msg = xinf_request_done_msg (request, tokenizer, "length");
    CHECK (xinf_msg_is (msg, "RUN_FAILED"));
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (msg), "code")), "TOO_LARGE");
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (msg), "message")), "a prompt of 200000 tokens");
    s_check_fits (&msg);
    xinf_request_destroy (&request);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

//  The text counts as it comes (each token's piece): a short prompt whose
//  answer is tokens of 1024 bytes of text stops when one more would take
//  RUN_DONE over its 1 MiB (before: 5000 tokens, 5 MB of text, then
//  RUN_FAILED TOO_LARGE).
static void
test_answer_text_full (void)
{
    test_vocab_t vocab;
    int32_t long_id;
    xinf_tokenizer_t *tokenizer = s_long_tokenizer (&vocab, XINF_TOKENIZER_TEXT_MAX, &long_id);
    xinf_value_t *body = s_run ();
    xinf_map_put_uint (body, "max_tokens", 5000);
    xinf_check_t check = XINF_CHECK_INIT;
    const char *code = NULL;
    xinf_request_t *request = xinf_request_new (body, tokenizer, vocab.count, 8192, NULL, &check, &code);
    CHECK (request);
    xinf_msg_t *msg = s_generate (request, tokenizer, long_id);
    s_check_done (&msg, request->count, request->count * XINF_TOKENIZER_TEXT_MAX);
    //  1 MiB holds 1024 such pieces; with room kept for one more and the
    //  header's other bytes (ids, fields) a few less, far below max_tokens
    CHECK (request->count >= XINF_RUN_TEXT_MAX / XINF_TOKENIZER_TEXT_MAX - 8);
    CHECK (request->count < XINF_RUN_TEXT_MAX / XINF_TOKENIZER_TEXT_MAX);
    xinf_request_destroy (&request);
    xinf_value_destroy (&body);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

//  Log-probabilities. Streamed: each RUN_TOKEN carries the token's and
//  its top ones (-inf as -9999), and passes the RUN_TOKEN decoder. Not
//  streamed: RUN_DONE carries every token's; with 20 tops of 1024 bytes
//  of text each, the answer is full after about 48 tokens, and RUN_DONE
//  fits in one message and passes its decoder.
static void
test_logprobs (void)
{
    test_vocab_t vocab;
    int32_t long_id;
    xinf_tokenizer_t *tokenizer = s_long_tokenizer (&vocab, XINF_TOKENIZER_TEXT_MAX, &long_id);
    xinf_logprobs_row_t report = { .asked = 21, .logprob = -INFINITY };
    for (size_t top = 0; top < 20; top++)
        report.top [top] = (xinf_logprob_t) { (uint32_t) long_id, -0.5f - (float) top };
    for (int stream = 1; stream >= 0; stream--) {
        xinf_value_t *body = s_run ();
        xinf_map_put_uint (body, "max_tokens", 5000);
        xinf_map_put_bool (body, "stream", stream);
        xinf_map_put_bool (body, "logprobs", true);
        xinf_map_put_uint (body, "top_logprobs", 20);
        xinf_check_t check = XINF_CHECK_INIT;
        const char *code = NULL;
        xinf_request_t *request = xinf_request_new (body, tokenizer, vocab.count, 8192, NULL, &check, &code);
        CHECK (request && xinf_request_logprobs_word (request) == 21);
        if (stream) {
            CHECK (xinf_request_take (request, 104, &report, tokenizer) == 0);
            xinf_msg_t *msg = xinf_request_token_msg (request, tokenizer, false);
            xinf_node_msg_run_token_t token;
            xinf_node_msg_run_token_decode (xinf_msg_body (msg), &token, &check);
            CHECK (!check.failed && token.has_logprob && token.logprob == -9999);
            CHECK_INT (xinf_value_count (token.top_logprobs), 20);
            xinf_msg_destroy (&msg);
        }
        else {
            do
                CHECK (xinf_request_take (request, 104, &report, tokenizer) == 0);
            while (!xinf_request_at_length (request));
            CHECK (request->count >= 40 && request->count <= 50);
            xinf_msg_t *msg = xinf_request_done_msg (request, tokenizer, "length");
            CHECK (xinf_msg_is (msg, "RUN_DONE"));
            xinf_node_msg_run_done_t done;
            xinf_node_msg_run_done_decode (xinf_msg_body (msg), &done, &check);
            CHECK (!check.failed && done.has_logprobs);
            CHECK_INT (xinf_value_count (done.logprobs), request->count);
            s_check_fits (&msg);
        }
        xinf_request_destroy (&request);
        xinf_value_destroy (&body);
    }
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

//  The ids of 'text' tokenized plainly, appended at ids [*count].
static void
s_plain (xinf_tokenizer_t *tokenizer, const char *text, int32_t *ids, size_t *count)
{
    long got = xinf_tokenizer_encode (tokenizer, text, strlen (text), false, ids + *count, 64);
    CHECK (got >= 0);
    *count += (size_t) got;
}

//  Phi-3's control tokens take the whitespace after them in a prompt
//  parsed for control tokens (but <|endoftext|> does not); without the
//  spec's rstrip_controls the whitespace is text.
static void
test_rstrip_controls (void)
{
    const char *prompt = "<|user|>\n he<|end|>\n<|endoftext|> he";
    for (int rstrip = 0; rstrip < 2; rstrip++) {
        test_vocab_t vocab;
        test_gpt2_vocab (&vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
        int32_t user = (int32_t) vocab.count, end = user + 1, text_end = user + 2;
        test_vocab_add (&vocab, "<|user|>", 8, 0, XINF_TOKEN_CONTROL);
        test_vocab_add (&vocab, "<|end|>", 7, 0, XINF_TOKEN_CONTROL);
        test_vocab_add (&vocab, "<|endoftext|>", 13, 0, XINF_TOKEN_CONTROL);
        xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
        spec.rstrip_controls = rstrip;
        xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (&spec, NULL, 0);
        CHECK (tokenizer);
        CHECK (xinf_tokenizer_rstrip (tokenizer, end) == rstrip && !xinf_tokenizer_rstrip (tokenizer, text_end));
        CHECK (!xinf_tokenizer_rstrip (tokenizer, 104));           //  not a control token
        int32_t expected [64];
        size_t count = 0;
        expected [count++] = user;
        s_plain (tokenizer, rstrip ? "he" : "\n he", expected, &count);
        expected [count++] = end;
        if (!rstrip)
            s_plain (tokenizer, "\n", expected, &count);
        expected [count++] = text_end;
        s_plain (tokenizer, " he", expected, &count);
        xinf_check_t check = XINF_CHECK_INIT;
        size_t got = 0;
        int32_t *ids = xinf_request_encode (tokenizer, prompt, strlen (prompt), false, true, &got, &check);
        CHECK (ids && got == count);
        for (size_t index = 0; ids && index < count && index < got; index++)
            CHECK_INT (ids [index], expected [index]);
        free (ids);
        xinf_tokenizer_destroy (&tokenizer);
        test_vocab_destroy (&vocab);
    }
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_logprobs);
    RUN (test_long_piece);
    RUN (test_answer_too_large);
    RUN (test_answer_text_full);
    RUN (test_rstrip_controls);
    return 0;
}
