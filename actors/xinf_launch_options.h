/*  xinf_launch_options: how a model's replicas run, as LAUNCH gave it, and
    the launch_options map (node.md) that carries it to the workers in
    LOAD_MODEL's launch and back from them in HELLO's hosted_model, so that
    a supervisor restarted without a journal relaunches a model as it was
    launched. The journal keeps the same options in its own record
    (xinf_restore.h).
*/
#ifndef XINF_LAUNCH_OPTIONS_H_INCLUDED
#define XINF_LAUNCH_OPTIONS_H_INCLUDED

#include "xinf.h"
#include "xinf_lora_modules.h"

//  How a model's replicas run, as LAUNCH gave it (0: the worker's or
//  replica's default); the journal and the standby peer keep it.
typedef struct {
    uint64_t threads;                 //  compute threads per replica, per rank
    uint64_t probe_timeout_ms, rendezvous_timeout_ms, stall_timeout_ms;
    uint64_t kv_cache_mb;             //  the replica's KV budget
    char kv_cache_dtype [8];          //  what its KV cache holds: auto, f32, f16, q8_0 ("": auto)
    uint64_t max_seqs;                //  sequences a replica runs at once
    uint64_t step_tokens;             //  tokens per step of chunked prefill
    size_t max_queued;                //  the scheduler's queue bound
    bool disable_cuda_graph;          //  every step eagerly: no CUDA graphs
    uint64_t speculative_tokens;      //  drafts a decoding sequence's step may carry (0: none)
    uint64_t prompt_lookup_min, prompt_lookup_max;    //  the suffix they are looked up by
    xinf_lora_modules_t lora;         //  the LoRA adapters served with the model
} xinf_launch_options_t;

//  The options and 'pinned' as a launch_options map.
xinf_value_t *xinf_launch_options_map (const xinf_launch_options_t *options, bool pinned);
//  Takes a launch_options map (a worker's report), every field checked:
//  0, or -1 with the reason in 'check' and 'options' and 'pinned' unchanged.
int xinf_launch_options_take (const xinf_value_t *map, xinf_launch_options_t *options, bool *pinned,
                              xinf_check_t *check);

#endif
