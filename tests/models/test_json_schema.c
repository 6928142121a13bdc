/*  test_json_schema: JSON Schema answers (models/xinf_json_schema).
    - compiling: each unsupported keyword, a schema of any value, a root
      that is no container, alternatives that begin alike, a bad $ref and
      too many properties are refused, naming what;
    - the grammar against a checker written from JSON Schema's rules
      (schema_cases.py, on Python's json module) on random instances of
      four schemas and their mutations: accepted exactly when valid, every
      prefix of a valid one taken;
    - its limits: nesting and whitespace; refused bytes leave the state;
    - the JSON masks over it: the tokens allowed from every state on the
      way through instances, against feeding each token's piece. */
#include "test_unit.h"
#include "test_tokenizer.h"
#include "xinf_json_masks.h"
#include "xinf_json_schema.h"
#include "xinf_token_mask.h"

#include <string.h>

static xinf_json_schema_t *
s_compile (const char *text, char *error, size_t size)
{
    return xinf_json_schema_new (text, strlen (text), error, size);
}

static void
test_refused (void)
{
    struct { const char *schema, *needle; } bad [] = {
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"pattern\": \"(?=x)\"}}}",
          "lookaround" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"pattern\": \"x\", "
          "\"maxLength\": 3}}}", "cannot be kept together" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"maxLength\": 5000}}}",
          "above 1000" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"pattern\": \"^\\\"$\"}}}",
          "matches no text" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"pattern\": "
          "\"^(a|b)*a(a|b){11}$\"}}}", "more than 2000 automaton states" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\", \"minimum\": 1}}}", "'minimum'" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {}}}", "allows any value" },
        { "{\"type\": \"object\", \"properties\": {\"a\": true}}", "must be an object" },
        { "{\"type\": \"string\"}", "root of the schema must be an object or an array" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}}}",
          "begin with different characters" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#/$defs/missing\"}}}", "$ref '#/$defs/missing'" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"enum\": [{\"x\": 1}]}}}", "enum values must be" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"enum\": [1.5]}}}", "enum values must be" },
        { "{\"type\": \"object\", \"required\": [\"b\"], \"properties\": {\"a\": {\"type\": \"null\"}}}", "'b'" },
        { "{\"type\": \"array\"}", "needs items" },
        { "{\"type\": \"array\", \"items\": {\"type\": \"null\"}, \"minItems\": 3, \"maxItems\": 2}", "minItems is more" },
        { "{\"type\": \"object\", \"allOf\": []}", "'allOf'" },
        { "{\"type\": \"thing\"}", "not a JSON Schema type" },
        { "not json", "not JSON" },
        //  A helper's review: left recursion, alternatives alike through a $ref, depth, siblings
        { "{\"type\": \"object\", \"properties\": {\"x\": {\"$ref\": \"#/$defs/a\"}}, \"$defs\": {\"a\": "
          "{\"anyOf\": [{\"$ref\": \"#/$defs/a\"}, {\"type\": \"string\"}]}}}", "left recursion" },
        { "{\"type\": \"object\", \"properties\": {\"x\": {\"$ref\": \"#/$defs/a\"}}, \"$defs\": {\"a\": "
          "{\"$ref\": \"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}}}", "left recursion" },
        { "{\"type\": \"object\", \"properties\": {\"x\": {\"$ref\": \"#/$defs/b\"}, \"y\": {\"anyOf\": "
          "[{\"$ref\": \"#/$defs/b\"}, {\"type\": \"null\"}]}}, \"$defs\": {\"b\": {\"anyOf\": [{\"$ref\": "
          "\"#/$defs/b\"}, {\"$ref\": \"#/$defs/b\"}]}}}", "left recursion" },
        { "{\"type\": \"object\", \"properties\": {\"x\": {\"$ref\": \"#/$defs/b\"}}, \"$defs\": {\"b\": "
          "{\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"array\", \"items\": {\"oneOf\": [{\"type\": "
          "\"string\"}, {\"$ref\": \"#/$defs/b\"}]}}]}}}", "begin with different characters" },
        { "{\"type\": \"object\", \"required\": [\"x\"], \"properties\": {\"x\": {\"$ref\": \"#/$defs/a\"}}, "
          "\"$defs\": {\"a\": {\"type\": \"object\", \"required\": [\"x\"], \"properties\": {\"x\": "
          "{\"$ref\": \"#/$defs/a\"}}}}}", "can never be complete" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"const\": \"c\", \"enum\": [\"d\"]}}}",
          "enum beside const" },
        { "{\"type\": \"object\", \"required\": [\"a\"], \"properties\": {\"a\": {\"type\": \"null\"}}, "
          "\"anyOf\": [{\"type\": \"object\"}]}", "anyOf or oneOf beside" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#/$defs/o\", \"required\": [\"k\"]}}, "
          "\"$defs\": {\"o\": {\"type\": \"object\"}}}", "$ref beside other keywords" },
        { "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"enum\": [1, 2]}}}",
          "no value of enum or const" },
    };
    char error [512];
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        xinf_json_schema_t *schema = s_compile (bad [index].schema, error, sizeof error);
        if (schema || !strstr (error, bad [index].needle))
            fprintf (stderr, "schema %zu: wanted '%s' in '%s'\n", index, bad [index].needle, schema ? "(compiled)" : error);
        CHECK (!schema && strstr (error, bad [index].needle));
    }
    //  Nine required containers: more than a value may nest
    char deep [1024] = "", tail [256] = "";
    for (int level = 0; level < 8; level++) {
        strcat (deep, "{\"type\": \"object\", \"required\": [\"a\"], \"properties\": {\"a\": ");
        strcat (tail, "}}");
    }
    strcat (deep, "{\"type\": \"array\", \"minItems\": 1, \"items\": {\"type\": \"null\"}}");
    strcat (deep, tail);
    CHECK (!s_compile (deep, error, sizeof error) && strstr (error, "more than 8 nested"));
    //  33 properties: over the limit
    char wide [2048] = "{\"type\": \"object\", \"properties\": {";
    for (int property = 0; property < 33; property++)
        snprintf (wide + strlen (wide), sizeof wide - strlen (wide), "%s\"p%d\": {\"type\": \"null\"}",
                  property ? ", " : "", property);
    strcat (wide, "}}");
    CHECK (!s_compile (wide, error, sizeof error) && strstr (error, "up to 32 properties"));
}

