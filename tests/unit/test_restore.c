/*  test_restore: launched models to the journal's maps and back
    (actors/xinf_restore): a plain and a tensor-parallel model survive the
    round trip with their launch options (disable_cuda_graph too; a map
    without it, from an older build, restores with graphs on) and every
    rank's worker; a saved
    map that breaks the rules a schema cannot say (ranks per replica, rank
    0 the replica's worker, a worker twice in one replica) is refused with
    the reason; which restored replicas, or ranks of a group, no worker
    reported; the launch
    options as workers keep and report them (xinf_launch_options).  */
#include "test_unit.h"
#include "xinf_restore.h"

static xinf_model_entry_t *
s_launched (const char *uid, size_t replicas, size_t n_worker)
{
    xinf_model_entry_t *model = calloc (1, sizeof *model);
    snprintf (model->uid, sizeof model->uid, "%s", uid);
    snprintf (model->path, sizeof model->path, "/models/%s.gguf", uid);
    model->generation = 1764777600123;
    model->n_worker = n_worker;
    model->count = replicas;
    model->options = (xinf_launch_options_t) {
        .threads = 3, .probe_timeout_ms = 2500, .rendezvous_timeout_ms = 9000, .stall_timeout_ms = 45000,
        .kv_cache_mb = 96, .max_seqs = 5, .step_tokens = 128, .max_queued = 77
    };
    for (size_t index = 0; index < replicas; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        replica->index = index;
        replica->n_ranks = n_worker;
        for (size_t rank = 0; rank < n_worker; rank++)
            snprintf (replica->ranks [rank].node, sizeof replica->ranks [rank].node, "w%zu", index * n_worker + rank);
        snprintf (replica->node, sizeof replica->node, "w%zu", index * n_worker);
    }
    return model;
}

