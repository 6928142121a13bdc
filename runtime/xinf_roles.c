/*  xinf_roles: the role table (see xinf_roles.h, protocols/security.md).  */
#include "xinf_roles.h"
#include <string.h>

#define W (1u << XINF_ROLE_WORKER)
#define U (1u << XINF_ROLE_USER)
#define A (1u << XINF_ROLE_ADMIN)
#define S (1u << XINF_ROLE_SUPERVISOR)

static const struct {
    const char *type;
    unsigned roles;
} s_table [] = {
    { "PING",            W | U | A | S },
    { "ERROR",           W | U | A | S },
    //  The standby pair's link (node.md, supervisor -> supervisor)
    { "HA_STATE",        S },
    //  The worker protocol (protocols/node.md, worker -> supervisor)
    { "HELLO",           W },
    { "HEARTBEAT",       W },
    { "BYE",             W },
    { "MODEL_STATE",     W },
    { "MODEL_LOAD",      W },
    { "RUN_TOKEN",       W },
    { "RUN_DONE",        W },
    { "RUN_FAILED",      W },
    { "PROBE_RESULT",    W },
    { "TOKENIZE_RESULT", W },
    //  Model file transfers (protocols/node.md, "Model files")
    { "FILE_FETCH",      W },
    { "FILE_READ",       W },
    { "FILE_CLOSE",      W },
    { "FILE_HASHING",    W },
    { "FILE_OPENED",     W },
    { "FILE_DATA",       W },
    { "FILE_ERROR",      W },
    //  Clients: read-only and inference (protocols/client.md)
    { "CLUSTER_INFO",    U | A },
    { "WAITS",           U | A },
    { "EVENTS",          U | A },
    { "LIST_MODELS",     U | A },
    { "LAUNCH_PROGRESS", U | A },
    { "GENERATE",        U | A },
    { "CANCEL",          U | A },
    { "TOKENIZE",        U | A },
    { "DETOKENIZE",      U | A },
    //  Clients: changes to the cluster and its probes
    { "LAUNCH",          A },
    { "TERMINATE",       A },
    { "DOCTOR",          A },
};

xinf_role_t
xinf_role_parse (const char *name)
{
    if (!name)
        return XINF_ROLE_NONE;
    if (strcmp (name, "worker") == 0)
        return XINF_ROLE_WORKER;
    if (strcmp (name, "user") == 0)
        return XINF_ROLE_USER;
    if (strcmp (name, "admin") == 0)
        return XINF_ROLE_ADMIN;
    if (strcmp (name, "supervisor") == 0)
        return XINF_ROLE_SUPERVISOR;
    return XINF_ROLE_NONE;
}

const char *
xinf_role_name (xinf_role_t role)
{
    return role == XINF_ROLE_WORKER ? "worker"
         : role == XINF_ROLE_USER ? "user"
         : role == XINF_ROLE_ADMIN ? "admin"
         : role == XINF_ROLE_SUPERVISOR ? "supervisor" : "none";
}

bool
xinf_role_allows (xinf_role_t role, const char *type)
{
    if (role == XINF_ROLE_NONE || !type)
        return false;
    for (size_t index = 0; index < sizeof s_table / sizeof s_table [0]; index++)
        if (strcmp (s_table [index].type, type) == 0)
            return (s_table [index].roles & (1u << role)) != 0;
    return false;
}
