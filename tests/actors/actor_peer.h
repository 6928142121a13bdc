/*  actor_peer: fake peers for the in-process actor tests (tests/actors).

    A test starts the real actor in its own process, bound or connected on
    inproc://, and plays the actor's peers itself: a DEALER for a client,
    a worker or a worker agent (xinf_dealer_t), a ROUTER for a supervisor
    (xinf_router_t). Messages are built and read with the project's codec
    (xinf_msg.h, xinf_value.h, xinf_node_proto.h); garbage goes out as raw
    frames. Every wait here polls with a deadline and fails the test (with
    what did arrive) when it passes: never a fixed sleep.

    A fake worker must keep heartbeating while the test waits for other
    things: peer_keepalive registers it, and every wait of this module
    sends its HEARTBEAT when one is due.
*/
#ifndef ACTOR_PEER_H_INCLUDED
#define ACTOR_PEER_H_INCLUDED

#include "test_unit.h"
#include "xinf_node_proto.h"
#include "xinf_supervisor.h"

#define PEER_WAIT_MS  20000          //  generous: the machine may be loaded, ASan is slow

//  Body fields of a message, NULL / 0 when absent or of another type.
const char *peer_str (xinf_msg_t *msg, const char *key);
uint64_t peer_uint (xinf_msg_t *msg, const char *key);

//  Messages of 'type' are dropped by every receive here, like HEARTBEATs
//  (at most 4 types; e.g. MODEL_LOAD, a ready replica's KV figures).
void peer_ignore (const char *type);
//  The next message on 'dealer' that is not a HEARTBEAT within timeout_ms,
//  or NULL when none came (a bad envelope fails the test).
xinf_msg_t *peer_recv (xinf_dealer_t *dealer, int timeout_ms);
//  The next message of 'type' within PEER_WAIT_MS; other types that come
//  first are dropped (counted in *skipped when not NULL). Fails the test,
//  naming the types seen, when none comes.
xinf_msg_t *peer_expect (xinf_dealer_t *dealer, const char *type, size_t *skipped);
//  Sends 'request' with correlation id 'corr' and returns the first
//  answer carrying that corr (other messages are dropped).
xinf_msg_t *peer_ask (xinf_dealer_t *dealer, xinf_msg_t **request_p, uint64_t corr);
//  True when nothing but HEARTBEATs arrives within quiet_ms.
bool peer_silent (xinf_dealer_t *dealer, int quiet_ms);

//  Checks that 'reply' is ERROR 'code' whose message contains 'needle'.
void peer_check_error (xinf_msg_t *reply, const char *code, const char *needle);

//  Raw frames on a socket (garbage the codec would never build).
void peer_send_raw (zsock_t *sock, const void *frame0, size_t size0, const void *frame1, size_t size1);
//  A XINF envelope of 'type' whose body is the msgpack bytes given.
void peer_send_body (zsock_t *sock, const char *type, uint64_t corr, const void *body, size_t size);

//  A fake worker's registration: a HELLO as xinf-node's worker would send
//  (memory 8 GiB available, one CPU device, heartbeat and liveness given).
//  A supervisor actor ("sup") bound at 'endpoint' (inproc://...).
xinf_supervisor_t *peer_supervisor (const char *endpoint, int64_t heartbeat_ms, int liveness);

xinf_msg_t *peer_hello (const char *node, uint64_t pid, uint64_t heartbeat_ms, uint64_t liveness);
//  The fields of that HELLO (owned values: xinf_hello_clear), to change
//  some before xinf_hello_encode.
xinf_hello_t peer_hello_fields (const char *node, uint64_t pid, uint64_t heartbeat_ms, uint64_t liveness);
//  Keeps 'dealer' (a worker named 'node') heartbeating every interval_ms
//  while the test waits in this module (at most 8 at once).
void peer_keepalive (xinf_dealer_t *dealer, const char *node, int64_t interval_ms);
//  Stops it (a NULL dealer: all of them).
void peer_keepalive_stop (xinf_dealer_t *dealer);
//  A fake worker answers the next PROBE_MESH: every target 'status' (ok,
//  or a fake refusal).
void peer_answer_probe (xinf_dealer_t *worker, const char *node, const char *status);
//  A fake worker: a dealer on 'endpoint' that sent 'hello' (cleared) as
//  request 'corr', got WELCOME, and heartbeats every 66 ms.
xinf_dealer_t *peer_register (const char *endpoint, xinf_hello_t *hello, uint64_t corr);

//  The ROUTER side (a fake supervisor): the next message that is not a
//  HEARTBEAT within timeout_ms (NULL if none), its sender's routing id in
//  'peer_id'.
xinf_msg_t *peer_router_recv (xinf_router_t *router, int timeout_ms, char *peer_id, size_t peer_id_size);
//  The next message of 'type' within PEER_WAIT_MS from any peer (others
//  dropped), with the sender's routing id in 'peer_id'.
xinf_msg_t *peer_router_expect (xinf_router_t *router, const char *type, char *peer_id, size_t peer_id_size);
//  Sends to a peer by its routing id; fails the test when it cannot.
void peer_router_send (xinf_router_t *router, const char *peer_id, xinf_msg_t **msg_p);

//  A scratch directory (mkdtemp) and its removal.
void peer_scratch (char *dir, size_t size);
void peer_scratch_remove (const char *dir);
//  Writes a tiny model (xinf-make-model --preset tiny, a context of 4096
//  so that a long request runs for a while) as DIR/NAME.
void peer_make_model (const char *make_model, const char *dir, const char *name, char *path, size_t size);
//  Greedy generation with the model API (one sequence, no batching): up to
//  'max' tokens after 'prompt', stopping after an end token. Returns the
//  count written to 'out'.
size_t peer_greedy (const char *model_path, const int32_t *prompt, size_t prompt_count, size_t max, int32_t *out);

#endif