static bool
s_accepts (const xinf_json_schema_t *schema, const void *bytes, size_t size)
{
    xinf_schema_state_t state;
    xinf_schema_start (&state, schema);
    return xinf_schema_feed (&state, bytes, size) && xinf_schema_done (&state);
}

//  Strings kept to a pattern (searched unless anchored), a length or a
//  format, never with an escape; the masks over them.
static void
test_patterns (void)
{
    char error [512];
    xinf_json_schema_t *schema = s_compile (
        "{\"type\": \"object\", \"properties\": {\"code\": {\"type\": \"string\", \"pattern\": \"^[A-Z]{2}-\\\\d+$\"}, "
        "\"has\": {\"type\": \"string\", \"pattern\": \"ab\"}, \"n\": {\"type\": \"string\", \"minLength\": 2, "
        "\"maxLength\": 3}, \"day\": {\"type\": [\"string\", \"null\"], \"format\": \"date\"}, \"id\": {\"type\": "
        "\"string\", \"format\": \"uuid\"}, \"free\": {\"type\": \"string\", \"format\": \"hostname\"}}, "
        "\"required\": [\"code\"]}", error, sizeof error);
    if (!schema)
        fprintf (stderr, "      %s\n", error);
    CHECK (schema);
    struct { const char *text; bool valid; } cases [] = {
        { "{\"code\": \"AB-12\"}", true }, { "{\"code\": \"AB-\"}", false }, { "{\"code\": \"ab-1\"}", false },
        { "{\"code\": \"AB-1x\"}", false }, { "{\"code\": \"AB-\\u0031\"}", false },
        { "{\"code\": \"XY-7\", \"has\": \"--ab--\"}", true }, { "{\"code\": \"XY-7\", \"has\": \"ab\"}", true },
        { "{\"code\": \"XY-7\", \"has\": \"a b\"}", false }, { "{\"code\": \"XY-7\", \"has\": \"a\\\"ab\"}", false },
        { "{\"code\": \"XY-7\", \"n\": \"\xc3\xa9t\xc3\xa9\"}", true }, { "{\"code\": \"XY-7\", \"n\": \"a\"}", false },
        { "{\"code\": \"XY-7\", \"n\": \"abcd\"}", false },
        { "{\"code\": \"XY-7\", \"day\": \"2026-12-05\"}", true }, { "{\"code\": \"XY-7\", \"day\": null}", true },
        { "{\"code\": \"XY-7\", \"day\": \"2026-13-05\"}", false },
        { "{\"code\": \"XY-7\", \"id\": \"123e4567-e89b-12d3-a456-426614174000\"}", true },
        { "{\"code\": \"XY-7\", \"id\": \"123e4567\"}", false },
        { "{\"code\": \"XY-7\", \"free\": \"any \\\"text\\\"\"}", true },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        bool accepted = s_accepts (schema, cases [index].text, strlen (cases [index].text));
        if (accepted != cases [index].valid)
            fprintf (stderr, "      %s: %d\n", cases [index].text, accepted);
        CHECK (accepted == cases [index].valid);
    }
    //  Inside a pattern's text, a state that takes no byte but the quote is a whole match
    xinf_schema_state_t state;
    xinf_schema_start (&state, schema);
    CHECK (xinf_schema_feed (&state, "{\"code\": \"QQ-9", 14) && !xinf_schema_in_text (&state));
    CHECK (xinf_schema_step (&state, '"') && xinf_schema_feed (&state, "}", 1) && xinf_schema_done (&state));
    xinf_json_schema_destroy (&schema);
    //  More patterned strings than the limit: 3 objects of 22
    char *many = malloc (16384);
    strcpy (many, "{\"type\": \"object\", \"properties\": {");
    for (int outer = 0; outer < 3; outer++) {
        sprintf (many + strlen (many), "%s\"o%d\": {\"type\": \"object\", \"properties\": {", outer ? ", " : "", outer);
        for (int index = 0; index < 22; index++)
            sprintf (many + strlen (many), "%s\"p%d\": {\"type\": \"string\", \"pattern\": \"^a$\"}", index ? ", " : "",
                     index);
        strcat (many, "}}");
    }
    strcat (many, "}}");
    CHECK (!s_compile (many, error, sizeof error) && strstr (error, "more than 64 strings"));
    free (many);
}

