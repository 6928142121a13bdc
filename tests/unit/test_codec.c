/*  test_codec: the codecs generated from the protocol schemas (protocols/xinf_gen.py):
    round trips through real envelope frames, and every kind of rule the
    schemas use (missing, type, range, length, UTF-8, values, characters,
    element counts, items of arrays, maps inside arrays) refused with a
    reason that names the field; the protocol-wide validate.  */
#include "test_unit.h"
#include "xinf_client_msg.h"
#include "xinf_node_msg.h"
#include "xinf_model_msg.h"
#include "xinf_envelope_msg.h"

//  Encodes, sends through real frames, decodes the envelope.
static xinf_msg_t *
s_wire (xinf_msg_t *msg)
{
    zmsg_t *frames = xinf_msg_encode (&msg);
    char error [256];
    xinf_msg_t *back = xinf_msg_decode (&frames, error, sizeof error, NULL);
    CHECK (back);
    return back;
}

static xinf_value_t *
s_launch (void)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_str (body, "uid", "qwen-0.5b");
    xinf_map_put_str (body, "path", "/models/q.gguf");
    return body;
}

//  Puts one field into a valid LAUNCH and expects the reason.
static void
s_expect_launch (const char *key, xinf_value_t *value, const char *reason)
{
    xinf_value_t *body = s_launch ();
    if (value)
        xinf_map_put (body, key, value);
    else {
        xinf_value_t *gone = xinf_map_take (body, key);
        xinf_value_destroy (&gone);
    }
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_launch_t launch;
    CHECK_INT (xinf_client_msg_launch_decode (body, &launch, &check), -1);
    CHECK_STR (check.reason, reason);
    xinf_value_destroy (&body);
}

static void
test_launch_defaults_and_round_trip (void)
{
    xinf_value_t *body = s_launch ();
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_launch_t launch;
    CHECK_INT (xinf_client_msg_launch_decode (body, &launch, &check), 0);
    CHECK_STR (launch.uid, "qwen-0.5b");
    CHECK_INT (launch.replicas, 1);
    CHECK_INT (launch.rendezvous_timeout_ms, 10000);
    CHECK_INT (launch.max_queued, 256);
    CHECK (!launch.disable_cuda_graph && !launch.has_disable_cuda_graph);      //  graphs on by default
    CHECK (!launch.has_replicas && !launch.has_worker && launch.worker == NULL);
    launch.replicas = 3;
    launch.has_replicas = true;
    xinf_msg_t *msg = s_wire (xinf_client_msg_launch_encode (&launch));
    CHECK_STR (xinf_msg_type (msg), "LAUNCH");
    xinf_client_msg_launch_t back;
    CHECK_INT (xinf_client_msg_launch_decode (xinf_msg_body (msg), &back, &check), 0);
    CHECK_INT (back.replicas, 3);
    CHECK (back.has_replicas);
    CHECK_STR (back.path, "/models/q.gguf");
    CHECK (!xinf_map_get (xinf_msg_body (msg), "threads"));    //  optional, not set: not sent
    xinf_msg_destroy (&msg);
    //  disable_cuda_graph through the launch and on to the worker and the executor
    xinf_map_put_bool (body, "disable_cuda_graph", true);
    CHECK_INT (xinf_client_msg_launch_decode (body, &launch, &check), 0);
    CHECK (launch.disable_cuda_graph);
    xinf_value_t *load = xinf_value_new_map ();
    xinf_map_put_str (load, "path", "/models/q.gguf");
    xinf_map_put_bool (load, "disable_cuda_graph", true);
    xinf_model_msg_load_t executor_load;
    CHECK_INT (xinf_model_msg_load_decode (load, &executor_load, &check), 0);
    CHECK (executor_load.disable_cuda_graph);
    xinf_value_t *gone = xinf_map_take (load, "disable_cuda_graph");
    xinf_value_destroy (&gone);
    CHECK_INT (xinf_model_msg_load_decode (load, &executor_load, &check), 0);
    CHECK (!executor_load.disable_cuda_graph);
    xinf_map_put_uint (load, "disable_cuda_graph", 1);
    CHECK_INT (xinf_model_msg_load_decode (load, &executor_load, &check), -1);
    CHECK_STR (check.reason, "field 'disable_cuda_graph' must be bool, got uint64");
    xinf_value_destroy (&load);
    xinf_value_destroy (&body);
}

