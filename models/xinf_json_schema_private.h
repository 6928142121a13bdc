/*  xinf_json_schema_private: what the schema's compiler and its stepper
    share: the nodes (not for other modules).  */
#ifndef XINF_JSON_SCHEMA_PRIVATE_H_INCLUDED
#define XINF_JSON_SCHEMA_PRIVATE_H_INCLUDED

#include "xinf_json_schema.h"
#include "xinf_regex.h"

enum { K_OBJECT = 1, K_ARRAY, K_STRING, K_NUMBER, K_INTEGER, K_BOOLEAN, K_NULL, K_ENUM, K_UNION };

typedef struct {
    uint8_t kind;
    uint8_t min_items, max_items;     //  array (max 255: unbounded)
    uint16_t items;                   //  array: its items' node
    uint32_t first, count;            //  object: properties in names; enum: values in names; union: in alts
    uint32_t required;                //  object: bit p for property p
    uint32_t begins [8];              //  the bytes a value may begin with (xinf_json_schema_check.c)
    uint8_t need;                     //  the fewest containers a value needs to be complete
    uint16_t regex;                   //  string: 1 + its text's expression in regexes (pattern, lengths,
                                      //  format); 0: any text
} xinf_schema_node_t;

typedef struct {
    char *text;                       //  a property's key as written (no quotes), or an enum value's JSON
    size_t size;
    uint16_t node;                    //  a property's value
} xinf_schema_name_t;

struct _xinf_json_schema_t {
    xinf_schema_node_t *nodes;
    size_t node_count;
    xinf_schema_name_t *names;
    size_t name_count;
    uint16_t *alts;
    size_t alt_count;
    xinf_regex_t **regexes;           //  the strings' expressions (XINF_REGEX_JSON_TEXT)
    size_t regex_count;
    uint16_t root;
    uint64_t serial;                  //  this schema's number, in its states (never reused)
};

//  Once every node is compiled: each node's first bytes and need; -1
//  with the reason for a left recursion, alternatives that begin alike,
//  or a root that cannot be completed within XINF_SCHEMA_DEPTH_MAX.
int xinf_schema_check (xinf_json_schema_t *schema, char *error, size_t error_size);
//  Whether a value of 'node' may begin with 'byte' (after the check).
bool xinf_schema_begins (const xinf_json_schema_t *schema, uint16_t node, unsigned char byte);
//  The kind of 'node' through unions of one alternative ($refs).
uint8_t xinf_schema_resolved_kind (const xinf_json_schema_t *schema, uint16_t node);

#endif