static void
test_limits (void)
{
    char error [512];
    xinf_json_schema_t *nested = s_compile ("{\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/a\"}, \"$defs\": "
                                            "{\"a\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/a\"}}}}",
                                            error, sizeof error);
    CHECK (nested);
    char text [64] = "";
    for (int depth = 1; depth <= XINF_SCHEMA_DEPTH_MAX + 1; depth++) {
        memset (text, '[', (size_t) depth);
        memset (text + depth, ']', (size_t) depth);
        CHECK (s_accepts (nested, text, 2 * (size_t) depth) == (depth <= XINF_SCHEMA_DEPTH_MAX));
    }
    xinf_json_schema_destroy (&nested);
    xinf_json_schema_t *schema = s_compile ("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, "
                                            "\"b\": {\"type\": \"boolean\"}}, \"required\": [\"b\"]}", error, sizeof error);
    CHECK (schema);
    CHECK (s_accepts (schema, "{\"a\":-0,\"b\":true}", 17) && s_accepts (schema, "{\"b\":false}", 11));
    CHECK (!s_accepts (schema, "{\"a\":1}", 7) && !s_accepts (schema, "{\"b\":true,\"a\":1}", 16));
    CHECK (!s_accepts (schema, "{\"a\":1.5,\"b\":true}", 18) && !s_accepts (schema, "{\"c\":1,\"b\":true}", 16));
    snprintf (text, sizeof text, "{%*s\"b\":true}", XINF_JSON_SPACES_MAX + 1, "");
    CHECK (!s_accepts (schema, text, strlen (text)));
    snprintf (text, sizeof text, "{%*s\"b\":true}", XINF_JSON_SPACES_MAX, "");
    CHECK (s_accepts (schema, text, strlen (text)));
    xinf_schema_state_t state, before;
    xinf_schema_start (&state, schema);
    CHECK (xinf_schema_feed (&state, "{\"a\":1", 6));
    before = state;
    CHECK (!xinf_schema_step (&state, '.') && !xinf_schema_feed (&state, "2}", 2));
    CHECK (memcmp (&state, &before, sizeof state) == 0);
    xinf_json_schema_destroy (&schema);
}

