/*  xinf_supervisor: the supervisor actor.  */
#include "xinf_supervisor.h"

typedef struct {
    char node_name [XINF_SENDER_MAX + 1];
    int64_t started;
} s_state_t;

struct _xinf_supervisor_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

static void
s_on_ping (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = (s_state_t *) xinf_ctx_state (ctx);
    xinf_actor_stats_t stats;
    xinf_ctx_stats (ctx, &stats);
    xinf_msg_t *pong = xinf_msg_new ("PONG");
    xinf_value_t *body = xinf_msg_body (pong);
    xinf_map_put_str (body, "actor", xinf_ctx_name (ctx));
    xinf_map_put_str (body, "node", state->node_name);
    xinf_map_put_str (body, "role", "supervisor");
    xinf_map_put_str (body, "version", XINF_VERSION_STRING);
    xinf_map_put_uint (body, "uptime_ms", (uint64_t) (zclock_mono () - state->started));
    xinf_map_put_uint (body, "received", stats.endpoint.received);
    xinf_map_put_uint (body, "bad_envelopes", stats.bad_envelopes);
    xinf_map_put_uint (body, "unknown_types", stats.unknown_types);
    for (size_t index = 0; index < xinf_msg_frame_count (msg); index++) {
        zframe_t *copy = zframe_dup (xinf_msg_frame (msg, index));
        xinf_msg_add_frame (pong, &copy);
    }
    xinf_ctx_reply (ctx, from, msg, &pong);
}

static const xinf_handler_t s_handlers [] = {
    { "PING", s_on_ping },
    { NULL, NULL }
};

xinf_supervisor_t *
xinf_supervisor_new (const char *node_name)
{
    xinf_supervisor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->state = calloc (1, sizeof (s_state_t));
    assert (self->state);
    snprintf (self->state->node_name, sizeof self->state->node_name, "%s", node_name);
    self->state->started = zclock_mono ();
    xinf_actor_spec_t spec = { "supervisor", s_handlers, NULL, NULL, self->state };
    self->actor = xinf_actor_new (&spec);
    if (!self->actor)
        xinf_supervisor_destroy (&self);
    return self;
}

void
xinf_supervisor_destroy (xinf_supervisor_t **self_p)
{
    if (self_p && *self_p) {
        xinf_supervisor_t *self = *self_p;
        xinf_actor_destroy (&self->actor);
        free (self->state);
        free (self);
        *self_p = NULL;
    }
}

int
xinf_supervisor_bind (xinf_supervisor_t *self, const char *endpoint, char *bound, size_t bound_size)
{
    return xinf_actor_bind (self->actor, endpoint, bound, bound_size);
}
