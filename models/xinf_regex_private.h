/*  xinf_regex_private: what the regex modules share: the parsed
    expression (xinf_regex_parse.c), its Thompson automaton
    (xinf_regex_nfa.c), the deterministic one it becomes
    (xinf_regex_dfa.c) and the compiled expression (xinf_regex.c). Not for
    use outside them.  */
#ifndef XINF_REGEX_PRIVATE_H_INCLUDED
#define XINF_REGEX_PRIVATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_regex.h"

#define XINF_RX_CODE_MAX   0x10FFFFu
#define XINF_RX_NODES_MAX  65536          //  parsed nodes of one expression
#define XINF_RX_DEPTH_MAX  64             //  groups nested

typedef enum {
    XINF_RX_SET,                      //  one code point of a set
    XINF_RX_CONCAT,                   //  its children in order
    XINF_RX_ALT,                      //  one of its children
    XINF_RX_REPEAT,                   //  its child, min to max times
    XINF_RX_BEGIN,                    //  ^ \A: matches nothing, and only where nothing came before
    XINF_RX_END,                      //  \Z \z: matches nothing, and only where nothing comes after
    XINF_RX_END_LINE,                 //  $: the same, or before a newline that ends the text
    XINF_RX_CALL                      //  a call of recursive GBNF rule 'min': its two bytes (xinf_pda.h), never text
} xinf_rx_kind_t;

typedef struct {
    uint32_t lo, hi;                  //  code points, inclusive
} xinf_rx_range_t;

typedef struct {
    xinf_rx_kind_t kind;
    int first, last;                  //  CONCAT, ALT: the children; REPEAT: first is the child
    int next;                         //  the next sibling (-1: none)
    int min, max;                     //  REPEAT: max -1 is unbounded
    size_t range_at, range_count;     //  SET: its sorted, disjoint ranges in the tree's
} xinf_rx_node_t;

typedef struct {
    xinf_rx_node_t *nodes;
    size_t count, capacity;
    xinf_rx_range_t *ranges;
    size_t range_count, range_capacity;
    int root;
} xinf_rx_tree_t;

//  A set of code points being gathered.
typedef struct {
    xinf_rx_range_t *items;
    size_t count, capacity;
} xinf_rx_ranges_t;

bool xinf_rx_ranges_add (xinf_rx_ranges_t *self, uint32_t lo, uint32_t hi);
//  Sorted, with overlapping and touching ranges merged.
void xinf_rx_ranges_normalize (xinf_rx_ranges_t *self);
//  The code points a normalized set leaves out.
bool xinf_rx_ranges_negate (xinf_rx_ranges_t *self);

//  One UTF-8 character at 'at': its length (its code in *code), or 0
//  when the bytes are no UTF-8 (overlong, a surrogate, past U+10FFFF).
size_t xinf_rx_utf8 (const unsigned char *text, size_t size, size_t at, uint32_t *code);

//  'digits' hex digits at *at into a code point (*at moved past them):
//  NULL, or why not (too few digits, a surrogate, past U+10FFFF).
const char *xinf_rx_hex (const unsigned char *text, size_t size, size_t *at, size_t digits, uint32_t *code);
//  Decimal digits at *at (moved past them): their value, at most
//  'limit' + 1, or -1 when there are none.
long xinf_rx_number (const unsigned char *text, size_t size, size_t *at, long limit);

//  A new node of 'kind' (-1 past XINF_RX_NODES_MAX or out of memory);
//  'child' appended to a CONCAT or ALT node's children; a SET node of a
//  normalized set (freed); a REPEAT node of 'child' min to max (-1:
//  unbounded) times.
int xinf_rx_tree_node (xinf_rx_tree_t *tree, xinf_rx_kind_t kind);
void xinf_rx_tree_append (xinf_rx_tree_t *tree, int parent, int child);
int xinf_rx_tree_set (xinf_rx_tree_t *tree, xinf_rx_ranges_t *set);
int xinf_rx_tree_repeat (xinf_rx_tree_t *tree, int child, int min, int max);