static void
test_round_trip (void)
{
    for (size_t n_worker = 1; n_worker <= 3; n_worker += 2) {
        xinf_model_entry_t *model = s_launched ("m", 2, n_worker);
        model->options.disable_cuda_graph = n_worker == 1;
        if (n_worker == 1) {          //  LoRA adapters (a whole replica's)
            snprintf (model->options.lora.specs [0], XINF_LORA_SPEC_MAX, "sql=/models/sql.gguf");
            snprintf (model->options.lora.specs [1], XINF_LORA_SPEC_MAX, "chat.v2=/models/chat.gguf");
            model->options.lora.count = 2;
        }
        if (n_worker > 1)             //  speculative decoding's options too, and a KV cache type
            model->options = (xinf_launch_options_t) { .speculative_tokens = 5, .prompt_lookup_min = 1,
                                                       .prompt_lookup_max = 3, .max_queued = 9,
                                                       .kv_cache_dtype = "q8_0" };
        xinf_value_t *saved = xinf_restore_describe (model);
        CHECK_INT (xinf_value_bool (xinf_map_get (saved, "disable_cuda_graph")), n_worker == 1);
        CHECK_INT (xinf_map_get (saved, "ranks") != NULL, n_worker > 1);
        char error [512] = "";
        xinf_model_entry_t *back = xinf_restore_entry (saved, error, sizeof error);
        CHECK (back);
        CHECK_STR (error, "");
        CHECK_STR (back->uid, "m");
        CHECK_STR (back->path, "/models/m.gguf");
        CHECK (back->generation == model->generation);
        CHECK_INT (back->n_worker, n_worker);
        CHECK_INT (back->count, 2);
        const xinf_launch_options_t *got = &back->options, *want = &model->options;
        CHECK (got->threads == want->threads && got->probe_timeout_ms == want->probe_timeout_ms
               && got->rendezvous_timeout_ms == want->rendezvous_timeout_ms
               && got->stall_timeout_ms == want->stall_timeout_ms && got->kv_cache_mb == want->kv_cache_mb
               && got->max_seqs == want->max_seqs && got->step_tokens == want->step_tokens
               && got->max_queued == want->max_queued);
        CHECK_INT (got->disable_cuda_graph, n_worker == 1);
        CHECK (got->speculative_tokens == want->speculative_tokens);
        CHECK_INT (got->prompt_lookup_min, n_worker > 1 ? 1 : 2);         //  without speculation: the defaults
        CHECK_INT (got->prompt_lookup_max, n_worker > 1 ? 3 : 4);
        CHECK_STR (got->kv_cache_dtype, n_worker > 1 ? "q8_0" : "auto");    //  none given: auto
        CHECK_INT (got->lora.count, n_worker == 1 ? 2 : 0);
        CHECK (n_worker > 1 || (streq (got->lora.specs [1], "chat.v2=/models/chat.gguf")
                                && xinf_lora_modules_find (&got->lora, "sql") == 1
                                && xinf_lora_modules_find (&got->lora, "chat.v2") == 2
                                && xinf_lora_modules_find (&got->lora, "sql=/models") == 0
                                && xinf_lora_modules_find (&got->lora, "sq") == 0));
        //  A journal of a build before the field: graphs on
        xinf_value_t *older = xinf_value_dup (saved);
        xinf_value_t *field = xinf_map_take (older, "disable_cuda_graph");
        CHECK (field);
        xinf_value_destroy (&field);
        xinf_model_entry_t *old_back = xinf_restore_entry (older, error, sizeof error);
        CHECK (old_back && !old_back->options.disable_cuda_graph);
        xinf_model_entry_free (&old_back);
        xinf_value_destroy (&older);
        for (size_t index = 0; index < 2; index++) {
            xinf_replica_entry_t *replica = &back->replicas [index];
            CHECK (replica->restoring);
            CHECK_INT (replica->state, XINF_LAUNCH_RELAUNCHING);
            CHECK_STR (replica->node, model->replicas [index].node);
            CHECK_HAS (replica->error, "restored from the journal");
            for (size_t rank = 0; n_worker > 1 && rank < n_worker; rank++) {
                CHECK_STR (replica->ranks [rank].node, model->replicas [index].ranks [rank].node);
                CHECK_INT (replica->ranks [rank].state, XINF_LAUNCH_PLACED);
            }
            //  Nobody reported it: relaunched without rank 0's worker
            CHECK_STR (xinf_restore_unreported (replica), replica->node);
        }
        //  All ranks back but the last: relaunched without the last one's
        //  worker (its group waits for it in vain); all back: coming back,
        //  not relaunched (the launch's deadline decides); failed: not waiting
        if (n_worker > 1) {
            xinf_replica_entry_t *replica = &back->replicas [0];
            for (size_t rank = 0; rank + 1 < n_worker; rank++)
                replica->ranks [rank].state = XINF_LAUNCH_READY;
            replica->state = XINF_LAUNCH_LOADING;
            CHECK_STR (xinf_restore_unreported (replica), replica->ranks [n_worker - 1].node);
            replica->ranks [n_worker - 1].state = XINF_LAUNCH_JOINING;
            CHECK (xinf_restore_unreported (replica) == NULL);
            replica->ranks [n_worker - 1].state = XINF_LAUNCH_PLACED;
            replica->state = XINF_LAUNCH_FAILED;
            CHECK (xinf_restore_unreported (replica) == NULL);
        }
        back->replicas [1].restoring = false;
        CHECK (xinf_restore_unreported (&back->replicas [1]) == NULL);
        xinf_model_entry_free (&back);
        xinf_value_destroy (&saved);
        xinf_model_entry_free (&model);
    }
}

//  The saved map of a 2-replica, 2-rank model with 'ranks' replaced (NULL:
//  a plain model's map claiming 2 ranks, without ranks).
static xinf_value_t *
s_saved_with_ranks (const char *const *ranks, size_t count)
{
    xinf_model_entry_t *model = s_launched ("tp", 2, ranks ? 2 : 1);
    xinf_value_t *saved = xinf_restore_describe (model);
    xinf_model_entry_free (&model);
    if (!ranks) {
        xinf_map_put_uint (saved, "n_worker", 2);
        return saved;
    }
    xinf_value_t *list = xinf_value_new_array ();
    for (size_t index = 0; index < count; index++)
        xinf_array_push (list, xinf_value_new_str (ranks [index]));
    xinf_map_put (saved, "ranks", list);
    return saved;
}

static void
s_refused (xinf_value_t *saved, const char *reason)
{
    char error [512] = "";
    xinf_model_entry_t *model = xinf_restore_entry (saved, error, sizeof error);
    CHECK (model == NULL);
    CHECK_HAS (error, reason);
    xinf_value_destroy (&saved);
}