//  A recursive schema of optional objects: a key whose value could not
//  close under the nesting limit is not offered, so the object closes.
static void
test_depth_fits (void)
{
    char error [512];
    xinf_json_schema_t *tree = s_compile ("{\"type\": \"object\", \"properties\": {\"k\": {\"$ref\": \"#/$defs/t\"}}, "
                                          "\"$defs\": {\"t\": {\"type\": \"object\", \"properties\": {\"k\": "
                                          "{\"$ref\": \"#/$defs/t\"}}}}}", error, sizeof error);
    CHECK (tree);
    xinf_schema_state_t state;
    xinf_schema_start (&state, tree);
    CHECK (xinf_schema_step (&state, '{'));
    for (int level = 1; level < XINF_SCHEMA_DEPTH_MAX; level++)
        CHECK (xinf_schema_feed (&state, "\"k\":{", 5));
    CHECK (!xinf_schema_step (&state, '"'));                        //  a ninth object would not fit
    for (int level = 0; level < XINF_SCHEMA_DEPTH_MAX; level++)
        CHECK (xinf_schema_step (&state, '}'));
    CHECK (xinf_schema_done (&state));
    //  enum beside type keeps the type's values; two schemas' states never share bytes
    xinf_json_schema_t *typed = s_compile ("{\"type\": \"object\", \"required\": [\"a\"], \"properties\": {\"a\": "
                                           "{\"type\": \"string\", \"enum\": [\"x\", 1]}}}", error, sizeof error);
    CHECK (typed && s_accepts (typed, "{\"a\":\"x\"}", 9) && !s_accepts (typed, "{\"a\":1}", 7));
    xinf_schema_state_t other;
    xinf_schema_start (&other, typed);
    CHECK (other.serial != 0 && other.serial != state.serial);
    xinf_json_schema_destroy (&typed);
    xinf_json_schema_destroy (&tree);
}

//  Random walks over the bytes a state allows: never a dead end (no byte
//  allowed, the value not complete).
static void
s_walks (const xinf_json_schema_t *schema, uint64_t *seed, size_t *steps)
{
    for (int walk = 0; walk < 40; walk++) {
        xinf_schema_state_t state;
        xinf_schema_start (&state, schema);
        for (int step = 0; step < 300 && !xinf_schema_done (&state); step++) {
            unsigned char allowed [256];
            size_t count = 0;
            for (unsigned byte = 0; byte < 256; byte++) {
                xinf_schema_state_t copy = state;
                if (xinf_schema_step (&copy, (unsigned char) byte))
                    allowed [count++] = (unsigned char) byte;
            }
            CHECK (count > 0);
            //  Prefer closers half the time, so that walks also end
            *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned char pick = allowed [(*seed >> 33) % count];
            for (size_t at = 0; (*seed >> 20) % 2 && at < count; at++)
                if (allowed [at] == '}' || allowed [at] == ']' || allowed [at] == '"')
                    pick = allowed [at];
            CHECK (xinf_schema_step (&state, pick));
            (*steps)++;
        }
    }
}

static size_t
s_unhex (const char *hex, size_t length, unsigned char *bytes)
{
    size_t size = 0;
    for (size_t at = 0; at + 1 < length; at += 2) {
        unsigned high = (unsigned) (hex [at] >= 'a' ? hex [at] - 'a' + 10 : hex [at] - '0');
        unsigned low = (unsigned) (hex [at + 1] >= 'a' ? hex [at + 1] - 'a' + 10 : hex [at + 1] - '0');
        bytes [size++] = (unsigned char) (high * 16 + low);
    }
    return size;
}

//  The cases of schema_cases.py.
static void
test_cases (const char *path)
{
    FILE *file = fopen (path, "r");
    CHECK (file);
    static char line [1 << 16];
    static unsigned char bytes [1 << 15];
    xinf_json_schema_t *schemas [16] = { NULL };
    size_t count = 0, cases = 0, valid = 0;
    CHECK (fgets (line, sizeof line, file) && sscanf (line, "%zu", &count) == 1 && count <= 16);
    char error [512];
    for (size_t index = 0; index < count; index++) {
        CHECK (fgets (line, sizeof line, file));
        const char *hex = strchr (line, ' ') + 1;
        size_t size = s_unhex (hex, strcspn (hex, "\n"), bytes);
        schemas [index] = xinf_json_schema_new ((const char *) bytes, size, error, sizeof error);
        if (!schemas [index])
            fprintf (stderr, "schema %zu: %s\n", index, error);
        CHECK (schemas [index]);
    }
    uint64_t seed = 5;
    size_t steps = 0;
    for (size_t index = 0; index < count; index++)
        s_walks (schemas [index], &seed, &steps);
    fprintf (stderr, "      %zu random steps over the schemas: never a dead end\n", steps);
    while (fgets (line, sizeof line, file)) {
        size_t number;
        int expected;
        CHECK (sscanf (line, "%zu %d", &number, &expected) == 2 && number < count);
        const char *hex = strchr (strchr (line, ' ') + 1, ' ') + 1;
        size_t size = s_unhex (hex, strcspn (hex, "\n"), bytes);
        bool got = s_accepts (schemas [number], bytes, size);
        if (got != (expected == 1))
            fprintf (stderr, "case %zu (schema %zu): the checker says %d, the grammar %d: %.*s\n", cases, number,
                     expected, got, (int) size, bytes);
        CHECK (got == (expected == 1));
        xinf_schema_state_t state;
        xinf_schema_start (&state, schemas [number]);
        for (size_t at = 0; expected && at < size; at++)
            CHECK (xinf_schema_step (&state, bytes [at]));
        cases++;
        valid += expected == 1;
    }
    fclose (file);
    for (size_t index = 0; index < count; index++)
        xinf_json_schema_destroy (&schemas [index]);
    CHECK (cases > 1000 && valid > 500 && cases - valid > 500);
    fprintf (stderr, "      %zu cases as the checker reads them, %zu of them valid\n", cases, valid);
}

