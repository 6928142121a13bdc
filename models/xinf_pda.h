/*  xinf_pda: a GBNF grammar with recursion (xinf_gbnf.c) as a pushdown
    automaton over bytes, for constrained decoding: llama-server's
    grammars (JSON, arithmetic, code) nest rules in themselves, which no
    finite automaton can follow.

    Each rule that takes part in a recursion, and the root, is a
    deterministic automaton (xinf_regex_private.h) in which a reference
    to such a rule is a call: the two bytes 0xF8 | k >> 8, k & 0xFF for
    rule k, which no UTF-8 text has. The other rules are written out in
    place, as in a grammar without recursion. A position in the text is
    the set of its parses: each a rule's automaton state over the stack
    of states its callers go on from (a configuration). After a byte the
    set is closed: a call pushes its caller and enters the callee, a rule
    that may end returns to its caller. A call after which its caller can
    only end (a tail call: `list ::= item list | ""`, JSON's value calling
    object) pushes nothing: the callee returns for both.

    Sets are determinized lazily: each set the texts reach is interned
    once, its transitions memoized by byte class, so a step after the
    first is an array lookup, and equal positions are equal numbers (a
    state is plain bytes, as the token masks' cache needs).

    Limits: calls other than tail calls nest at most XINF_PDA_DEPTH_MAX
    deep (llama.cpp's json.gbnf: 64 nested containers), and a byte is
    taken only where the text can still be completed within that depth
    (so no answer walks into a dead end). A position holds at most
    XINF_PDA_CONFIGS_MAX parses (stacks: an ambiguous grammar, or one
    whose closers decide between rules, has exponentially many): the
    parses whose closures would pass it are left out, each with its
    whole closure, so what is kept still leads to whole matches, only
    not to every one the grammar has. Past XINF_PDA_BYTES_MAX bytes of
    positions no new one is made (those made still step) and the byte is
    refused. xinf_pda_limited says when either limit was met. Refused
    when built: left recursion (a rule that can call itself before any
    byte: llama.cpp refuses it too; a repetition says the same) and a
    root with no text within the depth.
    One automaton is used by one thread at a time (a replica's).
*/
#ifndef XINF_PDA_H_INCLUDED
#define XINF_PDA_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_regex.h"

#define XINF_PDA_DEPTH_MAX    64          //  calls nested
#define XINF_PDA_CONFIGS_MAX  256         //  parses of one position
#define XINF_PDA_BYTES_MAX    (32u << 20) //  the automaton's positions, frames and transitions
#define XINF_PDA_RULES_MAX    256         //  rules in a recursion
#define XINF_PDA_CALL_LEAD    0xF8        //  a call's first byte (| k >> 8)

typedef struct _xinf_pda_t xinf_pda_t;

//  The automaton of 'count' rules' automata ('rules' [0] the root's; a
//  call of rule k >= 1 is its two bytes) named 'names' (for the reasons).
//  It takes the automata, and destroys them when it fails: NULL with the
//  reason in 'error'.
xinf_pda_t *xinf_pda_new (xinf_regex_t **rules, const char *const *names, size_t count, char *error,
                          size_t error_size);
void xinf_pda_destroy (xinf_pda_t **self_p);

//  The position before the first byte (XINF_REGEX_START).
uint32_t xinf_pda_start (const xinf_pda_t *self);
//  The position after 'position' takes 'byte': 0 when it is refused.
uint32_t xinf_pda_next (xinf_pda_t *self, uint32_t position, unsigned char byte);
//  Whether the text up to 'position' is a whole match.
bool xinf_pda_accepting (const xinf_pda_t *self, uint32_t position);
//  Whether it is a whole match that no byte may extend.
bool xinf_pda_done (const xinf_pda_t *self, uint32_t position);

//  Positions interned, and the bytes the automaton holds now (its rules'
//  automata included).
size_t xinf_pda_positions (const xinf_pda_t *self);
size_t xinf_pda_bytes (const xinf_pda_t *self);
//  Whether a limit was met (XINF_PDA_CONFIGS_MAX left parses out, or
//  XINF_PDA_BYTES_MAX refused a byte), and whether it is out of room (no
//  new position can be interned: a new copy is better).
bool xinf_pda_limited (const xinf_pda_t *self);
bool xinf_pda_full (const xinf_pda_t *self);

#endif