static void
test_launch_refusals (void)
{
    s_expect_launch ("uid", NULL, "field 'uid' is missing");
    s_expect_launch ("uid", xinf_value_new_uint (1), "field 'uid' must be str, got uint64");
    s_expect_launch ("uid", xinf_value_new_str (""), "field 'uid' has 0 bytes, must have 1 to 64");
    s_expect_launch ("uid", xinf_value_new_str ("a/b"), "field 'uid' may only hold A-Z a-z 0-9 . _ -");
    s_expect_launch ("path", xinf_value_new_strn ("a\xc0\xaf", 3), "field 'path' is not valid UTF-8 (byte 1)");
    s_expect_launch ("path", xinf_value_new_strn ("a\0b", 3), "field 'path' contains a NUL byte");
    s_expect_launch ("replicas", xinf_value_new_uint (17), "field 'replicas' is 17, must be in [1, 16]");
    s_expect_launch ("replicas", xinf_value_new_int (-1), "field 'replicas' must be uint64, got int64");
    s_expect_launch ("threads", xinf_value_new_bool (true), "field 'threads' must be uint64, got bool");
    s_expect_launch ("disable_cuda_graph", xinf_value_new_str ("yes"), "field 'disable_cuda_graph' must be bool, got str");
    s_expect_launch ("disable_cuda_graph", xinf_value_new_uint (1), "field 'disable_cuda_graph' must be bool, got uint64");
    s_expect_launch ("workers", xinf_value_new_str ("w1"), "field 'workers' must be array, got str");
    xinf_value_t *workers = xinf_value_new_array ();
    xinf_array_push (workers, xinf_value_new_str ("w1"));
    xinf_array_push (workers, xinf_value_new_uint (2));
    s_expect_launch ("workers", workers, "field 'workers[1]' must be str, got uint64");
    workers = xinf_value_new_array ();
    for (int index = 0; index < 17; index++)
        xinf_array_push (workers, xinf_value_new_str ("w"));
    s_expect_launch ("workers", workers, "field 'workers' has 17 elements, at most 16 allowed");
    //  nil is absent for an optional field
    xinf_value_t *body = s_launch ();
    xinf_map_put (body, "threads", xinf_value_new_nil ());
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_launch_t launch;
    CHECK_INT (xinf_client_msg_launch_decode (body, &launch, &check), 0);
    CHECK (!launch.has_threads && launch.threads == 0);
    xinf_value_destroy (&body);
}

//  A map type inside an array: the bad field is named with its place.
static void
test_nested_maps (void)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_uint (body, "session", 7);
    xinf_map_put_str (body, "node", "w1");
    xinf_value_t *results = xinf_value_new_array ();
    xinf_value_t *result = xinf_value_new_map ();
    xinf_map_put_str (result, "to", "w2");
    xinf_map_put_str (result, "endpoint", "tcp://10.0.0.2:29500");
    xinf_map_put_str (result, "status", "ok");
    xinf_map_put_uint (result, "ms", 3);
    xinf_map_put_str (result, "detail", "");
    xinf_array_push (results, result);
    xinf_map_put (body, "results", results);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_probe_result_t decoded;
    CHECK_INT (xinf_node_msg_probe_result_decode (body, &decoded, &check), 0);
    CHECK_INT (xinf_value_count (decoded.results), 1);
    xinf_map_put_uint (result, "ms", (uint64_t) 1 << 40);
    CHECK_INT (xinf_node_msg_probe_result_decode (body, &decoded, &check), -1);
    CHECK_STR (check.reason, "results[0]: field 'ms' is 1099511627776, must be in [0, 4294967295]");
    xinf_array_push (results, xinf_value_new_str ("no map"));
    xinf_map_put_uint (result, "ms", 3);
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_probe_result_decode (body, &decoded, &check), -1);
    CHECK_STR (check.reason, "field 'results[1]' must be map, got str");
    xinf_value_destroy (&body);
}

