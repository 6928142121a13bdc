/*  xinf_json_schema_check: what a compiled schema's nodes are, found once
    the whole schema is compiled ($refs resolved): the bytes a value of
    each node may begin with, and the fewest nested containers a value of
    it needs to be complete. With them the compiler refuses a union whose
    alternatives begin alike, a cycle of $refs and unions that passes no
    container (left recursion: it would never read a byte), and a root
    that cannot be completed within XINF_SCHEMA_DEPTH_MAX; the stepper
    tests a first byte as a bit and never opens what cannot close.
*/
#include "xinf_json_schema_private.h"

#include <stdio.h>
#include <string.h>

#define S_NEVER 255                   //  need: the value cannot be completed

static void
s_set (uint32_t *bits, unsigned char byte)
{
    bits [byte / 32] |= (uint32_t) 1 << (byte % 32);
}

//  A node's own first bytes (a union's come from its alternatives).
static void
s_own_first (const xinf_json_schema_t *schema, xinf_schema_node_t *node)
{
    memset (node->begins, 0, sizeof node->begins);
    switch (node->kind) {
        case K_OBJECT:  s_set (node->begins, '{'); break;
        case K_ARRAY:   s_set (node->begins, '['); break;
        case K_STRING:  s_set (node->begins, '"'); break;
        case K_BOOLEAN: s_set (node->begins, 't'); s_set (node->begins, 'f'); break;
        case K_NULL:    s_set (node->begins, 'n'); break;
        case K_NUMBER:
        case K_INTEGER:
            s_set (node->begins, '-');
            for (unsigned char digit = '0'; digit <= '9'; digit++)
                s_set (node->begins, digit);
            break;
        case K_ENUM:
            for (uint32_t at = 0; at < node->count; at++)
                s_set (node->begins, (unsigned char) schema->names [node->first + at].text [0]);
            break;
        default:
            break;
    }
}

//  A union's first bytes from its alternatives, until nothing changes.
static void
s_first_bytes (xinf_json_schema_t *schema)
{
    for (size_t index = 0; index < schema->node_count; index++)
        s_own_first (schema, &schema->nodes [index]);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t index = 0; index < schema->node_count; index++) {
            xinf_schema_node_t *node = &schema->nodes [index];
            for (uint32_t at = 0; node->kind == K_UNION && at < node->count; at++) {
                const uint32_t *other = schema->nodes [schema->alts [node->first + at]].begins;
                for (int word = 0; word < 8; word++)
                    if ((node->begins [word] | other [word]) != node->begins [word]) {
                        node->begins [word] |= other [word];
                        changed = true;
                    }
            }
        }
    }
}

//  Whether union 'index' reaches itself through unions alone (colour:
//  0 new, 1 on the path, 2 done).
static bool
s_loops (const xinf_json_schema_t *schema, size_t index, uint8_t *colour)
{
    const xinf_schema_node_t *node = &schema->nodes [index];
    if (node->kind != K_UNION || colour [index] == 2)
        return false;
    if (colour [index] == 1)
        return true;
    colour [index] = 1;
    for (uint32_t at = 0; at < node->count; at++)
        if (s_loops (schema, schema->alts [node->first + at], colour))
            return true;
    colour [index] = 2;
    return false;
}

//  The fewest containers a value of each node needs, until nothing changes.
static void
s_needs (xinf_json_schema_t *schema)
{
    for (size_t index = 0; index < schema->node_count; index++) {
        uint8_t kind = schema->nodes [index].kind;
        schema->nodes [index].need = kind == K_OBJECT || kind == K_ARRAY || kind == K_UNION ? S_NEVER : 0;
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t index = 0; index < schema->node_count; index++) {
            xinf_schema_node_t *node = &schema->nodes [index];
            unsigned need = node->need;
            if (node->kind == K_OBJECT) {
                unsigned inner = 0;
                for (uint32_t at = 0; at < node->count; at++)
                    if (node->required >> at & 1) {
                        unsigned property = schema->nodes [schema->names [node->first + at].node].need;
                        inner = property > inner ? property : inner;
                    }
                need = inner == S_NEVER ? S_NEVER : inner + 1;
            }
            if (node->kind == K_ARRAY) {
                unsigned items = node->min_items ? schema->nodes [node->items].need : 0;
                need = items == S_NEVER ? S_NEVER : items + 1;
            }
            if (node->kind == K_UNION)
                for (uint32_t at = 0; at < node->count; at++) {
                    unsigned alternative = schema->nodes [schema->alts [node->first + at]].need;
                    need = alternative < need ? alternative : need;
                }
            need = need > S_NEVER ? S_NEVER : need;
            if (need < node->need) {
                node->need = (uint8_t) need;
                changed = true;
            }
        }
    }
}

int
xinf_schema_check (xinf_json_schema_t *schema, char *error, size_t error_size)
{
    uint8_t colour [XINF_SCHEMA_NODES_MAX] = { 0 };
    for (size_t index = 0; index < schema->node_count; index++)
        if (s_loops (schema, index, colour)) {
            snprintf (error, error_size, "$refs and anyOf/oneOf loop without an object or an array between "
                      "(left recursion): no value could be written");
            return -1;
        }
    s_first_bytes (schema);
    for (size_t index = 0; index < schema->node_count; index++) {
        const xinf_schema_node_t *node = &schema->nodes [index];
        uint32_t seen [8] = { 0 };
        for (uint32_t at = 0; node->kind == K_UNION && at < node->count; at++) {
            const uint32_t *other = schema->nodes [schema->alts [node->first + at]].begins;
            for (int word = 0; word < 8; word++) {
                if (seen [word] & other [word]) {
                    snprintf (error, error_size, "the alternatives of anyOf, oneOf or a list of types must begin "
                              "with different characters (different types, or enum values that differ in their "
                              "first character)");
                    return -1;
                }
                seen [word] |= other [word];
            }
        }
    }
    s_needs (schema);
    unsigned need = schema->nodes [schema->root].need;
    if (need == S_NEVER || need > XINF_SCHEMA_DEPTH_MAX) {
        snprintf (error, error_size, "a value of the schema %s", need == S_NEVER
                  ? "can never be complete (required properties or items nest without end)"
                  : "needs more than 8 nested objects or arrays");
        return -1;
    }
    return 0;
}

bool
xinf_schema_begins (const xinf_json_schema_t *schema, uint16_t node, unsigned char byte)
{
    return schema->nodes [node].begins [byte / 32] >> (byte % 32) & 1;
}