static void
test_bad_ranks (void)
{
    const char *short_list [] = { "w0", "w1", "w2" };
    s_refused (s_saved_with_ranks (short_list, 3), "field 'ranks' must name n_worker (2) workers for each of its 2");
    s_refused (s_saved_with_ranks (NULL, 0), "field 'ranks' must name n_worker");
    const char *other_first [] = { "w0", "w1", "w9", "w3" };
    s_refused (s_saved_with_ranks (other_first, 4), "replica 1's worker is not its rank 0's");
    const char *twice [] = { "w0", "w0", "w2", "w3" };
    s_refused (s_saved_with_ranks (twice, 4), "replica 0 names a worker for two ranks");
    const char *empty [] = { "w0", "", "w2", "w3" };
    s_refused (s_saved_with_ranks (empty, 4), "ranks");
    //  Not text at all
    xinf_value_t *saved = s_saved_with_ranks (short_list, 3);
    xinf_value_t *numbers = xinf_value_new_array ();
    for (int index = 0; index < 4; index++)
        xinf_array_push (numbers, xinf_value_new_uint ((uint64_t) index));
    xinf_map_put (saved, "ranks", numbers);
    s_refused (saved, "ranks");
}

//  The launch options as LOAD_MODEL carries them and a worker reports
//  them back in HELLO: every option and pinned come back; a report that
//  breaks LAUNCH's ranges or types is refused and leaves the model as it was.
static void
test_launch_options (void)
{
    xinf_model_entry_t *model = s_launched ("m", 1, 2);
    model->pinned = true;
    model->options.disable_cuda_graph = true;
    snprintf (model->options.lora.specs [0], XINF_LORA_SPEC_MAX, "a=/m/a.gguf");
    model->options.lora.count = 1;
    xinf_value_t *launch = xinf_launch_options_map (&model->options, model->pinned);
    xinf_model_entry_t *adopted = calloc (1, sizeof *adopted);
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK (xinf_launch_options_take (launch, &adopted->options, &adopted->pinned, &check) == 0);
    const xinf_launch_options_t *got = &adopted->options, *want = &model->options;
    CHECK (got->threads == want->threads && got->probe_timeout_ms == want->probe_timeout_ms
           && got->rendezvous_timeout_ms == want->rendezvous_timeout_ms
           && got->stall_timeout_ms == want->stall_timeout_ms && got->kv_cache_mb == want->kv_cache_mb
           && got->max_seqs == want->max_seqs && got->step_tokens == want->step_tokens
           && got->max_queued == want->max_queued && got->disable_cuda_graph);
    CHECK (adopted->pinned);
    CHECK (got->lora.count == 1 && streq (got->lora.specs [0], "a=/m/a.gguf"));
    xinf_value_t *twice = xinf_value_new_array ();
    xinf_array_push (twice, xinf_value_new_str ("a=/x"));
    xinf_array_push (twice, xinf_value_new_str ("a=/y"));
    struct { const char *key; xinf_value_t *value; const char *reason; } bad [] = {
        { "rendezvous_timeout_ms", xinf_value_new_uint (0), "rendezvous_timeout_ms" },
        { "max_seqs", xinf_value_new_uint (1000), "max_seqs" },
        { "threads", xinf_value_new_str ("3"), "threads" },
        { "max_queued", xinf_value_new_uint (0), "max_queued" },
        { "pinned", xinf_value_new_uint (1), "pinned" },
        { "disable_cuda_graph", xinf_value_new_str ("yes"), "disable_cuda_graph" },
        { "lora_modules", twice, "given twice" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        xinf_value_t *broken = xinf_value_dup (launch);
        xinf_map_put (broken, bad [index].key, bad [index].value);
        xinf_model_entry_t *before = calloc (1, sizeof *before);
        check = (xinf_check_t) XINF_CHECK_INIT;
        CHECK (xinf_launch_options_take (broken, &before->options, &before->pinned, &check) == -1);
        CHECK_HAS (check.reason, bad [index].reason);
        CHECK_INT (before->options.max_seqs, 0);
        free (before);
        xinf_value_destroy (&broken);
    }
    xinf_value_t *taken = xinf_map_take (launch, "stall_timeout_ms");      //  a missing option
    xinf_value_destroy (&taken);
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK (xinf_launch_options_take (launch, &adopted->options, &adopted->pinned, &check) == -1);
    CHECK_HAS (check.reason, "stall_timeout_ms");
    xinf_value_destroy (&launch);
    free (adopted);
    xinf_model_entry_free (&model);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_round_trip);
    RUN (test_bad_ranks);
    RUN (test_launch_options);
    return 0;
}
