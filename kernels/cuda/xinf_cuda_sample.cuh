/*  xinf_cuda_sample.cuh: the algorithm of the CUDA backend's sample op,
    written once for the device (one block of threads a logits row) and
    the host (one thread, the block's barriers doing nothing; or host
    threads that meet at a pthread barrier where the block's threads meet
    and add with atomics as they do), so that tests without a GPU run the
    very search the kernel runs, and its concurrency
    (xinf_cuda_sample_on_host, xinf_cuda_sample_on_host_threads). Private
    to kernels/cuda, included by xinf_cuda_sample.cu only.

    It picks the token the CPU sampler (kernels/cpu/xinf_sampler.c) picks
    for the same logits, parameters and uniform draw:
      - greedy (temperature 0, top_k 1, or an infinite top logit): the
        first index of the largest logit, NaN counting as -inf;
      - no filter (top_k 0 or >= vocab, top_p 1): the first token in
        index order whose cumulative weight passes u x total;
      - top_k and/or top_p: candidates ranked by logit, ties by lower
        index; the top_k best (if set), then the fewest best whose mass
        reaches top_p of theirs; the first in rank order whose cumulative
        weight passes u x their mass.
    Weights are the sampler's: exp ((logit - max) / temperature) by the
    sampler's own exp, in IEEE double without contraction (so the same
    doubles as the CPU's). They are then summed as 64-bit fixed point
    (weight x 2^shift, shift = 62 - ceil (log2 (vocab)), so no sum
    overflows): integer sums do not depend on the order of the additions,
    so the block's atomics give the same result on every run. Where the
    CPU sums doubles, the sums differ in their last bits: the two pick
    different tokens only when u x total lies within that rounding of a
    boundary between two tokens' cumulative weights (probability ~1e-12).

    Ranked selections never sort: a radix search over the 32-bit keys of
    the logits (ordered like the floats) finds, 8 bits a pass, the key
    of the token at which the rank-ordered cumulative count or mass
    crosses a target, from histograms of the tokens under the prefix
    found so far; ties of that key are resolved by index in one more pass.
*/
#ifndef XINF_CUDA_SAMPLE_CUH_INCLUDED
#define XINF_CUDA_SAMPLE_CUH_INCLUDED

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define XINF_SAMPLE_THREADS 256       //  threads of a row's block
#define XINF_SAMPLE_BINS    256       //  8 bits of a key a pass
#define XINF_SAMPLE_WARPS   (XINF_SAMPLE_THREADS / 32)

typedef unsigned long long xs_u64;

//  One row's sampling as the kernel reads it.
typedef struct {
    float temperature, top_p;
    uint32_t top_k, reserved;
    double uniform;
} xinf_cuda_sample_row_t;

//  Every function is compiled for both; inside, the device pass
//  (__CUDA_ARCH__) takes the block's barriers, atomics and the rounded
//  double operations that nvcc does not contract into FMAs. On the host
//  a block is one thread, or host threads that meet at a barrier of
//  their own (xs_ctx_t.barrier) and add with atomics, as a block does.
#define XS_FN static __host__ __device__
#if defined (__CUDA_ARCH__)
#   define XS_SYNC()       __syncthreads ()
#   define XS_ATOMIC_ADD(at, value) atomicAdd ((at), (value))
#   define XS_MUL(a, b)    __dmul_rn ((a), (b))
#   define XS_ADD(a, b)    __dadd_rn ((a), (b))
#   define XS_SUB(a, b)    __dsub_rn ((a), (b))
#else
#   define XS_SYNC()       xs_host_sync (c)
#   define XS_ATOMIC_ADD(at, value) __atomic_fetch_add ((at), (value), __ATOMIC_RELAXED)
#   define XS_MUL(a, b)    ((a) * (b))
#   define XS_ADD(a, b)    ((a) + (b))
#   define XS_SUB(a, b)    ((a) - (b))
#endif

