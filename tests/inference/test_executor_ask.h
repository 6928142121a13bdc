/*  test_executor_ask: what the executor tests share: a tiny model to
    load, and the way to ask an executor actor something over their
    dealer and get its answer.  */
#ifndef TEST_EXECUTOR_ASK_H_INCLUDED
#define TEST_EXECUTOR_ASK_H_INCLUDED

#include "test_unit.h"

//  Sends 'msg' on 'dealer' and returns the answer (not LOAD_PROGRESS or
//  JOINED), within 30 s.
static inline xinf_msg_t *
test_executor_ask (xinf_dealer_t *dealer, xinf_msg_t *msg)
{
    char error [256];
    CHECK (xinf_dealer_send (dealer, &msg) == 0);
    int64_t deadline = zclock_mono () + 30000;
    while (zclock_mono () < deadline) {
        xinf_msg_t *reply = xinf_dealer_recv (dealer, 1000, error, sizeof error);
        if (reply && !xinf_msg_is (reply, "LOAD_PROGRESS") && !xinf_msg_is (reply, "JOINED"))
            return reply;
        xinf_msg_destroy (&reply);
    }
    CHECK (!"no answer from the executor within 30 s");
    return NULL;
}

//  The tiny qwen2 model, made with 'make_model' (xinf-make-model) in a
//  new directory from the mkdtemp template 'dir' (changed in place); its
//  path into 'model'.
static inline void
test_executor_model (const char *make_model, char *dir, char *model, size_t size)
{
    char command [800];
    CHECK (mkdtemp (dir));
    snprintf (model, size, "%s/tiny.gguf", dir);
    snprintf (command, sizeof command, "'%s' --preset tiny --arch qwen2 -o '%s' > /dev/null", make_model, model);
    CHECK (system (command) == 0);
}

#endif
