/*  test_request: a replica's request (actors/xinf_request): the RUN_TOKEN
    of a token whose text is long carries all of its bytes, up to the
    1024 a vocabulary token may have (the tokenizer refuses longer ones),
    and passes the RUN_TOKEN decoder.  */
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

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_long_piece);
    return 0;
}