//  Parses 'size' bytes of 'pattern' into 'tree' (zeroed by the caller):
//  0, or -1 with the reason and offset in 'error'. The tree is freed
//  with xinf_rx_tree_free either way.
int xinf_rx_parse (const char *pattern, size_t size, xinf_rx_tree_t *tree, char *error, size_t error_size);
void xinf_rx_tree_free (xinf_rx_tree_t *tree);
//  Adds a node of any text (every code point, any number of times) to a
//  parsed tree: its number, or -1 when out of room.
int xinf_rx_tree_any_text (xinf_rx_tree_t *tree);

#define XINF_RX_NFA_MAX    200000         //  the Thompson automaton's states
#define XINF_RX_NONE       UINT32_MAX     //  no state: too large, out of memory
#define XINF_RX_ACCEPTING  1              //  a deterministic state's flags
#define XINF_RX_ONWARD     2

typedef enum {
    XINF_RX_BYTE, XINF_RX_SPLIT, XINF_RX_MATCH, XINF_RX_FAIL, XINF_RX_AT_START, XINF_RX_AT_END
} xinf_rx_state_kind_t;

//  A Thompson state: a byte in lo..hi to 'out', a split to both, the
//  match, a state that takes nothing, a way to 'out' open only before
//  the first byte (^), or an end anchor (\Z; $ with lo 1) to 'out' while
//  the automaton is built, then rewritten into the way to the match that
//  what follows it allows.
typedef struct {
    uint8_t kind, lo, hi;
    uint32_t out, out2;
} xinf_rx_nstate_t;

typedef struct {
    xinf_rx_nstate_t *states;
    size_t count, capacity;
    const xinf_rx_tree_t *tree;
    bool json_text;                   //  no quote, backslash or control character (XINF_REGEX_JSON_TEXT)
    bool small;                       //  the smaller limits (XINF_REGEX_SMALL)
    uint32_t match;                   //  the match state
    uint32_t *mark, stamp;            //  the end anchors' walks: per state, the walk it was last seen in
    size_t mark_size, work;
    bool over;                        //  those walks past their budget, or out of memory
    size_t *work_left;                //  a determinizing budget several automata share (NULL: their own)
} xinf_rx_nfa_t;

struct _xinf_regex_t {
    uint64_t serial;
    uint8_t byte_class [256];
    size_t classes;
    size_t states;                    //  numbered from 1; 0 is the dead state
    size_t live;
    uint32_t *table;                  //  [state * classes + class]: the next state, 0: refused
    uint8_t *flags;                   //  XINF_RX_ACCEPTING, XINF_RX_ONWARD
    struct _xinf_pda_t *pda;          //  a recursive grammar's automaton (xinf_pda.h), whose positions are
                                      //  the states; then no table
};

//  The Thompson automaton of a parsed tree read as 'flags' say: its
//  start, or XINF_RX_NONE (too large: nfa->count at XINF_RX_NFA_MAX, or
//  nfa->over).
uint32_t xinf_rx_thompson (xinf_rx_nfa_t *nfa, xinf_rx_tree_t *tree, int flags);
//  Its deterministic automaton from 'start' into 'regex' (table, flags,
//  classes, states): true, or false with the reason in 'error'.
bool xinf_rx_determinize (xinf_regex_t *regex, const xinf_rx_nfa_t *nfa, uint32_t start, char *error,
                          size_t error_size);
//  A parsed tree compiled (for xinf_regex_new_flags and the GBNF
//  parser): the expression, or NULL with the reason. 'work_left', when
//  not NULL, is a budget of determinizing work that the automata of one
//  grammar share (spent here).
xinf_regex_t *xinf_rx_compile (xinf_rx_tree_t *tree, int flags, size_t *work_left, char *error,
                               size_t error_size);
#define XINF_RX_WORK_MAX  (32u << 20)     //  set members and moves one determinizing visits
//  An expression whose states are the positions of 'pda' (taken):
//  NULL when out of memory (it is destroyed).
xinf_regex_t *xinf_rx_stacked (struct _xinf_pda_t *pda);
//  A reason into 'error'.
void xinf_rx_error (char *error, size_t error_size, const char *format, ...);

#endif
