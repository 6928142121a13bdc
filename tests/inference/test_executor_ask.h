/*  test_executor_ask: the executor tests' way to ask an executor actor
    something over their dealer and get its answer.  */
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

#endif
