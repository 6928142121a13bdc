/*  test_request: a replica's request (actors/xinf_request): the RUN_TOKEN
    of a token whose text is long carries all of its bytes, up to the
    1024 a vocabulary token may have (the tokenizer refuses longer ones),
    and passes the RUN_TOKEN decoder; an answer too large for one message
    is RUN_FAILED TOO_LARGE.  */
#include "test_unit.h"
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

static void
test_long_piece (void)
{
    char text [XINF_TOKENIZER_TEXT_MAX];
    for (size_t index = 0; index < sizeof text; index++)
        text [index] = (char) ('a' + index % 26);
    size_t lengths [] = { 255, 256, 300, XINF_TOKENIZER_TEXT_MAX };
    for (size_t round = 0; round < sizeof lengths / sizeof lengths [0]; round++) {
        test_vocab_t vocab;
        test_gpt2_vocab (&vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
        int32_t long_id = (int32_t) vocab.count;
        test_vocab_add (&vocab, text, lengths [round], 0, XINF_TOKEN_NORMAL);
        xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
        xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (&spec, NULL, 0);
        CHECK (tokenizer);
        xinf_value_t *body = s_run ();
        xinf_check_t check = XINF_CHECK_INIT;
        const char *code = NULL;
        xinf_request_t *request = xinf_request_new (body, tokenizer, vocab.count, 64, &check, &code);
        if (!request)
            fprintf (stderr, "RUN refused: %s\n", check.reason);
        CHECK (request);
        xinf_request_take (request, long_id);
        xinf_msg_t *msg = xinf_request_token_msg (request, tokenizer, false);
        xinf_node_msg_run_token_t token;
        xinf_node_msg_run_token_decode (xinf_msg_body (msg), &token, &check);
        CHECK (!check.failed);
        size_t size = 0;
        CHECK (xinf_value_bytes (xinf_map_get (xinf_msg_body (msg), "text"), &size));
        CHECK_INT (size, lengths [round]);
        CHECK (memcmp (token.text, text, size) == 0);
        xinf_msg_destroy (&msg);
        xinf_request_destroy (&request);
        xinf_value_destroy (&body);
        xinf_tokenizer_destroy (&tokenizer);
        test_vocab_destroy (&vocab);
    }
}

//  An answer whose ids would not fit in one message is RUN_FAILED
//  TOO_LARGE with the counts, not a RUN_DONE that no peer would read.
static void
test_answer_too_large (void)
{
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (&spec, NULL, 0);
    CHECK (tokenizer);
    size_t counts [] = { 1000, 250000 };           //  ids of 5 bytes: 5 KB, then 1.25 MB
    for (size_t round = 0; round < 2; round++) {
        xinf_value_t *body = s_run ();
        xinf_value_t *prompt = xinf_value_new_array ();
        for (size_t index = 0; index < counts [round]; index++)
            xinf_array_push (prompt, xinf_value_new_uint (70000 + index % 1000));
        xinf_map_put (body, "prompt_tokens", prompt);
        xinf_check_t check = XINF_CHECK_INIT;
        const char *code = NULL;
        xinf_request_t *request = xinf_request_new (body, tokenizer, 80000, 300000, &check, &code);
        if (!request)
            fprintf (stderr, "RUN refused: %s\n", check.reason);
        CHECK (request);
        xinf_request_take (request, 104);
        xinf_msg_t *msg = xinf_request_done_msg (request, tokenizer, "length");
        if (round == 0)
            CHECK (xinf_msg_is (msg, "RUN_DONE"));
        else {
            CHECK (xinf_msg_is (msg, "RUN_FAILED"));
            CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (msg), "code")), "TOO_LARGE");
            CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (msg), "message")), "a prompt of 250000 tokens");
        }
        //  What is sent fits: it encodes within the header limit
        zmsg_t *wire = xinf_msg_encode (&msg);
        CHECK (wire && zframe_size (zmsg_first (wire)) <= XINF_HEADER_MAX + XINF_SIGNATURE_SIZE);
        zmsg_destroy (&wire);
        xinf_request_destroy (&request);
        xinf_value_destroy (&body);
    }
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_long_piece);
    RUN (test_answer_too_large);
    return 0;
}