//  values= and min= on arrays; a map type as a field; raw text.
static void
test_values_counts_and_raw (void)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_uint (body, "request", 5);
    xinf_value_t *ids = xinf_value_new_array ();
    xinf_array_push (ids, xinf_value_new_uint (1));
    xinf_map_put (body, "prompt_tokens", ids);
    xinf_map_put (body, "tokens", xinf_value_dup (ids));
    xinf_map_put (body, "text", xinf_value_new_strn ("a\0\xff", 3));     //  a token's bytes, as they are
    xinf_map_put_str (body, "finish_reason", "stop");
    xinf_value_t *timings = xinf_value_new_map ();
    xinf_map_put_float (timings, "prefill_ms", 1);
    xinf_map_put_float (timings, "prefill_tokens_per_s", 2);
    xinf_map_put_float (timings, "decode_ms", 3);
    xinf_map_put_float (timings, "decode_tokens_per_s", 4);
    xinf_map_put (body, "timings", timings);
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("RUN_DONE", body, &check), 0);
    xinf_map_put_str (body, "finish_reason", "bored");
    CHECK_INT (xinf_node_msg_validate ("RUN_DONE", body, &check), -1);
    CHECK_STR (check.reason, "field 'finish_reason' must be one of length, stop, context, got 'bored'");
    xinf_map_put_str (body, "finish_reason", "stop");
    xinf_value_t *gone = xinf_map_take (timings, "decode_ms");
    xinf_value_destroy (&gone);
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("RUN_DONE", body, &check), -1);
    CHECK_STR (check.reason, "timings: field 'decode_ms' is missing");
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("NO_SUCH_TYPE", body, &check), 1);
    CHECK (!check.failed);
    xinf_value_destroy (&body);

    body = xinf_value_new_map ();
    xinf_map_put_str (body, "uid", "m");
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_uint (body, "generation", 1);
    xinf_value_t *endpoints = xinf_value_new_array ();
    xinf_array_push (endpoints, xinf_value_new_str ("tcp://a:1"));
    xinf_map_put (body, "endpoints", endpoints);
    xinf_map_put (body, "nodes", xinf_value_dup (endpoints));
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("GROUP", body, &check), -1);
    CHECK_STR (check.reason, "field 'endpoints' has 1 elements, at least 2 needed");
    xinf_value_destroy (&body);
}

//  Model files and the states main added: FILE_OPENED's digests are
//  lower-case hex, FILE_ERROR's code one of node.xml's, MODEL_STATE has
//  fetching and fetched but not a supervisor's stopping, MODEL_LOAD's
//  counts fit an int32.
static void
test_model_files (void)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_uint (body, "transfer", 7);
    xinf_map_put_uint (body, "size", 3);
    xinf_map_put_str (body, "sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    xinf_node_msg_file_opened_t opened;
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_file_opened_decode (body, &opened, &check), 0);
    CHECK (opened.transfer == 7 && !opened.has_have_sha256 && !opened.has_source);
    xinf_map_put_str (body, "sha256", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
    CHECK_INT (xinf_node_msg_file_opened_decode (body, &opened, &check), -1);
    CHECK_STR (check.reason, "field 'sha256' may only hold 0-9 a-f");
    xinf_map_put_str (body, "sha256", "ba7816bf");
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_file_opened_decode (body, &opened, &check), -1);
    CHECK (strstr (check.reason, "'sha256'") != NULL);
    xinf_value_destroy (&body);

    body = xinf_value_new_map ();
    xinf_map_put_uint (body, "transfer", 7);
    xinf_map_put_str (body, "code", "SOURCE_LOST");
    xinf_map_put_str (body, "message", "w2 was lost");
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("FILE_ERROR", body, &check), 0);
    xinf_map_put_str (body, "code", "OOPS");
    CHECK_INT (xinf_node_msg_validate ("FILE_ERROR", body, &check), -1);
    CHECK (strstr (check.reason, "field 'code' must be one of NOT_FOUND") == check.reason);
    xinf_value_destroy (&body);

    body = xinf_value_new_map ();
    xinf_map_put_uint (body, "transfer", 7);
    xinf_map_put_uint (body, "offset", 0);
    xinf_map_put_uint (body, "length", (4u << 20) + 1);
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("FILE_READ", body, &check), -1);
    CHECK (strstr (check.reason, "'length'") != NULL);
    xinf_value_destroy (&body);

    body = xinf_value_new_map ();
    xinf_map_put_str (body, "uid", "m");
    xinf_map_put_uint (body, "replica", 0);
    const char *states [] = { "fetching", "fetched", "stopped" };
    for (size_t index = 0; index < 3; index++) {
        xinf_map_put_str (body, "state", states [index]);
        check = (xinf_check_t) XINF_CHECK_INIT;
        CHECK_INT (xinf_node_msg_validate ("MODEL_STATE", body, &check), 0);
    }
    xinf_map_put_str (body, "state", "stopping");
    CHECK_INT (xinf_node_msg_validate ("MODEL_STATE", body, &check), -1);
    xinf_map_put_uint (body, "kv_blocks_used", 1);
    xinf_map_put_uint (body, "kv_blocks_free", (uint64_t) INT32_MAX + 1);
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("MODEL_LOAD", body, &check), -1);
    CHECK (strstr (check.reason, "'kv_blocks_free'") != NULL);
    xinf_value_destroy (&body);
}

