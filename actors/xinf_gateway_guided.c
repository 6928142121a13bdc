/*  xinf_gateway_guided: what a completion's answer is constrained to
    (constrained decoding), from the fields each peer names it with:
    OpenAI's response_format (text, json_object, json_schema; llama-
    server's json_object with a schema, and its json_schema field), vLLM's
    guided_json, guided_regex, guided_choice and structured_outputs
    {json, regex, choice, json_object, grammar}, llama-server's GBNF
    grammar and vLLM's guided_grammar (GBNF, rules that recurse too). At most
    one constrains an answer. Schemas, expressions and grammars are
    compiled here, so that what the worker would refuse is refused at
    once, naming the field; they travel as GENERATE's json_schema, regex
    or grammar (client.md). vLLM's structural_tag is refused by name
    rather than ignored.  */
#include "xinf_gateway_private.h"
#include "xinf_json_schema.h"
#include "xinf_regex.h"

#define S_CHOICES_MAX  1024           //  guided_choice's strings

//  A schema (an object, or JSON text of one as vLLM takes) compiled and
//  kept as compact JSON text.
static int
s_schema (json_t *schema, const char *field, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *parsed = NULL;
    if (json_is_string (schema)) {
        parsed = json_loadb (json_string_value (schema), json_string_length (schema), 0, NULL);
        schema = parsed;
    }
    if (!json_is_object (schema)) {
        json_decref (parsed);
        return xinf_gw_error_bad (error, field, "must be a JSON Schema (an object, or its JSON text)");
    }
    char *text = json_dumps (schema, JSON_COMPACT);
    json_decref (parsed);
    if (!text || strlen (text) > XINF_GW_SCHEMA_BYTES) {
        free (text);
        return xinf_gw_error_bad (error, field, "the schema must be at most %d bytes as compact JSON",
                                  XINF_GW_SCHEMA_BYTES);
    }
    char reason [400];
    xinf_json_schema_t *compiled = xinf_json_schema_new (text, strlen (text), reason, sizeof reason);
    if (!compiled) {
        free (text);
        return xinf_gw_error_bad (error, field, "the schema cannot be kept: %s", reason);
    }
    xinf_json_schema_destroy (&compiled);
    out->json_schema = text;
    return 0;
}

//  An expression (or a GBNF grammar) compiled and kept as its text in
//  out->regex (out->gbnf).
static int
s_regex (const char *text, size_t size, bool gbnf, const char *field, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    char reason [400];
    xinf_regex_t *compiled = gbnf ? xinf_regex_new_gbnf (text, size, reason, sizeof reason)
                                  : xinf_regex_new (text, size, reason, sizeof reason);
    if (!compiled)
        return xinf_gw_error_bad (error, field, "the %s cannot be kept: %s", gbnf ? "grammar" : "regular expression",
                                  reason);
    xinf_regex_destroy (&compiled);
    char **kept = gbnf ? &out->gbnf : &out->regex;
    *kept = strndup (text, size);
    return *kept ? 0 : xinf_gw_error_bad (error, field, "out of memory");
}

//  A field's expression (or GBNF grammar): a string of at most
//  XINF_REGEX_PATTERN_MAX bytes.
static int
s_regex_field (json_t *value, bool gbnf, const char *field, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    if (!json_is_string (value) || json_string_length (value) > XINF_REGEX_PATTERN_MAX)
        return xinf_gw_error_bad (error, field, "must be a %s of at most %d bytes",
                                  gbnf ? "GBNF grammar" : "regular expression", XINF_REGEX_PATTERN_MAX);
    return s_regex (json_string_value (value), json_string_length (value), gbnf, field, out, error);
}

//  The answer is one of the strings: an alternation of them, quoted.
static int
s_choice (json_t *value, const char *field, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    size_t count = json_array_size (value);
    if (!json_is_array (value) || count == 0 || count > S_CHOICES_MAX)
        return xinf_gw_error_bad (error, field, "must be an array of 1 to %d strings", S_CHOICES_MAX);
    char *pattern = malloc (XINF_REGEX_PATTERN_MAX + 1);
    size_t length = 0;
    int rc = pattern ? 0 : xinf_gw_error_bad (error, field, "out of memory");
    for (size_t index = 0; index < count && rc == 0; index++) {
        json_t *item = json_array_get (value, index);
        if (!json_is_string (item)) {
            rc = xinf_gw_error_bad (error, field, "item %zu is not a string", index);
            break;
        }
        if (index > 0)
            pattern [length++] = '|';
        long quoted = length + 2 > XINF_REGEX_PATTERN_MAX ? -1
                    : xinf_regex_quote (json_string_value (item), json_string_length (item), pattern + length,
                                        XINF_REGEX_PATTERN_MAX + 1 - length);
        if (quoted < 0)
            rc = xinf_gw_error_bad (error, field, "the choices must be at most %d bytes together (with their "
                                    "metacharacters escaped)", XINF_REGEX_PATTERN_MAX);
        else
            length += (size_t) quoted;
    }
    if (rc == 0)
        rc = s_regex (pattern, length, false, field, out, error);
    free (pattern);
    return rc;
}

