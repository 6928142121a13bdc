/*  xinf_regex_private: the parsed expression (xinf_regex_parse.c) that
    xinf_regex.c turns into an automaton. Not for use outside them.  */
#ifndef XINF_REGEX_PRIVATE_H_INCLUDED
#define XINF_REGEX_PRIVATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_RX_CODE_MAX   0x10FFFFu
#define XINF_RX_NODES_MAX  65536          //  parsed nodes of one expression
#define XINF_RX_DEPTH_MAX  64             //  groups nested

typedef enum {
    XINF_RX_EMPTY,                    //  matches the empty text
    XINF_RX_SET,                      //  one code point of a set
    XINF_RX_CONCAT,                   //  its children in order
    XINF_RX_ALT,                      //  one of its children
    XINF_RX_REPEAT                    //  its child, min to max times
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

//  Parses 'size' bytes of 'pattern' into 'tree' (zeroed by the caller):
//  0, or -1 with the reason and offset in 'error'. The tree is freed
//  with xinf_rx_tree_free either way.
int xinf_rx_parse (const char *pattern, size_t size, xinf_rx_tree_t *tree, char *error, size_t error_size);
void xinf_rx_tree_free (xinf_rx_tree_t *tree);
//  Adds a node of any text (every code point, any number of times) to a
//  parsed tree: its number, or -1 when out of room.
int xinf_rx_tree_any_text (xinf_rx_tree_t *tree);

#endif