//  Every message type of every protocol survives garbage bodies: random
//  maps of the right keys with values of random types.
static void
test_garbage (void)
{
    const char *const *lists [] = { xinf_client_msg_types, xinf_node_msg_types, xinf_model_msg_types,
                                    xinf_envelope_msg_types };
    int (*validate []) (const char *, const xinf_value_t *, xinf_check_t *) = {
        xinf_client_msg_validate, xinf_node_msg_validate, xinf_model_msg_validate, xinf_envelope_msg_validate };
    const char *keys [] = { "uid", "path", "node", "request", "tokens", "state", "replica", "results", "targets",
                            "devices", "models", "content", "mode", "timings", "data_ports", "endpoints" };
    uint32_t seed = 0x5eed;
    size_t refused = 0, checked = 0;
    for (size_t list = 0; list < 4; list++)
        for (size_t type = 0; lists [list][type]; type++)
            for (int round = 0; round < 50; round++) {
                xinf_value_t *body = xinf_value_new_map ();
                for (size_t key = 0; key < sizeof keys / sizeof keys [0]; key++) {
                    seed = seed * 1664525 + 1013904223;
                    switch (seed >> 29) {
                        case 0: xinf_map_put_uint (body, keys [key], seed); break;
                        case 1: xinf_map_put_str (body, keys [key], "x"); break;
                        case 2: xinf_map_put (body, keys [key], xinf_value_new_array ()); break;
                        case 3: xinf_map_put_int (body, keys [key], -1); break;
                        case 4: xinf_map_put (body, keys [key], xinf_value_new_map ()); break;
                        default: break;
                    }
                }
                xinf_check_t check = XINF_CHECK_INIT;
                int rc = validate [list] (lists [list][type], body, &check);
                CHECK (rc == 0 || (rc == -1 && check.failed && *check.reason));
                refused += rc == -1;
                checked++;
                xinf_value_destroy (&body);
            }
    CHECK (refused > checked / 2);
}

//  Every str a peer sends is UTF-8 or refused, in every protocol's decoders:
//  the four ways a text can be broken, each naming the field and the byte.
#define OVERLONG  "\xc0\xaf"                  //  '/' in two bytes
#define SURROGATE "\xed\xa0\x80"              //  U+D800
#define BEYOND    "\xf4\x90\x80\x80"          //  U+110000
#define CUT       "\xe4\xbd"                  //  two bytes of three

static void
s_expect_utf8 (int (*validate) (const char *, const xinf_value_t *, xinf_check_t *), const char *type,
               xinf_value_t *body, const char *reason)
{
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (validate (type, body, &check), -1);
    CHECK_STR (check.reason, reason);
    xinf_value_destroy (&body);
}

static xinf_value_t *
s_map (const char *key, const char *text)
{
    xinf_value_t *map = xinf_value_new_map ();
    if (key)
        xinf_map_put_str (map, key, text);
    return map;
}

