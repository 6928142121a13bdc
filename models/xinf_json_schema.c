/*  xinf_json_schema: a JSON Schema compiled into nodes (this file), and
    the bytes its values may have (xinf_json_schema_step.c).  */
#include "xinf_json_schema_private.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Keywords that only annotate: ignored.
static const char *const s_annotations [] = {
    "title", "description", "default", "examples", "format", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "strict", "name", "$defs", "definitions", NULL
};
//  Keywords this compiles.
static const char *const s_keywords [] = {
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
    "anyOf", "oneOf", "$ref", "pattern", "minLength", "maxLength", NULL
};

//  String formats kept, as expressions of the text (others annotate)
static const struct { const char *name, *pattern; } s_formats [] = {
    { "date", "\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])" },
    { "time", "([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,9})?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d)" },
    { "date-time", "\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])T([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d"
                   "(\\.\\d{1,9})?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d)" },
    { "uuid", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" },
    { "ipv4", "((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)" },
    { "email", "[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63}){0,8}\\.[A-Za-z]{2,24}" },
    { NULL, NULL }
};

typedef struct {
    xinf_json_schema_t *schema;
    json_t *root;
    json_t **targets;                 //  refs compiled: their schema objects ...
    uint16_t *target_nodes;           //  ... and nodes
    size_t target_count;
    char *error;
    size_t error_size;
    char path [256];                  //  where the compiler is, for the reason
} s_compiler_t;

static int s_node (s_compiler_t *self, json_t *schema, int depth);

static int
s_fail (s_compiler_t *self, const char *format, const char *detail)
{
    char what [300];
    snprintf (what, sizeof what, format, detail);
    snprintf (self->error, self->error_size, "at %s: %s", *self->path ? self->path : "the root", what);
    return -1;
}

static bool
s_listed (const char *const *list, const char *key)
{
    for (size_t index = 0; list [index]; index++)
        if (strcmp (list [index], key) == 0)
            return true;
    return false;
}

//  A new node of 'kind'; -1 past XINF_SCHEMA_NODES_MAX.
static int
s_new_node (s_compiler_t *self, uint8_t kind)
{
    xinf_json_schema_t *schema = self->schema;
    if (schema->node_count >= XINF_SCHEMA_NODES_MAX)
        return s_fail (self, "%s", "the schema has more than 1024 nodes");
    schema->nodes [schema->node_count] = (xinf_schema_node_t) { .kind = kind, .max_items = 255 };
    return (int) schema->node_count++;
}

//  Appends a name (a property's key or an enum value's JSON text).
static int
s_add_name (s_compiler_t *self, const char *text, size_t size, uint16_t node)
{
    xinf_json_schema_t *schema = self->schema;
    if (schema->name_count % 64 == 0) {
        xinf_schema_name_t *names = realloc (schema->names, (schema->name_count + 64) * sizeof *names);
        if (!names)
            return s_fail (self, "%s", "out of memory");
        schema->names = names;
    }
    char *copy = malloc (size + 1);
    if (!copy)
        return s_fail (self, "%s", "out of memory");
    memcpy (copy, text, size);
    copy [size] = 0;
    schema->names [schema->name_count++] = (xinf_schema_name_t) { copy, size, node };
    return 0;
}

static int
s_add_alternative (s_compiler_t *self, uint16_t node)
{
    xinf_json_schema_t *schema = self->schema;
    if (schema->alt_count % 64 == 0) {
        uint16_t *alts = realloc (schema->alts, (schema->alt_count + 64) * sizeof *alts);
        if (!alts)
            return s_fail (self, "%s", "out of memory");
        schema->alts = alts;
    }
    schema->alts [schema->alt_count++] = node;
    return 0;
}

//  $ref: #/$defs/NAME or #/definitions/NAME, compiled once (recursion
//  reaches the node while it is being filled).
static int
s_ref (s_compiler_t *self, const char *ref, int depth)
{
    const char *name = strncmp (ref, "#/$defs/", 8) == 0 ? ref + 8
                     : strncmp (ref, "#/definitions/", 14) == 0 ? ref + 14 : NULL;
    json_t *defs = name ? json_object_get (self->root, ref [2] == '$' ? "$defs" : "definitions") : NULL;
    json_t *target = defs ? json_object_get (defs, name) : NULL;
    if (!target)
        return s_fail (self, "$ref '%.200s' is not #/$defs/NAME or #/definitions/NAME of this schema", ref);
    for (size_t index = 0; index < self->target_count; index++)
        if (self->targets [index] == target)
            return self->target_nodes [index];
    if (self->target_count >= XINF_SCHEMA_NODES_MAX)
        return s_fail (self, "%s", "too many $refs");
    size_t slot = self->target_count++;
    self->targets [slot] = target;
    int node = s_new_node (self, K_UNION);          //  filled by its target's node, as one alternative
    if (node < 0)
        return -1;
    self->target_nodes [slot] = (uint16_t) node;
    self->schema->nodes [node].first = (uint32_t) self->schema->alt_count;
    int inner = s_add_alternative (self, 0) == 0 ? s_node (self, target, depth + 1) : -1;
    if (inner < 0)
        return -1;
    self->schema->alts [self->schema->nodes [node].first] = (uint16_t) inner;
    self->schema->nodes [node].count = 1;
    return node;
}

//  enum (or const): strings, integers, booleans, null, as JSON text.
static int
s_enum (s_compiler_t *self, json_t *values)
{
    if (!json_is_array (values) || json_array_size (values) == 0 || json_array_size (values) > XINF_SCHEMA_CHOICES_MAX)
        return s_fail (self, "%s", "enum must have 1 to 32 values");
    int node = s_new_node (self, K_ENUM);
    if (node < 0)
        return -1;
    self->schema->nodes [node].first = (uint32_t) self->schema->name_count;
    size_t index;
    json_t *value;
    json_array_foreach (values, index, value) {
        if (json_is_object (value) || json_is_array (value) || json_is_real (value))
            return s_fail (self, "%s", "enum values must be strings, integers, booleans or null");
        char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = text ? s_add_name (self, text, strlen (text), 0) : s_fail (self, "%s", "out of memory");
        free (text);
        if (rc)
            return -1;
    }
    self->schema->nodes [node].count = (uint32_t) json_array_size (values);
    return node;
}

//  The position of property 'name' among 'properties' (their order), or
//  SIZE_MAX.
static size_t
s_property_at (json_t *properties, const char *name)
{
    size_t at = 0;
    const char *key;
    json_t *value;
    json_object_foreach (properties, key, value) {
        if (strcmp (key, name) == 0)
            return at;
        at++;
    }
    return SIZE_MAX;
}

static int
s_object (s_compiler_t *self, json_t *schema, int depth)
{
    json_t *properties = json_object_get (schema, "properties"), *required = json_object_get (schema, "required");
    if (properties && (!json_is_object (properties) || json_object_size (properties) > XINF_SCHEMA_CHOICES_MAX))
        return s_fail (self, "%s", "properties must be an object of up to 32 properties");
    if (required && !json_is_array (required))
        return s_fail (self, "%s", "required must be an array of property names");
    int node = s_new_node (self, K_OBJECT);
    if (node < 0)
        return -1;
    xinf_json_schema_t *compiled = self->schema;
    compiled->nodes [node].first = (uint32_t) compiled->name_count;
    const char *key;
    json_t *property;
    json_object_foreach (properties, key, property) {
        json_t *name = json_string (key);
        char *text = name ? json_dumps (name, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        json_decref (name);
        //  The key as the answer writes it: its JSON text, less the quotes
        int rc = text ? s_add_name (self, text + 1, strlen (text) - 2, 0) : s_fail (self, "%s", "out of memory");
        free (text);
        if (rc)
            return -1;
    }
    size_t count = json_object_size (properties), at = 0;
    compiled->nodes [node].count = (uint32_t) count;
    size_t length = strlen (self->path);
    json_object_foreach (properties, key, property) {
        snprintf (self->path + length, sizeof self->path - length, "/properties/%.40s", key);
        int child = s_node (self, property, depth + 1);
        if (child < 0)
            return -1;
        compiled->names [compiled->nodes [node].first + at++].node = (uint16_t) child;
    }
    self->path [length] = 0;
    size_t index;
    json_t *name;
    json_array_foreach (required, index, name) {
        size_t found = json_is_string (name) ? s_property_at (properties, json_string_value (name)) : count;
        if (found >= count)
            return s_fail (self, "required names '%.100s', which is not one of its properties",
                           json_is_string (name) ? json_string_value (name) : "(not a string)");
        compiled->nodes [node].required |= (uint32_t) 1 << found;
    }
    return node;
}

static int
s_array (s_compiler_t *self, json_t *schema, int depth)
{
    json_t *items = json_object_get (schema, "items");
    json_t *low = json_object_get (schema, "minItems"), *high = json_object_get (schema, "maxItems");
    if (!items)
        return s_fail (self, "%s", "an array needs items (a schema of its items)");
    if ((low && (!json_is_integer (low) || json_integer_value (low) < 0 || json_integer_value (low) > 255))
    ||  (high && (!json_is_integer (high) || json_integer_value (high) < 0)))
        return s_fail (self, "%s", "minItems must be 0 to 255 and maxItems at least 0");
    int node = s_new_node (self, K_ARRAY);
    if (node < 0)
        return -1;
    size_t length = strlen (self->path);
    snprintf (self->path + length, sizeof self->path - length, "/items");
    int child = s_node (self, items, depth + 1);
    self->path [length] = 0;
    if (child < 0)
        return -1;
    xinf_schema_node_t *compiled = &self->schema->nodes [node];
    compiled->items = (uint16_t) child;
    compiled->min_items = (uint8_t) (low ? json_integer_value (low) : 0);
    compiled->max_items = (uint8_t) (!high || json_integer_value (high) > 255 ? 255 : json_integer_value (high));
    if (compiled->min_items > compiled->max_items)
        return s_fail (self, "%s", "minItems is more than maxItems");
    return node;
}

//  The expression a string's text keeps, from its pattern (searched, as
//  JSON Schema's), its minLength and maxLength, or a format kept: into
//  'out' (NULL: none); -1 for what cannot be kept.
static int
s_string_pattern (s_compiler_t *self, json_t *schema, char *out, size_t size, int *flags)
{
    json_t *pattern = json_object_get (schema, "pattern");
    json_t *least = json_object_get (schema, "minLength"), *most = json_object_get (schema, "maxLength");
    const char *format = json_string_value (json_object_get (schema, "format"));
    const char *known = NULL;
    for (size_t index = 0; format && s_formats [index].name; index++)
        if (strcmp (format, s_formats [index].name) == 0)
            known = s_formats [index].pattern;
    if (pattern && !json_is_string (pattern))
        return s_fail (self, "%s", "pattern must be a string");
    if ((least && !(json_is_integer (least) && json_integer_value (least) >= 0))
    ||  (most && !(json_is_integer (most) && json_integer_value (most) >= 0)))
        return s_fail (self, "%s", "minLength and maxLength must be integers of at least 0");
    if ((pattern != NULL) + (least || most) + (known != NULL) > 1)
        return s_fail (self, "%s", "a pattern, minLength/maxLength and a format (date, time, date-time, uuid, "
                       "ipv4, email) cannot be kept together: give one");
    *out = 0;
    *flags = XINF_REGEX_JSON_TEXT | XINF_REGEX_SMALL;
    if (pattern) {
        if (json_string_length (pattern) >= size)
            return s_fail (self, "%s", "a pattern is at most 16384 bytes");
        memcpy (out, json_string_value (pattern), json_string_length (pattern) + 1);
        *flags |= XINF_REGEX_SEARCH;
    }
    else
    if (known)
        snprintf (out, size, "%s", known);
    else
    if (least || most) {
        json_int_t low = least ? json_integer_value (least) : 0, high = most ? json_integer_value (most) : -1;
        if (low > XINF_REGEX_REPEAT_MAX || high > XINF_REGEX_REPEAT_MAX)
            return s_fail (self, "%s", "minLength and maxLength above 1000 are not supported");
        if (high >= 0 && low > high)
            return s_fail (self, "%s", "minLength is more than maxLength");
        if (high >= 0)
            snprintf (out, size, "[\\s\\S]{%lld,%lld}", (long long) low, (long long) high);
        else
            snprintf (out, size, "[\\s\\S]{%lld,}", (long long) low);
    }
    return 0;
}

//  A string: its text kept to an expression where the schema says.
static int
s_string (s_compiler_t *self, json_t *schema)
{
    char *pattern = malloc (XINF_REGEX_PATTERN_MAX + 1);
    int flags = 0;
    if (!pattern)
        return s_fail (self, "%s", "out of memory");
    int node = s_string_pattern (self, schema, pattern, XINF_REGEX_PATTERN_MAX + 1, &flags);
    if (node == 0)
        node = s_new_node (self, K_STRING);
    if (node >= 0 && *pattern && self->schema->regex_count >= XINF_SCHEMA_PATTERNS_MAX)
        node = s_fail (self, "%s", "the schema has more than 64 strings with a pattern, a length or a format");
    if (node >= 0 && *pattern) {
        char reason [400] = "out of memory";
        xinf_regex_t *regex = xinf_regex_new_flags (pattern, strlen (pattern), flags, reason, sizeof reason);
        xinf_regex_t **regexes = regex ? realloc (self->schema->regexes, (self->schema->regex_count + 1)
                                                                         * sizeof (xinf_regex_t *)) : NULL;
        if (!regexes) {
            xinf_regex_destroy (&regex);
            node = s_fail (self, "the string's pattern cannot be kept: %s", reason);
        }
        else {
            self->schema->regexes = regexes;
            regexes [self->schema->regex_count++] = regex;
            self->schema->nodes [node].regex = (uint16_t) self->schema->regex_count;
        }
    }
    free (pattern);
    return node;
}

//  A node of one type (name).
static int
s_typed (s_compiler_t *self, json_t *schema, const char *type, int depth)
{
    static const struct { const char *name; uint8_t kind; } kinds [] = {
        { "string", K_STRING }, { "number", K_NUMBER }, { "integer", K_INTEGER }, { "boolean", K_BOOLEAN },
        { "null", K_NULL }, { NULL, 0 }
    };
    if (strcmp (type, "object") == 0)
        return s_object (self, schema, depth);
    if (strcmp (type, "array") == 0)
        return s_array (self, schema, depth);
    if (strcmp (type, "string") == 0)
        return s_string (self, schema);
    for (size_t index = 0; kinds [index].name; index++)
        if (strcmp (type, kinds [index].name) == 0)
            return s_new_node (self, kinds [index].kind);
    return s_fail (self, "type '%.40s' is not a JSON Schema type", type);
}

//  anyOf / oneOf, or a list of types: alternatives told apart by their
//  first byte.
static int
s_union (s_compiler_t *self, json_t *schema, json_t *list, bool types, int depth)
{
    if (!json_is_array (list) || json_array_size (list) == 0 || json_array_size (list) > XINF_SCHEMA_CHOICES_MAX)
        return s_fail (self, "%s", "anyOf, oneOf and a list of types need 1 to 32 alternatives");
    int node = s_new_node (self, K_UNION);
    if (node < 0)
        return -1;
    uint16_t alternatives [XINF_SCHEMA_CHOICES_MAX];
    size_t count = 0, index;
    json_t *item;
    json_array_foreach (list, index, item) {
        int child = types ? (json_is_string (item) ? s_typed (self, schema, json_string_value (item), depth)
                                                   : s_fail (self, "%s", "a list of types holds type names"))
                          : s_node (self, item, depth + 1);
        if (child < 0)
            return -1;
        alternatives [count++] = (uint16_t) child;
    }
    self->schema->nodes [node].first = (uint32_t) self->schema->alt_count;
    self->schema->nodes [node].count = (uint32_t) count;
    for (index = 0; index < count; index++)
        if (s_add_alternative (self, alternatives [index]))
            return -1;
    return node;                      //  its alternatives' first bytes are checked once all is compiled
}

//  Refuses keywords that constrain what this does not generate.
static int
s_keywords_known (s_compiler_t *self, json_t *schema)
{
    const char *key;
    json_t *value;
    json_object_foreach (schema, key, value)
        if (!s_listed (s_keywords, key) && !s_listed (s_annotations, key))
            return s_fail (self, "the keyword '%.60s' is not supported (its constraint would not be kept)", key);
    return 0;
}

//  Whether 'schema' has any of 'keys'.
static bool
s_has_any (json_t *schema, const char *const *keys)
{
    for (size_t index = 0; keys [index]; index++)
        if (json_object_get (schema, keys [index]))
            return true;
    return false;
}

//  Keywords beside $ref, anyOf/oneOf, enum or const that this would drop
//  (their constraints would not be kept) are refused; enum and const
//  beside type keep the values of that type.
static int
s_siblings (s_compiler_t *self, json_t *schema)
{
    static const char *const shape [] = { "properties", "required", "additionalProperties", "items", "minItems",
                                          "maxItems", NULL };
    static const char *const all [] = { "type", "properties", "required", "additionalProperties", "items",
                                        "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", NULL };
    bool ref = json_object_get (schema, "$ref") != NULL;
    bool any = json_object_get (schema, "anyOf") || json_object_get (schema, "oneOf");
    bool values = json_object_get (schema, "enum") || json_object_get (schema, "const");
    if (ref && s_has_any (schema, all))
        return s_fail (self, "%s", "$ref beside other keywords is not supported (they would not be kept)");
    if (json_object_get (schema, "anyOf") && json_object_get (schema, "oneOf"))
        return s_fail (self, "%s", "anyOf beside oneOf is not supported");
    if (any && (values || json_object_get (schema, "type") || s_has_any (schema, shape)))
        return s_fail (self, "%s", "anyOf or oneOf beside type, properties, items, enum or const is not supported "
                       "(put them inside each alternative)");
    if (json_object_get (schema, "enum") && json_object_get (schema, "const"))
        return s_fail (self, "%s", "enum beside const is not supported");
    if (values && s_has_any (schema, shape))
        return s_fail (self, "%s", "enum or const beside properties or items is not supported");
    return 0;
}

//  Whether JSON 'value' is of schema type 'type' (a name or a list).
static bool
s_of_type (json_t *value, json_t *type)
{
    if (!type)
        return true;
    if (json_is_array (type)) {
        size_t index;
        json_t *item;
        json_array_foreach (type, index, item)
            if (s_of_type (value, item))
                return true;
        return false;
    }
    const char *name = json_string_value (type);
    return name && ((strcmp (name, "string") == 0 && json_is_string (value))
                ||  (strcmp (name, "integer") == 0 && json_is_integer (value))
                ||  (strcmp (name, "number") == 0 && json_is_number (value))
                ||  (strcmp (name, "boolean") == 0 && json_is_boolean (value))
                ||  (strcmp (name, "null") == 0 && json_is_null (value)));
}

static int
s_node (s_compiler_t *self, json_t *schema, int depth)
{
    if (depth > 64)
        return s_fail (self, "%s", "the schema nests more than 64 deep");
    if (!json_is_object (schema))
        return s_fail (self, "%s", "a schema must be an object (true, false and {} allow any value: not supported)");
    if (s_keywords_known (self, schema) || s_siblings (self, schema))
        return -1;
    json_t *ref = json_object_get (schema, "$ref"), *type = json_object_get (schema, "type");
    if (ref)
        return json_is_string (ref) ? s_ref (self, json_string_value (ref), depth)
                                    : s_fail (self, "%s", "$ref must be a string");
    json_t *values = json_object_get (schema, "const") ? json_pack ("[O]", json_object_get (schema, "const"))
                   : json_incref (json_object_get (schema, "enum"));
    if (values) {
        //  Beside a type: the values of that type
        json_t *kept = json_is_array (values) ? json_array () : json_incref (values);
        size_t index;
        json_t *value;
        json_array_foreach (values, index, value)
            if (s_of_type (value, type))
                json_array_append (kept, value);
        int node = json_is_array (kept) && json_array_size (kept) == 0 && json_array_size (values) > 0
                 ? s_fail (self, "%s", "no value of enum or const is of the schema's type") : s_enum (self, kept);
        json_decref (kept);
        json_decref (values);
        return node;
    }
    json_t *any = json_object_get (schema, "anyOf") ? json_object_get (schema, "anyOf") : json_object_get (schema, "oneOf");
    if (any)
        return s_union (self, schema, any, false, depth);
    if (json_is_array (type))
        return s_union (self, schema, type, true, depth);
    if (json_is_string (type))
        return s_typed (self, schema, json_string_value (type), depth);
    if (json_object_get (schema, "properties"))
        return s_object (self, schema, depth);
    if (json_object_get (schema, "items"))
        return s_array (self, schema, depth);
    return s_fail (self, "%s", "a schema without type, properties, items, enum, const, anyOf, oneOf or $ref allows "
                   "any value: not supported");
}

xinf_json_schema_t *
xinf_json_schema_new (const char *text, size_t size, char *error, size_t error_size)
{
    json_error_t reason;
    json_t *root = json_loadb (text, size, 0, &reason);
    if (!root) {
        snprintf (error, error_size, "the schema is not JSON: %s", reason.text);
        return NULL;
    }
    xinf_json_schema_t *schema = calloc (1, sizeof *schema);
    s_compiler_t compiler = { schema, root, calloc (XINF_SCHEMA_NODES_MAX, sizeof (json_t *)),
                              calloc (XINF_SCHEMA_NODES_MAX, sizeof (uint16_t)), 0, error, error_size, "" };
    int node = -1;
    if (schema && (schema->nodes = calloc (XINF_SCHEMA_NODES_MAX, sizeof (xinf_schema_node_t)))
    &&  compiler.targets && compiler.target_nodes)
        node = s_node (&compiler, root, 0);
    else
        snprintf (error, error_size, "out of memory for the schema");
    if (node >= 0) {
        schema->root = (uint16_t) node;
        if (xinf_schema_check (schema, error, error_size))
            node = -1;
    }
    if (node >= 0) {
        static atomic_uint_fast64_t serials;
        schema->serial = atomic_fetch_add (&serials, 1) + 1;
        uint8_t kind = xinf_schema_resolved_kind (schema, schema->root);
        if (kind != K_OBJECT && kind != K_ARRAY) {
            snprintf (error, error_size, "the root of the schema must be an object or an array");
            node = -1;
        }
    }
    free (compiler.targets);
    free (compiler.target_nodes);
    json_decref (root);
    if (node < 0)
        xinf_json_schema_destroy (&schema);
    return schema;
}

size_t
xinf_json_schema_bytes (const xinf_json_schema_t *self)
{
    size_t bytes = sizeof *self + XINF_SCHEMA_NODES_MAX * sizeof (xinf_schema_node_t)
                 + self->alt_count * sizeof (uint16_t) + self->regex_count * sizeof (xinf_regex_t *);
    for (size_t index = 0; index < self->name_count; index++)
        bytes += sizeof (xinf_schema_name_t) + self->names [index].size + 1;
    for (size_t index = 0; index < self->regex_count; index++)
        bytes += xinf_regex_bytes (self->regexes [index]);
    return bytes;
}

void
xinf_json_schema_destroy (xinf_json_schema_t **self_p)
{
    if (self_p && *self_p) {
        xinf_json_schema_t *self = *self_p;
        for (size_t index = 0; index < self->name_count; index++)
            free (self->names [index].text);
        free (self->names);
        free (self->nodes);
        for (size_t index = 0; index < self->regex_count; index++)
            xinf_regex_destroy (&self->regexes [index]);
        free (self->regexes);
        free (self->alts);
        free (self);
        *self_p = NULL;
    }
}
