/*  xinf_exec_kv: how an executor's KV budget is cut into blocks.

    By default the cache holds what max_seqs sequences of the whole
    context need, within the device's budget (xinf_exec_device_kv_budget);
    a LOAD's kv_cache_mb sets the budget itself. Counted on the whole
    model, so that every rank of a tensor-parallel group has the same
    blocks.

    A model of local (sliding-window) and global layers on a backend that
    reads block tables only within a window (Gemma 3 on the CPU) gets a
    window cache: its local layers keep their keys and values in a pool of
    their own, sized for what max_seqs sequences' windows and a step's
    tokens need (plus one window each, so that shared prompts' windows
    stay cached), and the global layers get the rest of the budget. Where
    that would not leave the global layers more blocks than the local
    ones (a small budget, a context shorter than the window), the cache is
    a plain one: every layer in one pool.
*/
#ifndef XINF_EXEC_KV_H_INCLUDED
#define XINF_EXEC_KV_H_INCLUDED

#include "xinf_transformer.h"

#define XINF_BLOCK_TOKENS 16          //  positions a KV block holds (executors make them, replicas plan with them)

typedef struct {
    size_t n_blocks;                  //  the blocks of the (global layers') pool
    size_t n_local_blocks;            //  a window cache's local pool (0: no window cache)
    uint64_t bytes;                   //  both pools', for the whole model
} xinf_exec_kv_plan_t;

//  The plan for 't' on 'backend', keys and values of 'dtype', max_seqs
//  sequences and steps of step_tokens, in 'budget' bytes (with
//  cap_at_need, at most what max_seqs sequences of the context need).
xinf_exec_kv_plan_t xinf_exec_kv_plan (const xinf_transformer_t *t, const xinf_backend_t *backend,
                                       xinf_dtype_t dtype, size_t max_seqs, size_t step_tokens, uint64_t budget,
                                       bool cap_at_need);

#endif
