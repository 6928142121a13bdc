/*  xinf_cuda_graph: CUDA graphs of decode passes (the graph ops of
    xinf_backend.h; the host side, buckets and padding, is
    models/xinf_graph.h).

    A decode pass padded to its bucket always launches the same kernels
    with the same sizes on the same buffers: the model's activations and
    KV pool (the backend's allocations), the weights' device copies, and
    the staging buffers that hold the batch's arrays (token ids,
    positions, sequences, block tables). Recording it once per bucket and
    replaying it saves the launches of every later step of that bucket.

    Recording (graph_begin .. graph_end): the batch's arrays are uploaded
    into the staging buffers first, through the very uploads the ops use,
    the BATCH stage grown beforehand to twice what this step's tables
    take (they grow by a block every block_tokens steps, and a stage that
    moves drops the graphs that use it); then the stream is captured while the transformer runs the
    pass's ops as usual. They are the eager path's ops and kernels,
    unchanged; only what they may not do while captured is different: an
    upload finds its bytes in place and copies nothing, and a product's
    copy of its output to the host (the logits) is noted instead, to be
    made after each run of the graph. Anything else that would copy or
    allocate fails the capture (see xinf_cuda_backend.cu).

    Replaying (graph_replay): the batch's arrays are uploaded the same way
    (same layouts, so the same addresses), the graph launched, the noted
    host copies made, the stream synchronised. A graph whose addresses
    moved since (a staging buffer grew for a larger prefill, the logits
    rows or the KV pool changed) is dropped and the caller records it
    again; all graphs are dropped when memory they use is freed.

    A capture, instantiation or first run that fails turns graphs off for
    the backend for good, with a log line and the reason for the caller;
    the backend's error is cleared, so the pass runs eagerly.
*/
#include "xinf_cuda_priv.h"

#include <stdio.h>
#include <string.h>

#define XINF_CUDA_BLAS_WORKSPACE (32u << 20)   //  cuBLAS's workspace when graphs may capture its calls

//  The slot of a bucket: its power of two rounded up.
static size_t
s_slot (size_t bucket)
{
    size_t slot = 0;
    while (slot + 1 < XINF_CUDA_GRAPH_SLOTS && ((size_t) 1 << slot) < bucket)
        slot++;
    return slot;
}

static void
s_drop (xinf_cuda_graph_t *graph)
{
    if (graph->exec)
        cudaGraphExecDestroy (graph->exec);
    memset (graph, 0, sizeof *graph);
}

void
xinf_cuda_graph_drop_all (xinf_cuda_t *cuda)
{
    for (size_t slot = 0; slot < XINF_CUDA_GRAPH_SLOTS; slot++)
        s_drop (&cuda->graphs [slot]);
}

void
xinf_cuda_graph_destroy (xinf_cuda_t *cuda)
{
    xinf_cuda_graph_drop_all (cuda);
    if (cuda->blas_workspace)
        cudaFree (cuda->blas_workspace);
    cuda->blas_workspace = NULL;
}

int
xinf_cuda_graph_output (xinf_cuda_t *cuda, void *host, const void *device, size_t bytes)
{
    xinf_cuda_graph_t *graph = &cuda->recording;
    if (graph->n_outputs == XINF_CUDA_GRAPH_OUTPUTS)
        return xinf_cuda_fail_once (cuda, "graph capture", "more copies to the host than a graph keeps");
    //  The copies come after the replay: two from one staging buffer would
    //  both read the second's rows
    for (size_t index = 0; index < graph->n_outputs; index++)
        if (graph->outputs [index].device == device)
            return xinf_cuda_fail_once (cuda, "graph capture", "two copies to the host from one staging buffer");
    graph->outputs [graph->n_outputs++] = (xinf_cuda_output_t) { host, device, bytes };
    return 0;
}

//  Graphs off for good: the reason into 'error', logged; the backend's
//  error cleared (it goes on eagerly), unless it is sticky (a fault of
//  the device: the step then fails with it, not with what the next call
//  says). Returns -1.
static int
s_graphs_off (xinf_cuda_t *cuda, const char *reason, char *error, size_t error_size)
{
    char text [600];
    snprintf (text, sizeof text, "%s", cuda->failed ? cuda->error : reason);
    fprintf (stderr, "xinf cuda (device %d): CUDA graphs off, decode steps run eagerly: %s\n", cuda->device, text);
    if (error && error_size)
        snprintf (error, error_size, "%s", text);
    cuda->graphs_off = true;
    cuda->capturing = false;
    if (!cuda->sticky) {
        cuda->failed = false;
        cuda->error [0] = 0;
        cudaGetLastError ();
    }
    return -1;
}