//  The masks over a schema from each state through an instance, against
//  feeding every token's piece.
static void
test_masks (void)
{
    static const char *const merges [] = { "{ \"", "\" :", "t r", "tr u", "tru e", "Ġ \"", "n a", "na m", "nam e",
                                           "} ]", "] }", "1 2", "\" ,", "n u", "nu l", "nul l" };
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, merges, sizeof merges / sizeof merges [0]);
    test_vocab_add (&vocab, "<|end|>", 7, 0, XINF_TOKEN_CONTROL);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    spec.eos_id = (int32_t) vocab.count - 1;
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    char error [512];
    xinf_json_schema_t *schema = s_compile ("{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, "
                                            "\"code\": {\"type\": \"string\", \"pattern\": \"^[a-z]{2}\\\\d$\"}, "
                                            "\"n\": {\"type\": \"integer\"}, \"tags\": {\"type\": \"array\", \"items\": "
                                            "{\"enum\": [\"true\", true, null, 12]}}}, \"required\": [\"name\"]}",
                                            error, sizeof error);
    xinf_json_masks_t *masks = xinf_json_masks_new (tokenizer);
    CHECK (schema && masks);
    const char *text = "{\"name\": \"ab \\u00e9\\\"\", \"code\": \"tr7\", \"tags\": [\"true\", true, null, 12]}";
    size_t size = xinf_tokenizer_vocab (tokenizer), words = xinf_token_mask_words (size), states = 0;
    uint32_t *bits = calloc (words, sizeof (uint32_t));
    xinf_schema_state_t state;
    xinf_schema_start (&state, schema);
    for (size_t at = 0; at <= strlen (text); at++) {
        xinf_json_masks_walk (masks, &xinf_grammar_schema, &state, bits);
        const uint32_t *cached = xinf_json_masks_get (masks, &xinf_grammar_schema, &state);
        CHECK (memcmp (cached, bits, words * sizeof (uint32_t)) == 0);
        for (size_t id = 0; id < size; id++) {
            char piece [XINF_TOKENIZER_TEXT_MAX];
            long length = xinf_tokenizer_piece (tokenizer, (int32_t) id, piece, sizeof piece);
            xinf_schema_state_t copy = state;
            bool allowed = length > 0 && !xinf_tokenizer_is_control (tokenizer, (int32_t) id)
                        && xinf_schema_feed (&copy, piece, (size_t) length);
            bool ended = xinf_schema_done (&state) && xinf_tokenizer_is_end (tokenizer, (int32_t) id);
            CHECK ((allowed || ended) == ((bits [id / 32] >> (id % 32)) & 1));
        }
        states++;
        if (text [at])
            CHECK (xinf_schema_step (&state, (unsigned char) text [at]));
    }
    CHECK (xinf_schema_done (&state));
    fprintf (stderr, "      %zu states: the masks are the tokens whose pieces the schema takes\n", states);
    free (bits);
    xinf_json_masks_destroy (&masks);
    xinf_json_schema_destroy (&schema);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 2);
    fprintf (stderr, "test_json_schema:\n");
    RUN (test_refused);
    RUN (test_limits);
    RUN (test_patterns);
    RUN (test_depth_fits);
    RUN (test_masks);
    test_cases (argv [1]);
    return 0;
}