static void
test_utf8_every_decoder (void)
{
    //  client.xml: a prompt, a tokenizer's content
    xinf_value_t *body = s_map ("uid", "m");
    xinf_map_put_str (body, "prompt", "Hello " OVERLONG);
    xinf_map_put_uint (body, "max_tokens", 4);
    s_expect_utf8 (xinf_client_msg_validate, "GENERATE", body, "field 'prompt' is not valid UTF-8 (byte 6)");
    body = s_map ("uid", "m");
    xinf_map_put_str (body, "content", "caf\xc3\xa9 " SURROGATE);
    s_expect_utf8 (xinf_client_msg_validate, "TOKENIZE", body, "field 'content' is not valid UTF-8 (byte 6)");
    //  node.xml: a worker's error text, an item of an array, a field of a map in an array
    body = s_map ("code", "MODEL_NOT_READY");
    xinf_map_put_uint (body, "request", 1);
    xinf_map_put_str (body, "message", "why: " BEYOND);
    s_expect_utf8 (xinf_node_msg_validate, "RUN_FAILED", body, "field 'message' is not valid UTF-8 (byte 5)");
    body = s_map ("supervisor", "s");
    xinf_map_put_uint (body, "heartbeat_ms", 1000);
    xinf_map_put_uint (body, "liveness", 3);
    xinf_map_put_str (body, "observed_address", "");
    xinf_value_t *warnings = xinf_value_new_array ();
    xinf_array_push (warnings, xinf_value_new_str ("fine"));
    xinf_array_push (warnings, xinf_value_new_str ("cut " CUT));
    xinf_map_put (body, "warnings", warnings);
    s_expect_utf8 (xinf_node_msg_validate, "WELCOME", body, "field 'warnings[1]' is not valid UTF-8 (byte 4)");
    body = s_map ("node", "w1");
    xinf_map_put_uint (body, "session", 7);
    xinf_value_t *results = xinf_value_new_array ();
    xinf_value_t *result = s_map ("to", "w2");
    xinf_map_put_str (result, "endpoint", "tcp://10.0.0.2:29500");
    xinf_map_put_str (result, "status", "ok");
    xinf_map_put_uint (result, "ms", 3);
    xinf_map_put_str (result, "detail", OVERLONG);
    xinf_array_push (results, result);
    xinf_map_put (body, "results", results);
    s_expect_utf8 (xinf_node_msg_validate, "PROBE_RESULT", body,
                   "results[0]: field 'detail' is not valid UTF-8 (byte 0)");
    //  model.xml (executor to replica), envelope.xml (any ERROR)
    body = s_map ("phase", "compute");
    xinf_map_put_uint (body, "pid", 9);
    xinf_map_put_uint (body, "step", 1);
    xinf_map_put_uint (body, "layer", 0);
    xinf_map_put_str (body, "what", "attention" SURROGATE);
    xinf_map_put_uint (body, "phase_age_ms", 5);
    s_expect_utf8 (xinf_model_msg_validate, "EXECUTOR_BEAT", body, "field 'what' is not valid UTF-8 (byte 9)");
    body = s_map ("code", "BAD_REQUEST");
    xinf_map_put_str (body, "message", "ab" CUT);
    s_expect_utf8 (xinf_envelope_msg_validate, "ERROR", body, "field 'message' is not valid UTF-8 (byte 2)");

    //  The documented exception: a token's bytes (raw) go as they are
    body = s_map ("text", CUT);
    xinf_map_put_uint (body, "request", 1);
    xinf_map_put_uint (body, "index", 0);
    xinf_map_put_uint (body, "token", 42);
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_node_msg_validate ("RUN_TOKEN", body, &check), 0);
    xinf_value_destroy (&body);
}

//  The envelope's header, read by hand (xinf_msg_decode): sender and type
static void
test_utf8_header (void)
{
    const char *senders [] = { "w" OVERLONG, "w" SURROGATE, "w" BEYOND, "w" CUT };
    for (size_t index = 0; index < 4; index++) {
        xinf_msg_t *msg = xinf_msg_new ("PING");
        xinf_msg_set_sender (msg, senders [index]);
        zmsg_t *frames = xinf_msg_encode (&msg);
        char error [256];
        xinf_msg_t *back = xinf_msg_decode (&frames, error, sizeof error, NULL);
        CHECK (back == NULL);
        CHECK_HAS (error, "field 'sender' is not valid UTF-8 (byte 1)");
        zmsg_destroy (&frames);
    }
}

int
main (void)
{
    RUN (test_launch_defaults_and_round_trip);
    RUN (test_launch_refusals);
    RUN (test_nested_maps);
    RUN (test_values_counts_and_raw);
    RUN (test_model_files);
    RUN (test_garbage);
    RUN (test_utf8_every_decoder);
    RUN (test_utf8_header);
    return 0;
}
