/*  xinf_fsm: a state machine described once, as data: its states' names
    and which moves between them are legal.

    Each machine (a replica, a worker's liveness, ...) is a constant
    xinf_fsm_t: a name, the state names indexed by the machine's enum, and
    for each state the set of states it may move to. Code moves a state
    only through xinf_fsm_move, which refuses an illegal move and logs it
    (naming the machine, the subject and both states), so a bug shows as
    a log line, not as a state nobody planned for. The same data prints
    the machine's table for the specs (xinf_fsm_table), and a test checks
    that the specs hold exactly that table.
*/
#ifndef XINF_FSM_H_INCLUDED
#define XINF_FSM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_FSM_STATES_MAX  32

typedef struct {
    const char *name;                 //  of the machine: "replica", "worker"
    size_t count;                     //  states 0 .. count-1
    const char *const *states;        //  their names
    const uint32_t *moves;            //  [count]: bit 'to' set when from -> to is legal
    const char *const *why;           //  [count]: what each state means (for the table)
} xinf_fsm_t;

#define XINF_FSM_TO(state)  (1u << (state))

//  The state's name; "?" for a value out of range.
const char *xinf_fsm_name (const xinf_fsm_t *fsm, int state);
//  The state named 'name'; -1 when the machine has no such state.
int xinf_fsm_parse (const xinf_fsm_t *fsm, const char *name);
//  True when 'from' -> 'to' is legal (staying in a state always is).
bool xinf_fsm_allows (const xinf_fsm_t *fsm, int from, int to);
//  Moves *state to 'to' when legal: 0. Else leaves it, logs a warning
//  naming the machine, 'subject' and both states: -1.
int xinf_fsm_move (const xinf_fsm_t *fsm, int *state, int to, const char *subject);
//  The machine as a Markdown table (state, meaning, may move to) into
//  'text'; the length it needs (as snprintf).
size_t xinf_fsm_table (const xinf_fsm_t *fsm, char *text, size_t size);

#endif
