/*  xinf_encoder: a replica's long prompts made into requests on a thread
    of their own.

    Tokenizing a prompt of a megabyte takes a tenth of a second and more;
    on the replica's thread it would stall every stream the replica runs
    for as long. A RUN whose text prompt is long goes here instead: the
    thread makes the request (xinf_request_new: RUN's fields checked, the
    text tokenized) and hands it back, while the replica goes on stepping.
    The tokenizer is only read (its tables are fixed once loaded), so the
    two threads share it.

    The owner keeps every job until it took its result (or destroys the
    encoder), so a job in the pipe or in the thread is never lost or
    leaked.
*/
#ifndef XINF_ENCODER_H_INCLUDED
#define XINF_ENCODER_H_INCLUDED

#include "xinf_request.h"

//  RUN bodies whose text prompt has more bytes than this are encoded on
//  the thread; shorter ones are quicker inline than a trip to it.
#define XINF_ENCODER_INLINE_MAX (16 << 10)
//  Jobs at most handed over and not taken back (a replica refuses more
//  OVERLOADED, so that a flood of long prompts queues nowhere unbounded)
#define XINF_ENCODER_JOBS_MAX 64

typedef struct _xinf_encoder_t xinf_encoder_t;

//  The result of one job.
typedef struct {
    uint64_t id;                      //  the request
    uint64_t corr;                    //  the RUN's
    xinf_request_t *request;          //  the caller's now; NULL when refused:
    const char *code;                 //  then why
    char reason [512];
    bool cancelled;                   //  xinf_encoder_cancel: nothing is to be said of it
} xinf_encoded_t;

//  An encoder for requests of a model of 'vocab' tokens and 'context'
//  positions, tokenized with 'tokenizer' (which must outlive it).
xinf_encoder_t *xinf_encoder_new (xinf_tokenizer_t *tokenizer, size_t vocab, size_t context);
//  Stops the thread (after the job it is on) and frees every job.
void xinf_encoder_destroy (xinf_encoder_t **self_p);

//  Hands RUN body '*body_p' (taken) of request 'id' to the thread; -1
//  when it cannot (the body is then destroyed).
int xinf_encoder_send (xinf_encoder_t *self, uint64_t id, uint64_t corr, xinf_value_t **body_p);
//  The socket that is readable when a result is there.
zsock_t *xinf_encoder_sock (xinf_encoder_t *self);
//  Takes the next result into 'result'; -1 when none is there.
int xinf_encoder_recv (xinf_encoder_t *self, xinf_encoded_t *result);
//  Jobs handed over and not yet taken back.
size_t xinf_encoder_pending (xinf_encoder_t *self);
//  Whether request 'id' is one of them.
bool xinf_encoder_has (xinf_encoder_t *self, uint64_t id);
//  Marks request 'id''s job cancelled (its result comes all the same).
void xinf_encoder_cancel (xinf_encoder_t *self, uint64_t id);
//  The requests and RUN corrs of the jobs not taken back and not
//  cancelled, into 'ids' and 'corrs' (room for XINF_ENCODER_JOBS_MAX
//  each); how many.
size_t xinf_encoder_waiting (xinf_encoder_t *self, uint64_t *ids, uint64_t *corrs);

#endif
