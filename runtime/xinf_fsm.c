/*  xinf_fsm: legal moves between named states, checked and logged.  */
#include "xinf_fsm.h"
#include "xinf_log.h"

#include <stdio.h>
#include <string.h>

const char *
xinf_fsm_name (const xinf_fsm_t *fsm, int state)
{
    return state >= 0 && (size_t) state < fsm->count ? fsm->states [state] : "?";
}

int
xinf_fsm_parse (const xinf_fsm_t *fsm, const char *name)
{
    for (size_t state = 0; name && state < fsm->count; state++)
        if (strcmp (fsm->states [state], name) == 0)
            return (int) state;
    return -1;
}

bool
xinf_fsm_allows (const xinf_fsm_t *fsm, int from, int to)
{
    if (from < 0 || to < 0 || (size_t) from >= fsm->count || (size_t) to >= fsm->count)
        return false;
    return from == to || (fsm->moves [from] & XINF_FSM_TO (to)) != 0;
}

int
xinf_fsm_move (const xinf_fsm_t *fsm, int *state, int to, const char *subject)
{
    if (xinf_fsm_allows (fsm, *state, to)) {
        *state = to;
        return 0;
    }
    xinf_warn (fsm->name, "illegal state change refused: %s %s -> %s (stays %s)", subject ? subject : "",
               xinf_fsm_name (fsm, *state), xinf_fsm_name (fsm, to), xinf_fsm_name (fsm, *state));
    return -1;
}

//  Appends to text like snprintf at text + *used, counting what it needs.
static void
s_append (char *text, size_t size, size_t *used, const char *piece)
{
    size_t length = strlen (piece);
    if (*used < size) {
        size_t room = size - *used - 1;
        memcpy (text + *used, piece, length < room ? length : room);
        text [*used + (length < room ? length : room)] = 0;
    }
    *used += length;
}

size_t
xinf_fsm_table (const xinf_fsm_t *fsm, char *text, size_t size)
{
    size_t used = 0;
    if (size)
        *text = 0;
    s_append (text, size, &used, "| state | meaning | may move to |\n|---|---|---|\n");
    for (size_t from = 0; from < fsm->count; from++) {
        char line [1024], targets [512] = "";
        size_t at = 0;
        for (size_t to = 0; to < fsm->count; to++)
            if (to != from && (fsm->moves [from] & XINF_FSM_TO (to)))
                at += (size_t) snprintf (targets + at, at < sizeof targets ? sizeof targets - at : 0, "%s`%s`",
                                         at ? ", " : "", fsm->states [to]);
        snprintf (line, sizeof line, "| `%s` | %s | %s |\n", fsm->states [from], fsm->why [from], at ? targets : "–");
        s_append (text, size, &used, line);
    }
    return used;
}
