/*  test_executor_tp: a tensor-parallel replica of two executor actors in
    this process, driven message by message as a replica drives them
    (LOAD with the rank fields, BOUND, GROUP, LOADED, STEP on rank 0), on
    the devices given: its logits against one executor's with the whole
    model, its greedy TOKENS the argmax of its logits, a seeded draw the
    sampler's for those logits.

        test_executor_tp PATH/TO/xinf-make-model cpu cpu
            the CPU mesh (runs everywhere)
        test_executor_tp PATH/TO/xinf-make-model cuda:0 cuda:1
            two GPUs summing over NCCL, sampling on the device (NCCL
            refuses two ranks of one communicator on one GPU: two
            devices are needed); exits 77 naming why where they are not
        test_executor_tp PATH/TO/xinf-make-model cpu cuda:0
            a mixed replica: both ranks fail their load naming it (one
            GPU); exits 77 where there is none
*/
#include "test_unit.h"
#include "xinf_executor.h"
#include "xinf_batch.h"
#include "xinf_samples.h"

#include <unistd.h>
#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"
#endif

#define S_RANKS 2

static const char *s_endpoints [S_RANKS + 1] = {
    "inproc://test-executor-tp-0", "inproc://test-executor-tp-1", "inproc://test-executor-tp-whole"
};

typedef struct {
    xinf_executor_t *executor;
    xinf_dealer_t *dealer;
} s_side_t;

static s_side_t
s_side_new (int which, const char *name)
{
    s_side_t side = { xinf_executor_new (name, s_endpoints [which]), NULL };
    CHECK (side.executor);
    side.dealer = xinf_dealer_new (s_endpoints [which], "tester");
    CHECK (side.dealer);
    return side;
}

static void
s_side_destroy (s_side_t *side)
{
    xinf_dealer_destroy (&side->dealer);
    xinf_executor_destroy (&side->executor);
}

//  The next message but progress and JOINED, within 60 s.
static xinf_msg_t *
s_next (s_side_t *side)
{
    char error [256];
    int64_t deadline = zclock_mono () + 60000;
    while (zclock_mono () < deadline) {
        xinf_msg_t *reply = xinf_dealer_recv (side->dealer, 500, error, sizeof error);
        if (reply && !xinf_msg_is (reply, "LOAD_PROGRESS") && !xinf_msg_is (reply, "JOINED"))
            return reply;
        xinf_msg_destroy (&reply);
    }
    CHECK (!"no answer from the executor within 60 s");
    return NULL;
}

static void
s_send (s_side_t *side, xinf_msg_t *msg)
{
    CHECK (xinf_dealer_send (side->dealer, &msg) == 0);
}

static xinf_msg_t *
s_load_msg (const char *model, const char *device, int rank, int n_ranks)
{
    xinf_msg_t *load = xinf_msg_new ("LOAD");
    xinf_value_t *body = xinf_msg_body (load);
    xinf_map_put_str (body, "path", model);
    xinf_map_put_str (body, "device", device);
    xinf_map_put_uint (body, "threads", 1);
    xinf_map_put_uint (body, "kv_cache_mb", 64);
    if (n_ranks > 1) {
        xinf_map_put_uint (body, "rank", (uint64_t) rank);
        xinf_map_put_uint (body, "n_ranks", (uint64_t) n_ranks);
        xinf_map_put_str (body, "group", "tp-test/1/0");
        xinf_map_put_str (body, "bind_host", "127.0.0.1");
        xinf_map_put_uint (body, "port_low", 28600);
        xinf_map_put_uint (body, "port_high", 28699);
        xinf_map_put_uint (body, "rendezvous_timeout_ms", 20000);
        xinf_map_put_uint (body, "stall_timeout_ms", 30000);
    }
    return load;
}

//  Five tokens of one sequence in block 3, the logits of the last.
static uint8_t *
s_step_wire (size_t *size)
{
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t table [1] = { 3 };
    CHECK (xinf_batch_buf_add_seq (batch, table, 1) == 0);
    for (int32_t pos = 0; pos < 5; pos++)
        CHECK (xinf_batch_buf_add_token (batch, 7 + 3 * pos, pos, 0, pos == 4) == 0);
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    *size = xinf_batch_wire_size (view);
    uint8_t *wire = malloc (*size);
    CHECK (wire);
    xinf_batch_encode (view, wire);
    xinf_batch_buf_destroy (&batch);
    return wire;
}