//  The batch's arrays into the staging buffers as the ops upload them:
//  embed's token ids, rope's positions, the batch's tables.
static int
s_put_batch (xinf_cuda_t *cuda, const xinf_batch_t *batch, const xinf_kv_pool_t *pool)
{
    const void *tokens [1] = { batch->tokens }, *pos [1] = { batch->pos };
    size_t bytes [1] = { batch->n * sizeof (int32_t) };
    void *part [1];
    xinf_cuda_batch_t device;
    if (xinf_cuda_upload (cuda, XINF_CUDA_STAGE_TOKENS, tokens, bytes, 1, part)
    ||  xinf_cuda_upload (cuda, XINF_CUDA_STAGE_POS, pos, bytes, 1, part)
    ||  xinf_cuda_batch (cuda, batch, pool->n_blocks, pool->block_tokens, &device))
        return -1;
    return 0;
}

//  16-byte parts, as xinf_cuda_upload lays them out.
static size_t
s_padded (size_t bytes)
{
    return (bytes + 15) / 16 * 16;
}

//  Before a capture: the BATCH stage has room for twice this batch's
//  arrays, so that later steps of the bucket, whose tables grow, seldom
//  move it; cuBLAS has a fixed workspace.
static int
s_prepare (xinf_cuda_t *cuda, const xinf_batch_t *batch)
{
    size_t words = batch->n * sizeof (int32_t), listed = (size_t) batch->table_start [batch->n_seqs];
    size_t batch_bytes = 2 * s_padded (words) + s_padded ((batch->n_seqs + 1) * sizeof (int32_t))
                       + s_padded (listed * sizeof (int32_t));
    if (!xinf_cuda_stage (cuda, XINF_CUDA_STAGE_BATCH, 2 * batch_bytes))
        return -1;
    if (cuda->use_cublas && !cuda->blas_workspace) {
        if (xinf_cuda_check (cuda, cudaMalloc (&cuda->blas_workspace, XINF_CUDA_BLAS_WORKSPACE), "cuBLAS workspace")
        ||  xinf_cuda_check_blas (cuda, cublasSetWorkspace (cuda->cublas, cuda->blas_workspace,
                                                            XINF_CUDA_BLAS_WORKSPACE), "cuBLAS workspace"))
            return -1;
    }
    return 0;
}

int
xinf_cuda_graph_begin (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch, const xinf_kv_pool_t *pool,
                       char *error, size_t error_size)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (cuda->graphs_off) {
        snprintf (error, error_size, "CUDA graphs are off after an earlier failure");
        return -1;
    }
    if (!xinf_cuda_enter (cuda)) {
        snprintf (error, error_size, "the backend failed before the capture: %s", cuda->error);
        return -1;                    //  its error stays: the step fails with it
    }
    s_drop (&cuda->graphs [s_slot (bucket)]);
    if (s_prepare (cuda, batch) || s_put_batch (cuda, batch, pool)
    ||  xinf_cuda_check (cuda, cudaStreamBeginCapture (cuda->stream, cudaStreamCaptureModeThreadLocal),
                         "cudaStreamBeginCapture"))
        return s_graphs_off (cuda, "", error, error_size);
    memset (&cuda->recording, 0, sizeof cuda->recording);
    cuda->recording.bucket = bucket;
    cuda->recording.keys = (const float *) pool->keys;
    cuda->recording.n_blocks = pool->n_blocks;
    cuda->recording.block_tokens = pool->block_tokens;
    cuda->failed_once [0] = 0;
    cuda->capturing = true;
    return 0;
}