//  OpenAI's response_format: {"type": "text"}, {"type": "json_object"}
//  (llama-server's with a "schema" too) or {"type": "json_schema",
//  "json_schema": {"name", "schema", "strict"}}.
static int
s_response_format (json_t *format, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    const char *type = json_is_object (format) ? json_string_value (json_object_get (format, "type")) : NULL;
    if (!type)
        return xinf_gw_error_bad (error, "response_format", "must be an object with a type: text, json_object or "
                                  "json_schema");
    if (!streq (type, "text") && !streq (type, "json_object") && !streq (type, "json_schema"))
        return xinf_gw_error_bad (error, "response_format", "type '%.40s' is not text, json_object or json_schema",
                                  type);
    json_t *schema = streq (type, "json_schema") ? json_object_get (json_object_get (format, "json_schema"), "schema")
                   : json_object_get (format, "schema");
    if (streq (type, "json_schema") && !json_is_object (schema))
        return xinf_gw_error_bad (error, "response_format", "json_schema needs {\"json_schema\": {\"name\": ..., "
                                  "\"schema\": {...}}}");
    if (streq (type, "text"))
        return 0;
    out->json_object = !schema;
    return schema ? s_schema (schema, "response_format", out, error) : 0;
}

//  vLLM's structured_outputs: one of json, regex, choice, json_object.
static int
s_structured (json_t *given, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    if (!json_is_object (given))
        return xinf_gw_error_bad (error, "structured_outputs", "must be an object with one of json, regex, choice "
                                  "or json_object");
    json_t *tag = json_object_get (given, "structural_tag");
    if (tag && !json_is_null (tag))
        return xinf_gw_error_bad (error, "structured_outputs", "structural_tag is not supported; use json, regex, "
                                  "choice or grammar");
    json_t *json = json_object_get (given, "json"), *regex = json_object_get (given, "regex");
    json_t *choice = json_object_get (given, "choice"), *object = json_object_get (given, "json_object");
    json_t *grammar = json_object_get (given, "grammar");
    size_t count = (json && !json_is_null (json)) + (regex && !json_is_null (regex))
                 + (choice && !json_is_null (choice)) + json_is_true (object) + (grammar && !json_is_null (grammar));
    if (count != 1)
        return xinf_gw_error_bad (error, "structured_outputs", "needs exactly one of json, regex, choice, grammar or "
                                  "json_object (%zu given)", count);
    if (json_is_true (object)) {
        out->json_object = true;
        return 0;
    }
    return json && !json_is_null (json) ? s_schema (json, "structured_outputs", out, error)
         : regex && !json_is_null (regex) ? s_regex_field (regex, false, "structured_outputs", out, error)
         : grammar && !json_is_null (grammar) ? s_regex_field (grammar, true, "structured_outputs", out, error)
         : s_choice (choice, "structured_outputs", out, error);
}

//  The fields given (not null; response_format of type text is none).
static size_t
s_given (json_t *root, const char **first, const char **second)
{
    static const char *const fields [] = {
        "response_format", "json_schema", "guided_json", "guided_regex", "guided_choice", "structured_outputs",
        "grammar", "guided_grammar"
    };
    size_t count = 0;
    for (size_t index = 0; index < sizeof fields / sizeof fields [0]; index++) {
        json_t *value = json_object_get (root, fields [index]);
        if (!value || json_is_null (value) || (index >= 6 && json_is_string (value) && json_string_length (value) == 0))
            continue;                           //  llama-server's clients send an empty grammar for none
        if (index == 0 && json_is_object (value)
        &&  streq (json_string_value (json_object_get (value, "type")) ?: "", "text"))
            continue;
        *(count == 0 ? first : second) = fields [index];
        count++;
    }
    return count;
}

int
xinf_gw_oai_guided (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    const char *first = NULL, *second = NULL;
    size_t given = s_given (root, &first, &second);
    if (given == 0)
        return 0;
    if (given > 1)
        return xinf_gw_error_bad (error, second, "only one of response_format, json_schema, guided_json, "
                                  "guided_regex, guided_choice, grammar, guided_grammar and structured_outputs may "
                                  "constrain an answer (%s is given too)", first);
    json_t *value = json_object_get (root, first);
    out->constraint = first;
    if (streq (first, "response_format"))
        return s_response_format (value, out, error);
    if (streq (first, "json_schema") || streq (first, "guided_json"))
        return s_schema (value, first, out, error);
    if (streq (first, "guided_regex"))
        return s_regex_field (value, false, first, out, error);
    if (streq (first, "guided_choice"))
        return s_choice (value, first, out, error);
    if (streq (first, "grammar") || streq (first, "guided_grammar"))
        return s_regex_field (value, true, first, out, error);
    return s_structured (value, out, error);
}
