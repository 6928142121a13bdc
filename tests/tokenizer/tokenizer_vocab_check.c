/*  tokenizer_vocab_check: xinf's tokenizer on a real vocabulary against the
    reference tokenizer that carries it. Reads the JSON that
    vocab/dump.mjs writes (the vocabulary as a GGUF file would give it, and
    the reference's ids and decoding of every corpus case), builds an
    xinf_tokenizer from it, encodes each case (with BOS when the reference
    adds one) and compares the ids; decodes xinf's ids and the reference's
    and compares them with the text where the reference round-trips.
    Prints the first mismatch of each failing case (position, both id
    sequences around it, the token texts) and the agreement in figures.
    The check runs twice: on a tokenizer built from the arrays directly,
    and on one loaded (xinf_model_load_tokenizer) from a tokenizer-only
    GGUF file that xinf's writer makes of them (VOCAB.json.gguf), as a
    model file would carry them (tokenizer.ggml.*).
    Exit 0 when every case agrees, 1 when one does not, 2 on bad input.

    Usage: tokenizer_vocab_check VOCAB.json
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xinf_gguf_writer.h"
#include "xinf_model.h"
#include "xinf_tokenizer.h"

#define CONTEXT 4               //  ids shown either side of a mismatch
#define MAX_REPORTS 10          //  failing cases shown in full

typedef struct {
    json_t *root;
    const char *name;
    xinf_tokenizer_spec_t spec;
    const char **tokens;
    size_t *token_lengths;
    float *scores;
    int32_t *types;
    const char **merges;
    size_t *merge_lengths;
    json_t *cases;
} vocab_t;

typedef struct {
    size_t cases, cases_same;
    size_t ids, ids_same;           //  reference ids, those xinf matches
    size_t decodes, decodes_same;   //  round-tripping cases, xinf's decode agrees
    size_t reports;
} tally_t;

static int64_t
int_field (json_t *root, const char *key)
{
    json_t *value = json_object_get (root, key);
    return json_is_integer (value) ? (int64_t) json_integer_value (value) : -1;
}

//  Fills texts/lengths from a JSON array of strings; false on a non-string.
static bool
string_array (json_t *array, const char ***texts_p, size_t **lengths_p, size_t *count)
{
    *count = json_array_size (array);
    *texts_p = calloc (*count + 1, sizeof (char *));
    *lengths_p = calloc (*count + 1, sizeof (size_t));
    for (size_t i = 0; i < *count; i++) {
        json_t *item = json_array_get (array, i);
        if (!json_is_string (item))
            return false;
        (*texts_p) [i] = json_string_value (item);
        (*lengths_p) [i] = json_string_length (item);
    }
    return true;
}

static bool
vocab_arrays (vocab_t *self)
{
    xinf_tokenizer_spec_t *spec = &self->spec;
    if (!string_array (json_object_get (self->root, "tokens"), &self->tokens,
                       &self->token_lengths, &spec->n_tokens))
        return false;
    spec->tokens = self->tokens;
    spec->token_lengths = self->token_lengths;
    json_t *types = json_object_get (self->root, "token_types");
    spec->n_token_types = json_array_size (types);
    self->types = calloc (spec->n_token_types + 1, sizeof (int32_t));
    for (size_t i = 0; i < spec->n_token_types; i++)
        self->types [i] = (int32_t) json_integer_value (json_array_get (types, i));
    spec->token_types = self->types;
    json_t *scores = json_object_get (self->root, "scores");
    if (scores) {
        spec->n_scores = json_array_size (scores);
        self->scores = calloc (spec->n_scores + 1, sizeof (float));
        for (size_t i = 0; i < spec->n_scores; i++)
            self->scores [i] = (float) json_number_value (json_array_get (scores, i));
        spec->scores = self->scores;
    }
    json_t *merges = json_object_get (self->root, "merges");
    if (merges) {
        if (!string_array (merges, &self->merges, &self->merge_lengths, &spec->n_merges))
            return false;
        spec->merges = self->merges;
        spec->merge_lengths = self->merge_lengths;
    }
    return true;
}

static void
vocab_destroy (vocab_t *self)
{
    free (self->tokens);
    free (self->token_lengths);
    free (self->scores);
    free (self->types);
    free (self->merges);
    free (self->merge_lengths);
    json_decref (self->root);
}

static bool
vocab_load (vocab_t *self, const char *path)
{
    memset (self, 0, sizeof (*self));
    json_error_t error;
    self->root = json_load_file (path, 0, &error);
    if (!self->root) {
        fprintf (stderr, "%s:%d: %s\n", path, error.line, error.text);
        return false;
    }
    json_t *name = json_object_get (self->root, "name");
    json_t *model = json_object_get (self->root, "model");
    json_t *pre = json_object_get (self->root, "pre");
    self->cases = json_object_get (self->root, "cases");
    if (!json_is_string (name) || !json_is_string (model) || !json_is_array (self->cases)) {
        fprintf (stderr, "%s: name, model or cases missing\n", path);
        return false;
    }
    self->name = json_string_value (name);
    xinf_tokenizer_spec_t *spec = &self->spec;
    spec->model = json_string_value (model);
    spec->pre = json_is_string (pre) ? json_string_value (pre) : NULL;
    spec->add_bos = json_is_true (json_object_get (self->root, "add_bos"));
    spec->bos_id = int_field (self->root, "bos_id");
    spec->eos_id = int_field (self->root, "eos_id");
    spec->unk_id = int_field (self->root, "unk_id");
    spec->eot_id = int_field (self->root, "eot_id");
    spec->eom_id = -1;
    //  add_space_prefix is given only where the GGUF file sets it (Gemma 3:
    //  false); llama's default is true
    spec->no_space_prefix = json_is_false (json_object_get (self->root, "add_space_prefix"));
    if (!vocab_arrays (self)) {
        fprintf (stderr, "%s: a token or merge is not a string\n", path);
        return false;
    }
    return true;
}

//  Reads a JSON array of ids; returns how many (0 on a bad array).
static size_t
json_ids (json_t *array, int32_t **ids_p)
{
    size_t count = json_array_size (array);
    *ids_p = calloc (count + 1, sizeof (int32_t));
    for (size_t i = 0; i < count; i++)
        (*ids_p) [i] = (int32_t) json_integer_value (json_array_get (array, i));
    return count;
}

//  Prints ids [from, to) with their token texts.
static void
print_ids (xinf_tokenizer_t *tok, const char *who, const int32_t *ids, size_t count,
           size_t from, size_t to)
{
    printf ("    %-5s", who);
    if (from > 0)
        printf (" ...");
    for (size_t i = from; i < to && i < count; i++) {
        size_t length = 0;
        const char *text = xinf_tokenizer_text (tok, ids [i], &length);
        printf (" %d'%.*s'", ids [i], text ? (int) length : 3, text ? text : "???");
    }
    if (to < count)
        printf (" ...");
    printf ("\n");
}

static void
report_mismatch (xinf_tokenizer_t *tok, size_t index, const char *text,
                 const int32_t *want, size_t n_want, const int32_t *got, size_t n_got)
{
    size_t at = 0;
    while (at < n_want && at < n_got && want [at] == got [at])
        at++;
    json_t *string = json_string (text);
    char *quoted = string ? json_dumps (string, JSON_ENCODE_ANY) : NULL;
    json_decref (string);
    printf ("  case %zu %.200s\n    first difference at id %zu (reference %zu ids, xinf %zu)\n",
            index, quoted ? quoted : "?", at, n_want, n_got);
    free (quoted);
    size_t from = at > CONTEXT ? at - CONTEXT : 0;
    print_ids (tok, "want", want, n_want, from, at + CONTEXT + 1);
    print_ids (tok, "xinf", got, n_got, from, at + CONTEXT + 1);
}

//  Decodes ids; returns a malloc'ed NUL-terminated string or NULL.
static char *
decode_all (xinf_tokenizer_t *tok, const int32_t *ids, size_t count, size_t *length)
{
    long need = xinf_tokenizer_decode (tok, ids, count, NULL, 0);
    if (need < 0)
        return NULL;
    char *text = malloc ((size_t) need + 1);
    xinf_tokenizer_decode (tok, ids, count, text, (size_t) need + 1);
    *length = (size_t) need;
    return text;
}

//  Whether both xinf's ids and the reference's decode back to the text.
static bool
check_decode (xinf_tokenizer_t *tok, size_t index, const char *text, size_t length,
              const int32_t *want, size_t n_want, const int32_t *got, size_t n_got)
{
    size_t n_mine = 0, n_theirs = 0;
    char *mine = decode_all (tok, got, n_got, &n_mine);
    char *theirs = decode_all (tok, want, n_want, &n_theirs);
    bool same = mine && theirs && n_mine == length && n_theirs == length
             && memcmp (mine, text, length) == 0 && memcmp (theirs, text, length) == 0;
    if (!same)
        printf ("  case %zu: decode does not give the text back (xinf ids: '%.200s', reference ids: '%.200s')\n",
                index, mine ? mine : "(bad id)", theirs ? theirs : "(bad id)");
    free (mine);
    free (theirs);
    return same;
}

static void
check_case (vocab_t *vocab, xinf_tokenizer_t *tok, size_t index, tally_t *tally)
{
    json_t *item = json_array_get (vocab->cases, index);
    json_t *text_json = json_object_get (item, "text");
    json_t *decoded_json = json_object_get (item, "decoded");
    const char *text = json_string_value (text_json);
    size_t length = json_string_length (text_json);
    int32_t *want = NULL;
    size_t n_want = json_ids (json_object_get (item, "ids"), &want);
    bool bos = vocab->spec.add_bos && vocab->spec.bos_id >= 0;
    long need = xinf_tokenizer_encode (tok, text, length, bos, NULL, 0);
    size_t n_got = need > 0 ? (size_t) need : 0;
    int32_t *got = calloc (n_got + 1, sizeof (int32_t));
    if (need > 0)
        xinf_tokenizer_encode (tok, text, length, bos, got, n_got);
    size_t same = 0;
    for (size_t i = 0; i < n_want && i < n_got; i++)
        same += want [i] == got [i];
    tally->cases++;
    tally->ids += n_want;
    tally->ids_same += same;
    if (n_got == n_want && same == n_want)
        tally->cases_same++;
    else
    if (tally->reports++ < MAX_REPORTS)
        report_mismatch (tok, index, text, want, n_want, got, n_got);
    //  Where the reference round-trips, xinf's decode must too
    if (json_is_string (decoded_json) && json_string_length (decoded_json) == length
    &&  memcmp (json_string_value (decoded_json), text, length) == 0) {
        tally->decodes++;
        tally->decodes_same += check_decode (tok, index, text, length, want, n_want, got, n_got);
    }
    free (want);
    free (got);
}

//  Writes the vocabulary as the tokenizer.ggml.* keys of a GGUF file.
static bool
write_gguf (vocab_t *vocab, const char *path)
{
    const xinf_tokenizer_spec_t *spec = &vocab->spec;
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    xinf_gguf_writer_set_str (writer, "tokenizer.ggml.model", spec->model);
    if (spec->pre)
        xinf_gguf_writer_set_str (writer, "tokenizer.ggml.pre", spec->pre);
    xinf_gguf_writer_set_str_array (writer, "tokenizer.ggml.tokens", spec->tokens,
                                    spec->token_lengths, spec->n_tokens);
    xinf_gguf_writer_set_array (writer, "tokenizer.ggml.token_type", XINF_GGUF_INT32,
                                spec->token_types, spec->n_token_types);
    if (spec->scores)
        xinf_gguf_writer_set_array (writer, "tokenizer.ggml.scores", XINF_GGUF_FLOAT32,
                                    spec->scores, spec->n_scores);
    if (spec->merges)
        xinf_gguf_writer_set_str_array (writer, "tokenizer.ggml.merges", spec->merges,
                                        spec->merge_lengths, spec->n_merges);
    if (spec->bos_id >= 0)
        xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.bos_token_id", (uint32_t) spec->bos_id);
    if (spec->eos_id >= 0)
        xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.eos_token_id", (uint32_t) spec->eos_id);
    if (spec->unk_id >= 0)
        xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.unknown_token_id", (uint32_t) spec->unk_id);
    if (spec->eot_id >= 0)
        xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.eot_token_id", (uint32_t) spec->eot_id);
    if (json_object_get (vocab->root, "add_space_prefix"))
        xinf_gguf_writer_set_bool (writer, "tokenizer.ggml.add_space_prefix", !spec->no_space_prefix);
    xinf_gguf_writer_set_bool (writer, "tokenizer.ggml.add_bos_token", spec->add_bos);
    bool ok = xinf_gguf_writer_begin (writer, path) == 0 && xinf_gguf_writer_finish (writer) == 0;
    if (!ok)
        printf ("%s: cannot write %s: %s\n", vocab->name, path, xinf_gguf_writer_error (writer));
    xinf_gguf_writer_destroy (&writer);
    return ok;
}

//  Runs every case through one tokenizer; true when all agree.
static bool
check_all (vocab_t *vocab, xinf_tokenizer_t *tok, const char *how)
{
    if (*xinf_tokenizer_notes (tok))
        printf ("%s: notes: %s\n", vocab->name, xinf_tokenizer_notes (tok));
    tally_t tally = { 0 };
    for (size_t i = 0; i < json_array_size (vocab->cases); i++)
        check_case (vocab, tok, i, &tally);
    printf ("%s (%s, %zu tokens, %s): cases identical %zu/%zu, ids identical %zu/%zu, "
            "decode round trips %zu/%zu\n",
            vocab->name, json_string_value (json_object_get (vocab->root, "package")),
            vocab->spec.n_tokens, how, tally.cases_same, tally.cases, tally.ids_same, tally.ids,
            tally.decodes_same, tally.decodes);
    return tally.cases_same == tally.cases && tally.decodes_same == tally.decodes && tally.cases > 0;
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: tokenizer_vocab_check VOCAB.json\n");
        return 2;
    }
    vocab_t vocab;
    if (!vocab_load (&vocab, argv [1])) {
        vocab_destroy (&vocab);
        return 2;
    }
    char error [512] = "";
    xinf_tokenizer_t *tok = xinf_tokenizer_new (&vocab.spec, error, sizeof (error));
    bool pass = tok != NULL;
    if (tok)
        pass = check_all (&vocab, tok, "from the arrays");
    else
        printf ("%s: xinf cannot build the tokenizer: %s\n", vocab.name, error);
    xinf_tokenizer_destroy (&tok);
    size_t path_size = strlen (argv [1]) + 6;
    char *path = malloc (path_size);
    snprintf (path, path_size, "%s.gguf", argv [1]);
    if (write_gguf (&vocab, path)) {
        tok = xinf_model_load_tokenizer (path, error, sizeof (error));
        if (tok)
            pass &= check_all (&vocab, tok, "from a GGUF file");
        else {
            printf ("%s: xinf cannot load the tokenizer of %s: %s\n", vocab.name, path, error);
            pass = false;
        }
        xinf_tokenizer_destroy (&tok);
        remove (path);
    }
    else
        pass = false;
    free (path);
    vocab_destroy (&vocab);
    return pass ? 0 : 1;
}
