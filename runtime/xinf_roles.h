/*  xinf_roles: what each kind of key may say to the supervisor.

    With keys configured (protocols/security.md) every peer of the
    supervisor's ROUTER holds a CURVE key whose certificate names a role:

        worker  the worker protocol only (protocols/node.md, worker -> supervisor)
        user    PING, GENERATE, CANCEL, LIST_MODELS, LAUNCH_PROGRESS and the
                read-only cluster queries (CLUSTER_INFO, WAITS, EVENTS)
        admin   everything a user may, plus LAUNCH, TERMINATE, DOCTOR
        supervisor  HA_STATE only: the other supervisor of a standby pair,
                which shares this supervisor's key pair

    This table is the one place that says so: a message type it does not
    list is forbidden to every role (a new message must be added here).
    ERROR is allowed to all: it is only ever logged.
*/
#ifndef XINF_ROLES_H_INCLUDED
#define XINF_ROLES_H_INCLUDED

#include <stdbool.h>

typedef enum {
    XINF_ROLE_NONE = 0,        //  no key, an unknown key or an unknown role name
    XINF_ROLE_WORKER,
    XINF_ROLE_USER,
    XINF_ROLE_ADMIN,
    XINF_ROLE_SUPERVISOR
} xinf_role_t;

//  "worker", "user", "admin", "supervisor"; XINF_ROLE_NONE for anything else (or NULL).
xinf_role_t xinf_role_parse (const char *name);
//  The role's name; "none" for XINF_ROLE_NONE.
const char *xinf_role_name (xinf_role_t role);
//  True when a peer of 'role' may send a message of 'type'.
bool xinf_role_allows (xinf_role_t role, const char *type);

#endif
