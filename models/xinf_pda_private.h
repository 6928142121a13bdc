/*  xinf_pda_private: what the pushdown automaton's two modules share:
    its rules (xinf_pda_build.c analyses them) and its interned positions
    (xinf_pda.c steps them). Not for use outside them.  */
#ifndef XINF_PDA_PRIVATE_H_INCLUDED
#define XINF_PDA_PRIVATE_H_INCLUDED

#include "xinf_pda.h"
#include "xinf_regex_private.h"

#define XINF_PDA_NEVER  (XINF_PDA_DEPTH_MAX + 1)   //  a need no text within the depth meets

//  A call in a rule's automaton: the rule called, the state its caller
//  goes on from when it returns, and whether that state only ends the
//  caller (a tail call: the callee runs on the caller's frame, so a rule
//  that recurses at its end, a list written in BNF, nests no deeper).
typedef struct {
    uint32_t callee, back;
    bool tail;
} xinf_pda_call_t;

typedef struct {
    xinf_regex_t *dfa;                //  calls as their two bytes
    uint32_t *call_at;                //  [state], [state + 1]: its calls' range in 'calls'
    xinf_pda_call_t *calls;
    uint8_t *need;                    //  [state]: calls nested below it that a completion needs at least
                                      //  (XINF_PDA_NEVER: none completes)
    uint8_t *onward;                  //  [state]: the least need of the states a byte of text takes it to
                                      //  (XINF_PDA_NEVER: none)
} xinf_pda_rule_t;

//  A parse: the state of a rule's automaton, over the frame of its caller
//  (0: none, the root's own automaton).
typedef struct {
    uint32_t rule, state, frame;
} xinf_pda_config_t;

//  A caller's frame: its rule and the state it goes on from, over the
//  frame below it.
typedef struct {
    uint32_t rule, back, parent, depth;
} xinf_pda_frame_t;

//  A position: its sorted configurations in 'configs', and its
//  transitions by byte class (S_UNKNOWN until computed, 0 refused).
typedef struct {
    uint32_t at, count;
    uint32_t *next;
    uint8_t flags;                    //  XINF_RX_ACCEPTING, XINF_RX_ONWARD
} xinf_pda_set_t;

//  An open-addressing index of ids (0: empty), half full at most.
typedef struct {
    uint32_t *slots;
    size_t size;
} xinf_pda_index_t;

struct _xinf_pda_t {
    xinf_pda_rule_t *rules;
    size_t rule_count;
    uint8_t byte_class [256];         //  over every rule's automaton; 0: no text byte (0xF5 and above)
    size_t classes;
    xinf_pda_frame_t *frames;         //  [0]: none, depth 0
    size_t frame_count, frame_room;
    xinf_pda_index_t frame_index;
    xinf_pda_set_t *sets;             //  [0]: unused
    size_t set_count, set_room;
    xinf_pda_index_t set_index;
    xinf_pda_config_t *configs;       //  the sets' configurations, end to end
    size_t config_count, config_room;
    xinf_pda_config_t *work;          //  a closure's configurations (XINF_PDA_CONFIGS_MAX)
    size_t work_count;
    xinf_pda_config_t *pending;       //  and those still to add
    size_t pending_count, pending_room;
    size_t bytes;                     //  what the growing parts hold
    size_t rule_bytes;                //  and the rules' automata and arrays
    bool limited, full;
    uint32_t start;
};

//  'items' with room for 'wanted' (*room grown by doubling, counted in
//  the automaton's bytes): NULL past XINF_PDA_BYTES_MAX or out of memory
//  (the automaton is then full; 'items' is left as it was).
void *xinf_pda_grow (xinf_pda_t *self, void *items, size_t *room, size_t wanted, size_t item_size);
//  The root's first position, computed: its id, or 0 past a limit.
uint32_t xinf_pda_first (xinf_pda_t *self);

#endif
