/*  xinf_encoder: a replica's long prompts made into requests on a thread
    of their own (see xinf_encoder.h).  */
#include "xinf_encoder.h"
#include "xinf_tsan.h"

#include <stdatomic.h>

typedef struct {
    uint64_t id, corr;
    xinf_value_t *body;               //  the RUN's, until the thread made the request
    xinf_request_t *request;
    const char *code;
    char reason [512];
    bool cancelled;                   //  the owner's mark (the thread never reads it)
} s_job_t;

struct _xinf_encoder_t {
    zactor_t *actor;
    xinf_tokenizer_t *tokenizer;
    size_t vocab, context;
    zlistx_t *jobs;                   //  s_job_t, handed over and not taken back
    atomic_bool stopping;
};

static void
s_job_free (s_job_t **job_p)
{
    if (*job_p) {
        xinf_value_destroy (&(*job_p)->body);
        xinf_request_destroy (&(*job_p)->request);
        free (*job_p);
        *job_p = NULL;
    }
}

static void
s_encode (xinf_encoder_t *self, s_job_t *job)
{
    xinf_check_t check = XINF_CHECK_INIT;
    job->code = "BAD_REQUEST";
    job->request = xinf_request_new (job->body, self->tokenizer, self->vocab, self->context, NULL, &check,
                                    &job->code);
    if (!job->request)
        snprintf (job->reason, sizeof job->reason, "%s", check.reason);
    xinf_value_destroy (&job->body);
}

//  The thread: a job's pointer in, the same pointer back once it is done.
static void
s_encoder_main (zsock_t *pipe, void *arg)
{
    xinf_encoder_t *self = (xinf_encoder_t *) arg;
    xinf_tsan_acquire (self);
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *frames = zmsg_recv (pipe);
        zframe_t *first = frames ? zmsg_first (frames) : NULL;
        if (!first || zframe_streq (first, "$TERM")) {
            zmsg_destroy (&frames);
            break;
        }
        s_job_t *job = NULL;
        if (zframe_size (first) == sizeof job)
            memcpy (&job, zframe_data (first), sizeof job);
        zmsg_destroy (&frames);
        if (!job)
            continue;
        xinf_tsan_acquire (job);
        if (!atomic_load (&self->stopping))
            s_encode (self, job);
        xinf_tsan_release (job);
        zsock_send (pipe, "b", &job, sizeof job);
    }
}

xinf_encoder_t *
xinf_encoder_new (xinf_tokenizer_t *tokenizer, size_t vocab, size_t context)
{
    xinf_encoder_t *self = calloc (1, sizeof *self);
    assert (self);
    self->tokenizer = tokenizer;
    self->vocab = vocab;
    self->context = context;
    self->jobs = zlistx_new ();
    atomic_init (&self->stopping, false);
    xinf_tsan_release (self);
    self->actor = zactor_new (s_encoder_main, self);
    if (!self->actor)
        xinf_encoder_destroy (&self);
    return self;
}

void
xinf_encoder_destroy (xinf_encoder_t **self_p)
{
    if (self_p && *self_p) {
        xinf_encoder_t *self = *self_p;
        atomic_store (&self->stopping, true);
        zactor_destroy (&self->actor);      //  after the job the thread is on
        s_job_t *job;
        while ((job = (s_job_t *) zlistx_detach (self->jobs, NULL))) {
            xinf_tsan_acquire (job);
            s_job_free (&job);
        }
        zlistx_destroy (&self->jobs);
        free (self);
        *self_p = NULL;
    }
}

int
xinf_encoder_send (xinf_encoder_t *self, uint64_t id, uint64_t corr, xinf_value_t **body_p)
{
    s_job_t *job = calloc (1, sizeof *job);
    assert (job);
    job->id = id;
    job->corr = corr;
    job->body = *body_p;
    *body_p = NULL;
    xinf_tsan_release (job);
    if (zsock_send (zactor_sock (self->actor), "b", &job, sizeof job)) {
        s_job_free (&job);
        return -1;
    }
    zlistx_add_end (self->jobs, job);
    return 0;
}

zsock_t *
xinf_encoder_sock (xinf_encoder_t *self)
{
    return zactor_sock (self->actor);
}

int
xinf_encoder_recv (xinf_encoder_t *self, xinf_encoded_t *result)
{
    zframe_t *frame = zframe_recv_nowait (zactor_sock (self->actor));
    s_job_t *job = NULL;
    if (frame && zframe_size (frame) == sizeof job)
        memcpy (&job, zframe_data (frame), sizeof job);
    zframe_destroy (&frame);
    void *handle = job ? zlistx_find (self->jobs, job) : NULL;
    if (!handle)
        return -1;
    zlistx_detach (self->jobs, handle);
    xinf_tsan_acquire (job);
    result->id = job->id;
    result->corr = job->corr;
    result->request = job->request;
    job->request = NULL;
    result->code = job->code;
    result->cancelled = job->cancelled;
    snprintf (result->reason, sizeof result->reason, "%s", job->reason);
    s_job_free (&job);
    return 0;
}

size_t
xinf_encoder_pending (xinf_encoder_t *self)
{
    return zlistx_size (self->jobs);
}

//  The job of request 'id' not taken back, or NULL.
static s_job_t *
s_job_of (xinf_encoder_t *self, uint64_t id)
{
    for (s_job_t *job = (s_job_t *) zlistx_first (self->jobs); job; job = (s_job_t *) zlistx_next (self->jobs))
        if (job->id == id)
            return job;
    return NULL;
}

bool
xinf_encoder_has (xinf_encoder_t *self, uint64_t id)
{
    return s_job_of (self, id) != NULL;
}

void
xinf_encoder_cancel (xinf_encoder_t *self, uint64_t id)
{
    s_job_t *job = s_job_of (self, id);
    if (job)
        job->cancelled = true;
}

size_t
xinf_encoder_waiting (xinf_encoder_t *self, uint64_t *ids, uint64_t *corrs)
{
    size_t count = 0;
    for (s_job_t *job = (s_job_t *) zlistx_first (self->jobs); job && count < XINF_ENCODER_JOBS_MAX;
         job = (s_job_t *) zlistx_next (self->jobs))
        if (!job->cancelled) {
            ids [count] = job->id;
            corrs [count++] = job->corr;
        }
    return count;
}