//  What a row's threads share.
typedef struct {
    unsigned count [XINF_SAMPLE_WARPS][XINF_SAMPLE_BINS];   //  a histogram a warp, added into the first
    xs_u64 mass [XINF_SAMPLE_WARPS][XINF_SAMPLE_BINS];
    xs_u64 part [XINF_SAMPLE_THREADS];      //  each thread's partial sum, then its offset
    float best_logit [XINF_SAMPLE_THREADS];
    unsigned best_index [XINF_SAMPLE_THREADS];
    int digit;                              //  a pass's chosen digit, -1: none crosses
    unsigned group;                         //  tokens under that digit
    xs_u64 above_count, above_mass;         //  ranked before that digit's tokens
    xs_u64 value;                           //  a broadcast result
    unsigned index;                         //  a broadcast token (vocab: none)
} xs_shared_t;

//  One row's work as one thread sees it.
typedef struct {
    const float *row;
    unsigned vocab, tid, threads;
    int shift;                              //  weights in units of 2^-shift
    float top;                              //  the largest logit
    double temperature;
    xs_shared_t *shared;
    void *barrier;                          //  host threads: their pthread_barrier_t (NULL: one thread, or the device)
} xs_ctx_t;

#if !defined (__CUDA_ARCH__)
//  The host's __syncthreads: the row's threads meet (nothing for one).
//  XS_SYNC () takes the row's context from the name 'c' where it is used.
static inline void
xs_host_sync (const xs_ctx_t *c)
{
    if (c->barrier)
        pthread_barrier_wait ((pthread_barrier_t *) c->barrier);
}
#endif

//  A token found by a ranked search.
typedef struct {
    int found;
    unsigned key, index;
    xs_u64 before_count, before_mass;       //  of the tokens ranked before it
    xs_u64 weight;                          //  its own
} xs_pick_t;

typedef enum {
    XS_BY_COUNT,                            //  the target-th token in rank order
    XS_BY_REACH,                            //  the first whose cumulative mass >= target
    XS_BY_PASS                              //  the first whose cumulative mass > target
} xs_mode_t;

//  The logit as the sampler ranks it: NaN as -inf, -0 as +0 (they tie).
XS_FN float
xs_logit (const xs_ctx_t *c, unsigned index)
{
    float x = c->row [index];
    return x != x ? -INFINITY : x == 0 ? 0.0f : x;
}

//  The logits of places i, i + threads, ... (XS_AHEAD of them; -inf past
//  the row), loaded before any is used: a pass over the row that loaded
//  one logit at a time waited a memory latency for each (the compiler
//  did not unroll those loops), about 500 of them for a 128k vocabulary.
#define XS_AHEAD 8

XS_FN void
xs_logits_ahead (const xs_ctx_t *c, unsigned i, float *x)
{
#if defined (__CUDA_ARCH__)
#pragma unroll
#endif
    for (int k = 0; k < XS_AHEAD; k++) {
        xs_u64 at = (xs_u64) i + (xs_u64) k * c->threads;
        x [k] = at < c->vocab ? xs_logit (c, (unsigned) at) : -INFINITY;
    }
}