//  Launches a graph and makes its copies to the host; 0 or -1 (failed).
static int
s_launch (xinf_cuda_t *cuda, const xinf_cuda_graph_t *graph)
{
    if (xinf_cuda_check (cuda, cudaGraphLaunch (graph->exec, cuda->stream), "cudaGraphLaunch"))
        return -1;
    for (size_t index = 0; index < graph->n_outputs; index++) {
        const xinf_cuda_output_t *output = &graph->outputs [index];
        if (xinf_cuda_check (cuda, cudaMemcpyAsync (output->host, output->device, output->bytes,
                                                    cudaMemcpyDeviceToHost, cuda->stream), "graph (to host)"))
            return -1;
    }
    return xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "graph replay");
}

int
xinf_cuda_graph_end (xinf_backend_t *self, size_t bucket, bool keep, float *logits, char *error, size_t error_size)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    cudaSetDevice (cuda->device);
    cuda->capturing = false;
    cuda->handoff.ops++;              //  nothing handed on past the capture's end
    cudaGraph_t captured = NULL;
    cudaError_t ended = cudaStreamEndCapture (cuda->stream, &captured);
    xinf_cuda_graph_t graph = cuda->recording;
    memset (&cuda->recording, 0, sizeof cuda->recording);
    if (!keep || ended != cudaSuccess || !captured) {
        if (captured)
            cudaGraphDestroy (captured);
        if (!keep && !cuda->failed && ended == cudaSuccess) {
            //  A failure of this pass only (reported and cleared by status)
            //  that ended it, or the step's cancel
            if (cuda->failed_once [0])
                snprintf (error, error_size, "the capture failed: %s", cuda->failed_once);
            else
                snprintf (error, error_size, "the pass ended before its end (cancelled): nothing recorded");
            cuda->failed_once [0] = 0;
            return -1;                //  graphs stay on
        }
        return s_graphs_off (cuda, ended != cudaSuccess ? cudaGetErrorString (ended) : "the capture failed", error,
                             error_size);
    }
    cudaError_t made = cudaGraphInstantiate (&graph.exec, captured, 0);
    cudaGraphDestroy (captured);
    if (made != cudaSuccess) {
        graph.exec = NULL;
        return s_graphs_off (cuda, cudaGetErrorString (made), error, error_size);
    }
    for (int which = 0; which < XINF_CUDA_STAGES; which++)
        graph.stages [which] = cuda->stages [which].device;
    graph.bucket = bucket;
    graph.logits = logits;
    if (s_launch (cuda, &graph)) {
        s_drop (&graph);
        return s_graphs_off (cuda, "its first run failed", error, error_size);
    }
    cuda->graphs [s_slot (bucket)] = graph;
    return 0;
}

//  Whether a recorded graph still fits this replay: the same rows for
//  the logits, the same pool, the staging buffers where they were.
static bool
s_still_fits (const xinf_cuda_t *cuda, const xinf_cuda_graph_t *graph, const xinf_kv_pool_t *pool,
              const float *logits)
{
    if (graph->logits != logits || graph->keys != (const float *) pool->keys || graph->n_blocks != pool->n_blocks
    ||  graph->block_tokens != pool->block_tokens)
        return false;
    for (int which = 0; which < XINF_CUDA_STAGES; which++)
        if (graph->stages [which] != cuda->stages [which].device)
            return false;
    return true;
}

int
xinf_cuda_graph_replay (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch, const xinf_kv_pool_t *pool,
                        float *logits)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    xinf_cuda_graph_t *graph = &cuda->graphs [s_slot (bucket)];
    if (cuda->graphs_off || !graph->exec || graph->bucket != bucket)
        return 0;
    if (!xinf_cuda_enter (cuda))
        return -1;
    if (!s_still_fits (cuda, graph, pool, logits)) {
        s_drop (graph);
        return 0;
    }
    //  The ids go to the recorded embedding as they are: checked here, as
    //  xinf_cuda_embed checks them on an eager pass
    for (size_t i = 0; i < batch->n; i++)
        if (graph->token_rows && (batch->tokens [i] < 0 || (size_t) batch->tokens [i] >= graph->token_rows))
            return xinf_cuda_fail (cuda, "graph replay", "a token id outside the embedding table");
    if (s_put_batch (cuda, batch, pool))
        return -1;
    //  The uploads may have grown a stage (longer tables than planned for)
    if (!s_still_fits (cuda, graph, pool, logits)) {
        s_drop (graph);
        return 0;
    }
    return s_launch (cuda, graph) ? -1 : 1;
}
