/*  xinf_beacon: where a forward step is, for a watchdog on another thread.

    The executor's thread marks each step's begin and end and, inside the
    transformer, each phase of each layer (its compute, its all-reduce);
    the replica's thread reads the beacon when a step runs past its
    deadline and names where it stopped: "rank 1 stuck in step 7, layer 3
    all-reduce attn_output, for 10.2 s". A GPU executor fills the same
    beacon around its graph replays and collectives.

    The beacon also carries the hang a test injects (XINF_FAULT_HANG, see
    xinf_beacon_set_fault): the thread that enters the named phase blocks
    there, like a stuck device call or collective, until the beacon is
    released (the executor's stop). It proves that the watchdog finds and
    names a hang without a GPU.
*/
#ifndef XINF_BEACON_H_INCLUDED
#define XINF_BEACON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    XINF_PHASE_IDLE,                  //  no step running
    XINF_PHASE_COMPUTE,               //  a layer's (or the logits') compute
    XINF_PHASE_COLLECTIVE,            //  a layer's all-reduce with the other ranks
    XINF_PHASE_SAMPLE,                //  sampling the step's rows
    XINF_PHASE_CAPTURE,               //  capturing a decode step's CUDA graph
    XINF_PHASE_REPLAY,                //  replaying a decode step's CUDA graph
    XINF_PHASES
} xinf_phase_t;

//  A snapshot of the beacon.
typedef struct {
    uint64_t step;                    //  steps begun; the running one while not idle
    xinf_phase_t phase;
    size_t layer;                     //  of compute and collective phases; of
                                      //  capture and replay: the batch bucket
    const char *what;                 //  a static name of the phase's work
    int64_t step_ms, phase_ms;        //  when the step and the phase began (monotonic ms)
} xinf_beacon_view_t;

typedef struct _xinf_beacon_t xinf_beacon_t;

#define XINF_BEACON_FAULTS 4

xinf_beacon_t *xinf_beacon_new (void);
//  The beacon must be released first if a thread may hang in it.
void xinf_beacon_destroy (xinf_beacon_t **self_p);

//  Arms injected hangs from their text form, up to XINF_BEACON_FAULTS of
//  them separated by ';', each
//      step=N,phase=compute|collective|sample|capture|replay[,layer=L][,fail=1]
//  (N >= 1; without layer, the phase's first entry in that step; for
//  capture and replay, layer is the batch bucket; fail=1: the step fails
//  there instead of hanging, xinf_beacon_take_failure); they replace the ones
//  armed before. 0, or -1 with the reason (nothing armed).
int xinf_beacon_set_fault (xinf_beacon_t *self, const char *spec, char *error, size_t error_size);

//  The executor's thread: a step begins (the next step number), a phase
//  begins, the step ends. Entering an armed phase blocks until released.
void xinf_beacon_step_begin (xinf_beacon_t *self);
void xinf_beacon_enter (xinf_beacon_t *self, xinf_phase_t phase, size_t layer, const char *what);
void xinf_beacon_step_end (xinf_beacon_t *self);

//  A point where an executor without CUDA graphs would capture or replay
//  one ('phase' XINF_PHASE_CAPTURE or _REPLAY, 'bucket' the batch's): it
//  changes nothing unless an injected hang names that phase and step,
//  then it enters the phase and hangs there like xinf_beacon_enter. It
//  lets the CPU backend test the watchdog's graph reports.
void xinf_beacon_point (xinf_beacon_t *self, xinf_phase_t phase, size_t bucket, const char *what);

//  Whether 'phase' is a CUDA graph's (capture, replay).
bool xinf_phase_is_graph (xinf_phase_t phase);

//  Whether an injected failure (fail=1) hit since the last call: the
//  executor then fails its step, as a device error would (STEP_FAILED).
bool xinf_beacon_take_failure (xinf_beacon_t *self);

//  Ends an injected hang, now and for every later entry.
void xinf_beacon_release (xinf_beacon_t *self);

//  Any thread.
xinf_beacon_view_t xinf_beacon_read (xinf_beacon_t *self);
//  "step 7, layer 3 all-reduce attn_output, for 10.2 s", "graph replay of
//  step 7 (batch bucket 4), for 10.2 s" ('now' in monotonic ms).
void xinf_beacon_describe (const xinf_beacon_view_t *view, int64_t now, char *text, size_t size);
const char *xinf_phase_name (xinf_phase_t phase);

#endif
