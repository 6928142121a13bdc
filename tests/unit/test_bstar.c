/*  test_bstar: the standby pair's state machine (actors/xinf_bstar.h):
    every transition of the table, refusals while the peer lives, the
    fail-over only with a request after the peer expired, a healed split
    where the backup steps down, and state names both ways.  */
#include "test_unit.h"
#include "xinf_bstar.h"

#define EXPIRY 600

static void
test_start_as_pair (void)
{
    xinf_bstar_t *primary = xinf_bstar_new (true, "tcp://b:1", 200, EXPIRY);
    xinf_bstar_t *backup = xinf_bstar_new (false, "tcp://a:1", 200, EXPIRY);
    CHECK_INT (xinf_bstar_state (primary), XINF_BSTAR_PRIMARY);
    CHECK_INT (xinf_bstar_state (backup), XINF_BSTAR_BACKUP);
    //  Alone, the primary serves and the backup refuses
    CHECK (xinf_bstar_request (primary, 0));
    CHECK (!xinf_bstar_request (backup, 0));
    CHECK_INT (xinf_bstar_state (backup), XINF_BSTAR_BACKUP);
    //  They hear each other: active and passive
    CHECK_INT (xinf_bstar_peer_state (primary, XINF_BSTAR_BACKUP, 10), XINF_BSTAR_ACTIVE);
    CHECK_INT (xinf_bstar_peer_state (backup, XINF_BSTAR_ACTIVE, 10), XINF_BSTAR_PASSIVE);
    CHECK (xinf_bstar_request (primary, 20));
    CHECK (!xinf_bstar_request (backup, 20));
    //  A backup that started first and hears an active primary stands by
    xinf_bstar_t *late = xinf_bstar_new (true, "tcp://b:1", 200, EXPIRY);
    CHECK_INT (xinf_bstar_peer_state (late, XINF_BSTAR_ACTIVE, 10), XINF_BSTAR_PASSIVE);
    xinf_bstar_destroy (&late);
    xinf_bstar_destroy (&primary);
    xinf_bstar_destroy (&backup);
    CHECK (primary == NULL);
}

static void
test_failover (void)
{
    xinf_bstar_t *backup = xinf_bstar_new (false, "tcp://a:1", 200, EXPIRY);
    xinf_bstar_peer_state (backup, XINF_BSTAR_ACTIVE, 1000);
    CHECK_INT (xinf_bstar_state (backup), XINF_BSTAR_PASSIVE);
    //  A request before the peer expired: refused
    CHECK (!xinf_bstar_request (backup, 1000 + EXPIRY - 1));
    CHECK_INT (xinf_bstar_state (backup), XINF_BSTAR_PASSIVE);
    //  A request once it expired: taken over
    CHECK (xinf_bstar_request (backup, 1000 + EXPIRY));
    CHECK_INT (xinf_bstar_state (backup), XINF_BSTAR_ACTIVE);
    //  The old primary restarts: it will stand by, this one stays active
    CHECK_INT (xinf_bstar_peer_state (backup, XINF_BSTAR_PRIMARY, 5000), XINF_BSTAR_ACTIVE);
    xinf_bstar_destroy (&backup);
}

static void
test_passive_peer_restarts (void)
{
    xinf_bstar_t *passive = xinf_bstar_new (true, "tcp://b:1", 200, EXPIRY);
    xinf_bstar_peer_state (passive, XINF_BSTAR_ACTIVE, 0);
    CHECK_INT (xinf_bstar_state (passive), XINF_BSTAR_PASSIVE);
    //  The active peer restarted (it says backup): this one serves
    CHECK_INT (xinf_bstar_peer_state (passive, XINF_BSTAR_BACKUP, 100), XINF_BSTAR_ACTIVE);
    xinf_bstar_destroy (&passive);
}

static void
test_healed_split (void)
{
    xinf_bstar_t *primary = xinf_bstar_new (true, "tcp://b:1", 200, EXPIRY);
    xinf_bstar_t *backup = xinf_bstar_new (false, "tcp://a:1", 200, EXPIRY);
    xinf_bstar_peer_state (primary, XINF_BSTAR_BACKUP, 1000);
    xinf_bstar_peer_state (backup, XINF_BSTAR_ACTIVE, 1000);
    CHECK (xinf_bstar_request (backup, 1000 + EXPIRY));   //  a fail-over during a split
    CHECK_INT (xinf_bstar_state (backup), XINF_BSTAR_ACTIVE);
    //  The split heals: both active; the backup steps down, the primary stays
    CHECK_INT (xinf_bstar_peer_state (backup, XINF_BSTAR_ACTIVE, 2000), XINF_BSTAR_PASSIVE);
    CHECK_INT (xinf_bstar_peer_state (primary, XINF_BSTAR_ACTIVE, 2000), XINF_BSTAR_ACTIVE);
    xinf_bstar_destroy (&primary);
    xinf_bstar_destroy (&backup);
}

static void
test_names (void)
{
    for (int state = XINF_BSTAR_PRIMARY; state <= XINF_BSTAR_PASSIVE; state++)
        CHECK_INT (xinf_bstar_state_parse (xinf_bstar_state_name ((xinf_bstar_state_t) state)), state);
    CHECK (xinf_bstar_state_name ((xinf_bstar_state_t) 0) == NULL);
    CHECK (xinf_bstar_state_name ((xinf_bstar_state_t) 9) == NULL);
    CHECK_INT (xinf_bstar_state_parse ("standby"), 0);
    CHECK_INT (xinf_bstar_state_parse (NULL), 0);
    CHECK_INT (xinf_bstar_state_parse (""), 0);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_start_as_pair);
    RUN (test_failover);
    RUN (test_passive_peer_restarts);
    RUN (test_healed_split);
    RUN (test_names);
    return 0;
}