//  The step's LOGITS from 'side' (vocab floats, the caller's to free).
static float *
s_logits (s_side_t *side, const uint8_t *wire, size_t size, size_t *vocab)
{
    xinf_msg_t *step = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (step, wire, size);
    s_send (side, step);
    xinf_msg_t *reply = s_next (side);
    if (!xinf_msg_is (reply, "LOGITS"))
        fprintf (stderr, "STEP: %s\n", xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")));
    CHECK (xinf_msg_is (reply, "LOGITS"));
    *vocab = xinf_value_uint (xinf_map_get (xinf_msg_body (reply), "vocab"));
    CHECK (zframe_size (xinf_msg_frame (reply, 0)) == *vocab * sizeof (float));
    float *logits = malloc (*vocab * sizeof (float));
    CHECK (logits);
    memcpy (logits, zframe_data (xinf_msg_frame (reply, 0)), *vocab * sizeof (float));
    xinf_msg_destroy (&reply);
    return logits;
}

//  The step's token from 'side' for one row's sampling.
static int32_t
s_token (s_side_t *side, const uint8_t *wire, size_t size, const xinf_sampling_t *sampling)
{
    uint8_t frame [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    xinf_sample_row_t row = xinf_sample_row (*sampling);
    xinf_samples_encode (&row, 1, frame);
    xinf_msg_t *step = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (step, wire, size);
    xinf_msg_add_bytes (step, frame, sizeof frame);
    s_send (side, step);
    xinf_msg_t *reply = s_next (side);
    CHECK (xinf_msg_is (reply, "TOKENS") && zframe_size (xinf_msg_frame (reply, 0)) == sizeof (int32_t));
    int32_t token = *(int32_t *) zframe_data (xinf_msg_frame (reply, 0));
    xinf_msg_destroy (&reply);
    return token;
}

//  Loads both ranks: BOUND from each, then GROUP with their endpoints;
//  the answers (LOADED or an ERROR) into 'answers'.
static void
s_load_group (s_side_t *ranks, const char *model, const char *const *devices, xinf_msg_t **answers)
{
    uint64_t ports [S_RANKS];
    for (int rank = 0; rank < S_RANKS; rank++) {
        s_send (&ranks [rank], s_load_msg (model, devices [rank], rank, S_RANKS));
        xinf_msg_t *bound = s_next (&ranks [rank]);
        if (!xinf_msg_is (bound, "BOUND"))
            fprintf (stderr, "rank %d: %s\n", rank, xinf_value_str (xinf_map_get (xinf_msg_body (bound), "message")));
        CHECK (xinf_msg_is (bound, "BOUND"));
        ports [rank] = xinf_value_uint (xinf_map_get (xinf_msg_body (bound), "data_port"));
        xinf_msg_destroy (&bound);
    }
    for (int rank = 0; rank < S_RANKS; rank++) {
        xinf_msg_t *group = xinf_msg_new ("GROUP");
        xinf_value_t *endpoints = xinf_value_new_array (), *nodes = xinf_value_new_array ();
        for (int peer = 0; peer < S_RANKS; peer++) {
            char endpoint [64], node [16];
            snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%llu", (unsigned long long) ports [peer]);
            snprintf (node, sizeof node, "n%d", peer);
            xinf_array_push (endpoints, xinf_value_new_str (endpoint));
            xinf_array_push (nodes, xinf_value_new_str (node));
        }
        xinf_map_put (xinf_msg_body (group), "endpoints", endpoints);
        xinf_map_put (xinf_msg_body (group), "nodes", nodes);
        s_send (&ranks [rank], group);
    }
    for (int rank = 0; rank < S_RANKS; rank++)
        answers [rank] = s_next (&ranks [rank]);
}

static size_t
s_argmax (const float *logits, size_t vocab)
{
    size_t best = 0;
    for (size_t index = 1; index < vocab; index++)
        best = logits [index] > logits [best] ? index : best;
    return best;
}

//  Devices "cuda:N" this process can use: -1 when one is missing (why on stdout).
static int
s_devices_present (const char *const *devices)
{
    int highest = -1;
    for (int rank = 0; rank < S_RANKS; rank++)
        if (strncmp (devices [rank], "cuda:", 5) == 0) {
            int index = atoi (devices [rank] + 5);
            highest = index > highest ? index : highest;
        }
    if (highest < 0)
        return 0;
#if defined (XINF_HAVE_CUDA)
    char error [256] = "";
    xinf_cuda_device_t found [8];
    xinf_cuda_versions_t versions;
    int count = xinf_cuda_devices (found, 8, &versions, error, sizeof error);
    if (count > highest)
        return 0;
    printf ("SKIP: needs CUDA device %d: %s\n", highest, count < 0 ? error : "not there");
#else
    printf ("SKIP: this build has no CUDA backend\n");
#endif
    return -1;
}

//  Ends the ranks and removes the model file and its folder.
static void
s_finish (s_side_t *ranks, uint8_t *wire, const char *model, const char *path)
{
    for (int rank = 0; rank < S_RANKS; rank++)
        s_side_destroy (&ranks [rank]);
    free (wire);
    unlink (model);
    rmdir (path);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 4);
    setvbuf (stdout, NULL, _IONBF, 0);
    const char *devices [S_RANKS] = { argv [2], argv [3] };
    if (s_devices_present (devices))
        return 77;
    char path [] = "/tmp/xinf-executor-tp-XXXXXX", model [300], command [800];
    CHECK (mkdtemp (path));
    snprintf (model, sizeof model, "%s/tiny.gguf", path);
    snprintf (command, sizeof command, "'%s' --preset tiny --arch qwen2 -o '%s' > /dev/null", argv [1], model);
    CHECK (system (command) == 0);
    size_t size;
    uint8_t *wire = s_step_wire (&size);
    bool mixed = strcmp (devices [0], devices [1]) != 0
              && (strncmp (devices [0], "cuda:", 5) != 0 || strncmp (devices [1], "cuda:", 5) != 0);

    s_side_t ranks [S_RANKS] = { s_side_new (0, "rank-0"), s_side_new (1, "rank-1") };
    xinf_msg_t *answers [S_RANKS];
    s_load_group (ranks, model, devices, answers);
    for (int rank = 0; rank < S_RANKS; rank++) {
        const char *message = xinf_value_str (xinf_map_get (xinf_msg_body (answers [rank]), "message"));
        if (mixed) {
            CHECK (xinf_msg_is (answers [rank], "ERROR"));
            CHECK_HAS (message, "a mixed replica: 1 of 2 ranks on GPUs (NCCL), 1 on the CPU");
        }
        else {
            if (!xinf_msg_is (answers [rank], "LOADED"))
                fprintf (stderr, "rank %d: %s\n", rank, message);
            CHECK (xinf_msg_is (answers [rank], "LOADED"));
            CHECK (!xinf_value_bool (xinf_map_get (xinf_msg_body (answers [rank]), "cuda_graphs")));
        }
        xinf_msg_destroy (&answers [rank]);
    }
    if (mixed) {
        printf ("a mixed replica (%s, %s): both ranks refused it\n", devices [0], devices [1]);
        s_finish (ranks, wire, model, path);
        return 0;
    }
    //  The whole model on rank 0's device
    s_side_t whole = s_side_new (2, "whole");
    s_send (&whole, s_load_msg (model, devices [0], 0, 1));
    xinf_msg_t *loaded = s_next (&whole);
    CHECK (xinf_msg_is (loaded, "LOADED"));
    xinf_msg_destroy (&loaded);
    size_t vocab, whole_vocab;
    float *expected = s_logits (&whole, wire, size, &whole_vocab);
    float *logits = s_logits (&ranks [0], wire, size, &vocab);
    CHECK (vocab == whole_vocab);
    double error = 0, norm = 0;
    for (size_t index = 0; index < vocab; index++) {
        double difference = (double) logits [index] - expected [index];
        error += difference * difference;
        norm += (double) expected [index] * expected [index];
    }
    printf ("%s + %s vs the whole model on %s: logits NMSE %.3g\n", devices [0], devices [1], devices [0],
            norm > 0 ? error / norm : error);
    //  Another summation order (by rank, or NCCL's), float rounding only
    CHECK (norm > 0 && error / norm < 1e-9);
    //  TOKENS: greedy is the argmax of the replica's logits; a seeded draw
    //  is the sampler's for them (on a GPU: drawn on the device)
    xinf_sampling_t greedy = { 0, 1, 0, 0, 0 }, hot = { 1.2f, 0.9f, 40, 99, 5 };
    CHECK_INT (s_token (&ranks [0], wire, size, &greedy), (int) s_argmax (logits, vocab));
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    CHECK (sampler && xinf_sampler_set (sampler, &hot) == 0);
    CHECK_INT (s_token (&ranks [0], wire, size, &hot), xinf_sampler_sample (sampler, logits, vocab));
    xinf_sampler_destroy (&sampler);
    printf ("a replica of 2 ranks (%s, %s): logits, greedy and seeded tokens as expected\n", devices [0],
            devices [1]);
    free (logits);
    free (expected);
    s_side_destroy (&whole);
    s_finish (ranks, wire, model, path);
    return 0;
}
