/*  xinf_rank: an executor's membership in a tensor-parallel group.  */
#include "xinf_rank.h"
#include "xinf_coll_agree.h"
#include "xinf_coll_zmq.h"
#if defined (XINF_HAVE_NCCL)
#include "xinf_coll_nccl.h"
#endif

#include <pthread.h>
#include <stdatomic.h>


struct _xinf_rank_t {
    char name [XINF_SENDER_MAX + 1];
    int rank, size;
    int64_t stall_ms;
    xinf_collective_hooks_t hooks;
    xinf_collective_t *group;         //  the CPU mesh: rendezvous, step commands, host all-reduces
    xinf_collective_t *nccl;          //  a GPU rank's all-reduces (on the mesh), or NULL
    pthread_mutex_t lock;             //  guards 'nccl' against abort from another thread
    atomic_bool aborted;
    char **endpoints, **nodes;        //  [size], once GROUP came
    uint8_t *buffer;                  //  step commands
    size_t buffer_size;
};

static uint64_t
s_wait_begin (void *arg, const char *what, const char *peer, int64_t stall_ms)
{
    xinf_rank_t *self = (xinf_rank_t *) arg;
    return xinf_wait_begin (xinf_waits_global (), self->name, what, peer, stall_ms > 0 ? stall_ms : 1);
}

static void
s_wait_progress (void *arg, uint64_t handle, uint64_t progress)
{
    xinf_wait_progress (xinf_waits_global (), handle, progress);
}

static void
s_wait_end (void *arg, uint64_t handle)
{
    xinf_wait_end (xinf_waits_global (), handle);
}

static void
s_log (void *arg, const char *text)
{
    xinf_warn (((xinf_rank_t *) arg)->name, "collective: %s", text);
}

//  Keys on: the collective's ROUTER is a CURVE server by this worker's
//  key, and it dials only endpoints whose key the supervisor vouched for.
static int
s_secure (void *arg, void *socket, const char *endpoint, char *reason, size_t reason_size)
{
    return xinf_auth_secure_data (socket, endpoint, reason, reason_size);
}

xinf_rank_t *
xinf_rank_new (const char *name, const char *group, int rank, int size, const char *host,
               int port_low, int port_high, int64_t stall_ms, char *error, size_t error_size)
{
    xinf_rank_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->name, sizeof self->name, "%s", name);
    self->rank = rank;
    self->size = size;
    self->stall_ms = stall_ms;
    pthread_mutex_init (&self->lock, NULL);
    xinf_collective_hooks_t hooks = { s_wait_begin, s_wait_progress, s_wait_end, s_log, self, s_secure };
    self->hooks = hooks;
    char bind_host [80];
    snprintf (bind_host, sizeof bind_host, host && strchr (host, ':') ? "[%s]" : "%s", host && *host ? host : "*");
    self->group = xinf_coll_zmq_new (zsys_init (), group, rank, size, bind_host, port_low, port_high, stall_ms, &hooks,
                                     error, error_size);
    if (!self->group && !streq (bind_host, "*")) {
        xinf_info (name, "collective: cannot bind %s (%s; NAT, an address not of this machine?): binding all",
                   bind_host, error);
        self->group = xinf_coll_zmq_new (zsys_init (), group, rank, size, "*", port_low, port_high, stall_ms, &hooks,
                                         error, error_size);
    }
    if (!self->group) {
        pthread_mutex_destroy (&self->lock);
        free (self);
        return NULL;
    }
    return self;
}

static void
s_free_strings (char ***strings_p, int count)
{
    if (*strings_p) {
        for (int index = 0; index < count; index++)
            free ((*strings_p) [index]);
        free (*strings_p);
        *strings_p = NULL;
    }
}

void
xinf_rank_destroy (xinf_rank_t **self_p)
{
    if (self_p && *self_p) {
        xinf_rank_t *self = *self_p;
        xinf_collective_destroy (&self->nccl);         //  it stands on the mesh
        xinf_collective_destroy (&self->group);
        pthread_mutex_destroy (&self->lock);
        s_free_strings (&self->endpoints, self->size);
        s_free_strings (&self->nodes, self->size);
        free (self->buffer);
        free (self);
        *self_p = NULL;
    }
}

