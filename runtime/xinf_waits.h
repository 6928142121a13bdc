/*  xinf_waits: the wait registry, the heart of diagnosis (DESIGN.md).

    Every blocking wait anywhere (a launch step, a rendezvous, a collective,
    a request) is registered with what it waits for, on whom, since when, a
    progress counter and a stall deadline: a wait is stalled when its
    progress has not moved for 'stall_ms'. Slow progress is not a stall.

        uint64_t wait = xinf_wait_begin (waits, "loader", "load weights", "disk", 60000);
        ... xinf_wait_progress (waits, wait, bytes_read); ...
        xinf_wait_end (waits, wait);

    Thread-safe: compute threads register waits while the actor thread scans.
    A scan lists waits older than a threshold (they ride on heartbeats) and
    marks newly stalled ones so that each is reported once as WAIT_TIMEOUT.
*/
#ifndef XINF_WAITS_H_INCLUDED
#define XINF_WAITS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_value.h"

#define XINF_WAIT_TEXT_MAX 128

typedef struct _xinf_waits_t xinf_waits_t;

typedef struct {
    uint64_t id;
    char actor [XINF_WAIT_TEXT_MAX];     //  who waits
    char what [XINF_WAIT_TEXT_MAX];      //  for what: "PONG", "rendezvous rank 1"
    char peer [XINF_WAIT_TEXT_MAX];      //  on whom: node, rank, host:port
    int64_t started;                     //  monotonic ms
    int64_t last_progress;               //  monotonic ms of the last change
    uint64_t progress;
    int64_t stall_ms;                    //  no progress for this long = stalled
    bool stalled;                        //  as of the scan
    bool newly_stalled;                  //  first scan that saw it stalled
} xinf_wait_info_t;

xinf_waits_t *xinf_waits_new (void);
void xinf_waits_destroy (xinf_waits_t **self_p);

//  The process-wide registry (created on first use, lives until exit).
xinf_waits_t *xinf_waits_global (void);

//  Returns a handle (never 0). stall_ms must be > 0: there is no wait
//  without a deadline.
uint64_t xinf_wait_begin (xinf_waits_t *self, const char *actor, const char *what,
                          const char *peer, int64_t stall_ms);
//  Sets the progress counter; a change restarts the stall clock.
void xinf_wait_progress (xinf_waits_t *self, uint64_t handle, uint64_t progress);
void xinf_wait_end (xinf_waits_t *self, uint64_t handle);

size_t xinf_waits_count (xinf_waits_t *self);

//  Fills 'out' (up to 'max') with waits at least 'older_than_ms' old and
//  with stalled waits of any age, oldest first, and returns how many exist
//  in total. A stall is reported newly_stalled by exactly one scan: the
//  first that copies it out (snapshots do not consume it). 'now' is monotonic ms
//  (zclock_mono); pass the same clock used by begin.
size_t xinf_waits_scan (xinf_waits_t *self, int64_t now, int64_t older_than_ms,
                        xinf_wait_info_t *out, size_t max);

//  The same as an array of maps {id, actor, what, peer, age_ms,
//  progress, idle_ms, stall_ms, stalled} for heartbeats and replies.
xinf_value_t *xinf_waits_snapshot (xinf_waits_t *self, int64_t now, int64_t older_than_ms);

//  For tests: the clock the registry reads (default zclock_mono).
void xinf_waits_set_clock (xinf_waits_t *self, int64_t (*clock_fn) (void));

#endif