//  An unsigned key ordered as the floats are.
XS_FN unsigned
xs_key (float x)
{
    uint32_t bits;
    memcpy (&bits, &x, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

XS_FN float
xs_unkey (unsigned key)
{
    uint32_t bits = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
    float x;
    memcpy (&x, &bits, sizeof x);
    return x;
}

//  The sampler's e^x for x <= 0 (xinf_sampler.c: s_exp), step by step.
XS_FN double
xs_exp (double x)
{
    if (!(x > -745.0))
        return 0;
    const double inverse_factorial [13] = {
        1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
        1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600
    };
    double k = floor (XS_ADD (XS_MUL (x, 1.4426950408889634), 0.5));
    double r = XS_SUB (XS_SUB (x, XS_MUL (k, 6.93147180369123816490e-01)), XS_MUL (k, 1.90821492927058770002e-10));
    double sum = inverse_factorial [12];
    for (int n = 11; n >= 0; n--)
        sum = XS_ADD (XS_MUL (sum, r), inverse_factorial [n]);
    return ldexp (sum, (int) k);
}

//  A logit's weight in fixed point.
XS_FN xs_u64
xs_weight (const xs_ctx_t *c, float x)
{
    double w = xs_exp (XS_SUB ((double) x, (double) c->top) / c->temperature);
    return (xs_u64) ldexp (w, c->shift);
}

//  a ranks after b (lower key, or the same key and a higher index).
XS_FN int
xs_after (const xs_pick_t *a, const xs_pick_t *b)
{
    return a->key < b->key || (a->key == b->key && a->index > b->index);
}

//  The first index of the largest logit (NaN as -inf); its logit in *top.
XS_FN unsigned
xs_argmax (xs_ctx_t *c, float *top)
{
    xs_shared_t *sh = c->shared;
    float best = -INFINITY;
    unsigned index = c->vocab;
    for (unsigned i = c->tid; i < c->vocab; i += XS_AHEAD * c->threads) {
        float x [XS_AHEAD];
        xs_logits_ahead (c, i, x);
        for (int k = 0; k < XS_AHEAD; k++) {
            unsigned at = i + (unsigned) k * c->threads;
            if (at < c->vocab && (x [k] > best || (x [k] == best && at < index))) {
                best = x [k];
                index = at;
            }
        }
    }
    sh->best_logit [c->tid] = best;
    sh->best_index [c->tid] = index;
    XS_SYNC ();
    //  A tree of pairs (the larger, or on a tie the lower index: the same
    //  winner whatever the pairing), a barrier a level
    for (unsigned stride = 1; stride < c->threads; stride *= 2) {
        unsigned other = c->tid + stride;
        if (c->tid % (2 * stride) == 0 && other < c->threads
        &&  (sh->best_logit [other] > sh->best_logit [c->tid]
             || (sh->best_logit [other] == sh->best_logit [c->tid] && sh->best_index [other] < sh->best_index [c->tid]))) {
            sh->best_logit [c->tid] = sh->best_logit [other];
            sh->best_index [c->tid] = sh->best_index [other];
        }
        XS_SYNC ();
    }
    *top = sh->best_logit [0];
    index = sh->best_index [0];
    XS_SYNC ();
    return index;
}

//  The threads' partial sums into offsets (an exclusive scan) and their
//  total into 'value': a scan in steps of 1, 2, 4, ... threads apart, a
//  barrier each (thread 0 walking all 256 took as long as a pass). Integer
//  sums: the offsets of a walk.
XS_FN void
xs_scan_parts (xs_ctx_t *c)
{
    xs_shared_t *sh = c->shared;
    XS_SYNC ();
    xs_u64 mine = sh->part [c->tid];
    for (unsigned stride = 1; stride < c->threads; stride *= 2) {
        xs_u64 add = c->tid >= stride ? sh->part [c->tid - stride] : 0;
        XS_SYNC ();
        sh->part [c->tid] += add;
        XS_SYNC ();
    }
    xs_u64 through = sh->part [c->tid];
    if (c->tid == c->threads - 1)
        sh->value = through;
    sh->part [c->tid] = through - mine;
    XS_SYNC ();
}

//  This thread's contiguous slice of the vocabulary.
XS_FN void
xs_slice (const xs_ctx_t *c, unsigned *low, unsigned *high)
{
    unsigned chunk = (c->vocab + c->threads - 1) / c->threads;
    xs_u64 start = (xs_u64) c->tid * chunk, end = start + chunk;
    *low = start < c->vocab ? (unsigned) start : c->vocab;
    *high = end < c->vocab ? (unsigned) end : c->vocab;
}

//  The weights of the whole row.
XS_FN xs_u64
xs_total (xs_ctx_t *c)
{
    xs_u64 sum = 0;
    for (unsigned i = c->tid; i < c->vocab; i += XS_AHEAD * c->threads) {
        float x [XS_AHEAD];
        xs_logits_ahead (c, i, x);
        for (int k = 0; k < XS_AHEAD; k++)
            sum += xs_weight (c, x [k]);          //  past the row: -inf, weight 0
    }
    c->shared->part [c->tid] = sum;
    xs_scan_parts (c);
    xs_u64 total = c->shared->value;
    XS_SYNC ();
    return total;
}

//  The draw point u x total in fixed point, below total.
XS_FN xs_u64
xs_point (double uniform, xs_u64 total)
{
    if (total == 0)
        return 0;
    double point = uniform * (double) total;
    xs_u64 fixed = point > 0 ? (xs_u64) point : 0;
    return fixed < total ? fixed : total - 1;
}

//  The first token in index order whose cumulative weight passes 'point';
//  vocab when none does.
XS_FN unsigned
xs_draw_index (xs_ctx_t *c, xs_u64 point)
{
    xs_shared_t *sh = c->shared;
    unsigned low, high;
    xs_slice (c, &low, &high);
    xs_u64 sum = 0;
    for (unsigned i = low; i < high; i++)
        sum += xs_weight (c, xs_logit (c, i));
    sh->part [c->tid] = sum;
    if (c->tid == 0)
        sh->index = c->vocab;
    xs_scan_parts (c);
    xs_u64 offset = sh->part [c->tid];
    //  The slices partition [0, total): one thread holds the point
    if (offset <= point && point < offset + sum) {
        xs_u64 running = offset;
        for (unsigned i = low; i < high; i++) {
            running += xs_weight (c, xs_logit (c, i));
            if (point < running) {
                sh->index = i;
                break;
            }
        }
    }
    XS_SYNC ();
    unsigned index = sh->index;
    XS_SYNC ();
    return index;
}

XS_FN int
xs_crosses (xs_mode_t mode, xs_u64 count, xs_u64 mass, xs_u64 target)
{
    return mode == XS_BY_COUNT ? count >= target : mode == XS_BY_REACH ? mass >= target : mass > target;
}

//  The 'nth' (from 1) lowest index whose key is 'key'; vocab if none.
XS_FN unsigned
xs_nth_of_key (xs_ctx_t *c, unsigned key, xs_u64 nth)
{
    xs_shared_t *sh = c->shared;
    unsigned low, high;
    xs_slice (c, &low, &high);
    xs_u64 matches = 0;
    for (unsigned i = low; i < high; i++)
        matches += xs_key (xs_logit (c, i)) == key;
    sh->part [c->tid] = matches;
    if (c->tid == 0)
        sh->index = c->vocab;
    xs_scan_parts (c);
    xs_u64 offset = sh->part [c->tid];
    if (offset < nth && nth <= offset + matches) {
        xs_u64 seen = offset;
        for (unsigned i = low; i < high; i++)
            if (xs_key (xs_logit (c, i)) == key && ++seen == nth) {
                sh->index = i;
                break;
            }
    }
    XS_SYNC ();
    unsigned index = sh->index;
    XS_SYNC ();
    return index;
}

//  One pass of the radix search: the histogram of the next 8 bits of the
//  keys under 'prefix' (the bits of 'mask'), then thread 0 walks it from
//  the highest digit and keeps the first that crosses the target. Each
//  warp counts into a histogram of its own (a row's logits crowd a few
//  digits: one histogram for the block made every warp's atomics wait on
//  the same few words), then they are added up: integer sums, so the
//  order of the additions changes nothing.
XS_FN void
xs_radix_pass (xs_ctx_t *c, xs_mode_t mode, xs_u64 target, unsigned prefix, unsigned mask, int shift)
{
    xs_shared_t *sh = c->shared;
    unsigned warp = c->tid / 32, warps = (c->threads + 31) / 32;
    for (unsigned b = c->tid; b < warps * XINF_SAMPLE_BINS; b += c->threads) {
        sh->count [b / XINF_SAMPLE_BINS][b % XINF_SAMPLE_BINS] = 0;
        sh->mass [b / XINF_SAMPLE_BINS][b % XINF_SAMPLE_BINS] = 0;
    }
    XS_SYNC ();
    for (unsigned i = c->tid; i < c->vocab; i += XS_AHEAD * c->threads) {
        float x [XS_AHEAD];
        xs_logits_ahead (c, i, x);
        for (int k = 0; k < XS_AHEAD; k++) {
            unsigned key = xs_key (x [k]);
            if (i + (unsigned) k * c->threads < c->vocab && (key & mask) == prefix) {
                unsigned digit = (key >> shift) & 0xffu;
                XS_ATOMIC_ADD (&sh->count [warp][digit], 1u);
                XS_ATOMIC_ADD (&sh->mass [warp][digit], xs_weight (c, x [k]));
            }
        }
    }
    XS_SYNC ();
    for (unsigned b = c->tid; b < XINF_SAMPLE_BINS; b += c->threads)
        for (unsigned w = 1; w < warps; w++) {
            sh->count [0][b] += sh->count [w][b];
            sh->mass [0][b] += sh->mass [w][b];
        }
    XS_SYNC ();
    if (c->tid == 0) {
        xs_u64 above_count = sh->above_count, above_mass = sh->above_mass;
        int chosen = -1;
        for (int digit = XINF_SAMPLE_BINS - 1; digit >= 0 && chosen < 0; digit--) {
            if (!sh->count [0][digit])
                continue;
            xs_u64 count = above_count + sh->count [0][digit], mass = above_mass + sh->mass [0][digit];
            if (xs_crosses (mode, count, mass, target)) {
                chosen = digit;
                sh->group = sh->count [0][digit];
            }
            else {
                above_count = count;
                above_mass = mass;
            }
        }
        sh->digit = chosen;
        sh->above_count = above_count;
        sh->above_mass = above_mass;
    }
    XS_SYNC ();
}

//  The token at which the rank-ordered cumulative count or mass first
//  crosses 'target' (found 0: none does).
XS_FN xs_pick_t
xs_search (xs_ctx_t *c, xs_mode_t mode, xs_u64 target)
{
    xs_shared_t *sh = c->shared;
    xs_pick_t pick;
    memset (&pick, 0, sizeof pick);
    if (c->tid == 0)
        sh->above_count = sh->above_mass = 0;
    unsigned prefix = 0, mask = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        xs_radix_pass (c, mode, target, prefix, mask, shift);
        int digit = sh->digit;
        if (digit < 0) {
            XS_SYNC ();
            return pick;
        }
        prefix |= (unsigned) digit << shift;
        mask |= 0xffu << shift;
    }
    xs_u64 above_count = sh->above_count, above_mass = sh->above_mass, group = sh->group;
    XS_SYNC ();
    //  The tokens of key 'prefix' tie: the m-th of them by index crosses
    xs_u64 weight = xs_weight (c, xs_unkey (prefix)), m = 1;
    if (mode == XS_BY_COUNT)
        m = target - above_count;
    else
    if (weight && mode == XS_BY_REACH && target > above_mass)
        m = (target - above_mass + weight - 1) / weight;
    else
    if (weight && mode == XS_BY_PASS)
        m = (target - above_mass) / weight + 1;
    m = m < 1 ? 1 : m > group ? group : m;
    pick.index = xs_nth_of_key (c, prefix, m);
    pick.found = pick.index < c->vocab;
    pick.key = prefix;
    pick.before_count = above_count + m - 1;
    pick.before_mass = above_mass + (m - 1) * weight;
    pick.weight = weight;
    return pick;
}

//  One row's token (every thread of the block calls it, with the same
//  row; every branch below depends on shared values only).
XS_FN int32_t
xs_sample_row (xs_ctx_t *c, const xinf_cuda_sample_row_t *params)
{
    float top;
    unsigned best = xs_argmax (c, &top);
    if (params->temperature == 0 || fabsf (top) == INFINITY || params->top_k == 1)
        return (int32_t) best;
    c->top = top;
    c->temperature = params->temperature;
    int use_k = params->top_k != 0 && params->top_k < c->vocab;
    if (!use_k && params->top_p >= 1) {
        unsigned token = xs_draw_index (c, xs_point (params->uniform, xs_total (c)));
        return (int32_t) (token < c->vocab ? token : best);
    }
    xs_pick_t limit, cut;
    memset (&limit, 0, sizeof limit);
    xs_u64 total;
    if (use_k) {
        limit = xs_search (c, XS_BY_COUNT, params->top_k);
        if (!limit.found)
            return (int32_t) best;
        total = limit.before_mass + limit.weight;
    }
    else
        total = xs_total (c);
    cut = limit;
    if (params->top_p < 1) {
        double share = (double) params->top_p * (double) total;
        xs_u64 target = (xs_u64) ceil (share);
        xs_pick_t reach = xs_search (c, XS_BY_REACH, target < total ? target : total);
        if (reach.found && !(use_k && xs_after (&reach, &limit)))
            cut = reach;
        else
        if (!use_k)
            return (int32_t) best;
    }
    xs_u64 kept = cut.before_mass + cut.weight;
    xs_pick_t pick = xs_search (c, XS_BY_PASS, xs_point (params->uniform, kept));
    if (!pick.found || xs_after (&pick, &cut))
        pick = cut;
    return (int32_t) pick.index;
}

//  Weights in units of 2^-shift: vocab weights of at most 1 sum below 2^62.
XS_FN int
xs_shift (unsigned vocab)
{
    int bits = 0;
    while (bits < 32 && (1ull << bits) < vocab)
        bits++;
    return 62 - bits;
}

#endif