int xinf_rank_port (xinf_rank_t *self) { return xinf_coll_zmq_port (self->group); }
int xinf_rank_index (xinf_rank_t *self) { return self->rank; }
xinf_collective_t *xinf_rank_collective (xinf_rank_t *self) { return self->nccl ? self->nccl : self->group; }
void *xinf_rank_socket (xinf_rank_t *self) { return xinf_coll_zmq_socket (self->group); }

static char **
s_strings (const xinf_value_t *array, int count)
{
    char **strings = calloc ((size_t) count, sizeof (char *));
    assert (strings);
    for (int index = 0; index < count; index++) {
        const char *text = xinf_value_str (xinf_array_at (array, (size_t) index));
        strings [index] = strdup (text ? text : "");
    }
    return strings;
}

void
xinf_rank_set_peers (xinf_rank_t *self, const xinf_value_t *endpoints, const xinf_value_t *nodes)
{
    s_free_strings (&self->endpoints, self->size);
    s_free_strings (&self->nodes, self->size);
    self->endpoints = s_strings (endpoints, self->size);
    self->nodes = s_strings (nodes, self->size);
}

int
xinf_rank_join (xinf_rank_t *self, int64_t timeout_ms, char *error, size_t error_size)
{
    if (!self->endpoints) {
        snprintf (error, error_size, "rendezvous: no endpoints from the supervisor");
        return -1;
    }
    return xinf_coll_zmq_join (self->group, (const char *const *) self->endpoints,
                               (const char *const *) self->nodes, timeout_ms, error, error_size);
}

int
xinf_rank_setup (xinf_rank_t *self, int cuda_device, char *error, size_t error_size)
{
    if (xinf_coll_agree_device (self->group, cuda_device >= 0, error, error_size))
        return -1;
    if (cuda_device < 0)
        return 0;
#if defined (XINF_HAVE_NCCL)
    //  An abort meanwhile fails the id exchange (the mesh) or the init wait (the flag)
    xinf_collective_t *nccl = xinf_coll_nccl_new (self->group, cuda_device, self->stall_ms, &self->hooks,
                                                  &self->aborted, error, error_size);
    if (!nccl)
        return -1;
    pthread_mutex_lock (&self->lock);
    self->nccl = nccl;
    if (atomic_load (&self->aborted))
        xinf_collective_abort (nccl);
    pthread_mutex_unlock (&self->lock);
    xinf_info (self->name, "rank %d of %d: all-reduces over NCCL on cuda:%d", self->rank, self->size, cuda_device);
    return 0;
#else
    snprintf (error, error_size, "rank %d on cuda:%d: tensor parallelism on GPUs needs NCCL, and this build has "
              "none (nccl.h or libnccl was not found when it was built)", self->rank, cuda_device);
    return -1;
#endif
}

void
xinf_rank_abort (xinf_rank_t *self)
{
    if (atomic_exchange (&self->aborted, true))
        return;
    xinf_collective_abort (self->group);
    pthread_mutex_lock (&self->lock);
    if (self->nccl)
        xinf_collective_abort (self->nccl);
    pthread_mutex_unlock (&self->lock);
}

static int
s_reserve (xinf_rank_t *self, size_t size, char *error, size_t error_size)
{
    if (size <= self->buffer_size)
        return 0;
    uint8_t *buffer = realloc (self->buffer, size);
    if (!buffer) {
        snprintf (error, error_size, "out of memory for a step of %zu bytes", size);
        return -1;
    }
    self->buffer = buffer;
    self->buffer_size = size;
    return 0;
}

int
xinf_rank_send_step (xinf_rank_t *self, const void *step, size_t bytes, char *error, size_t error_size)
{
    if (s_reserve (self, bytes, error, error_size))
        return -1;
    memcpy (self->buffer, step, bytes);
    return xinf_collective_broadcast (self->group, self->buffer, &bytes, bytes, 0, error, error_size);
}

bool
xinf_rank_step_ready (xinf_rank_t *self)
{
    return !atomic_load (&self->aborted) && xinf_collective_ready (self->group, 0);
}

int
xinf_rank_recv_step (xinf_rank_t *self, size_t capacity, const void **step, size_t *bytes,
                     char *error, size_t error_size)
{
    *bytes = 0;
    if (s_reserve (self, capacity, error, error_size)
    ||  xinf_collective_broadcast (self->group, self->buffer, bytes, capacity, 0, error, error_size))
        return -1;
    *step = self->buffer;
    return 0;
}
