/*  test_regex: regular expressions as automata (models/xinf_regex).
    - refused: each unsupported construct and malformed expression,
      naming it and its offset; the limits (states, repetitions, size);
    - Python's re as the judge (regex_cases.py): random expressions with
      ASCII and multi-byte characters and texts that match them and
      edits of those: whole matches exactly where re.fullmatch says, and
      every prefix of a match taken byte by byte;
    - walks: random bytes among those the automaton takes, from the start
      until it is done or chosen to stop where it may end; never stuck
      (a state that takes no byte is a whole match); the texts written
      for regex_cases.py --check, which re must match whole;
    - UTF-8: '.', negated classes and ranges of multi-byte characters take
      whole characters only, never a stray or overlong byte;
    - the token masks over a regex (xinf_json_masks): the tokens whose
      pieces it takes, plus the end tokens where the match may end;
    - GBNF grammars without recursion (xinf_gbnf.c): matches, and every
      refusal naming the rule or the construct (those with recursion:
      test_pda.c);
    - compiled constraints shared by text (xinf_constraints.h). */
#include "test_unit.h"
#include "test_tokenizer.h"
#include "test_masks.h"
#include "xinf_constraints.h"
#include "xinf_json_masks.h"
#include "xinf_regex.h"
#include "xinf_token_mask.h"

#include <string.h>

static xinf_regex_t *
s_compile (const char *pattern, char *error, size_t size)
{
    return xinf_regex_new (pattern, strlen (pattern), error, size);
}

static bool
s_matches (const char *pattern, const char *text)
{
    char error [256];
    xinf_regex_t *regex = s_compile (pattern, error, sizeof error);
    if (!regex) {
        fprintf (stderr, "      '%s': %s\n", pattern, error);
        return false;
    }
    bool found = xinf_regex_match (regex, text, strlen (text));
    xinf_regex_destroy (&regex);
    return found;
}

static void
test_refused (void)
{
    struct { const char *pattern, *needle; } bad [] = {
        { "(a", "at offset 0: a group ( without its )" },
        { "a)", "at offset 1: a ) without its (" },
        { "[ab", "a class [ without its ]" },
        { "*a", "nothing to repeat" },
        { "a|+", "nothing to repeat" },
        { "a**", "repeats a quantifier" },
        { "a{2}{3}", "repeats a quantifier" },
        { "a++", "possessive" },
        { "a{3,2}", "least count is more" },
        { "a{1001}", "more than 1000" },
        { "(a)\\1", "backreferences" },
        { "a^b", "matches no text" },
        { "^*", "an anchor is nothing to repeat" },
        { "{2}", "nothing to repeat" },
        { "[\\d-z]", "a range's start is a class" },
        { "(?", "must be followed by" },
        { "(?#c)*a", "nothing to repeat" },
        { "a(?#c", "a comment (?# without its )" },
        { "(?=a)", "lookaround" },
        { "(?<!a)b", "lookaround" },
        { "(?i)a", "inline flags" },
        { "(?P=n)", "named backreferences" },
        { "(?P<1n>a)", "name must be" },
        { "\\bword", "word boundaries" },
        { "\\q", "unknown escape \\q" },
        { "\\x4", "hex digits" },
        { "\\uD800", "no character UTF-8" },
        { "[z-a]", "out of order" },
        { "[a-\\d]", "a range's end is a class" },
        { "a\\", "a backslash ends" },
        { "\xff", "invalid UTF-8" },
        { "\xc0\x80", "invalid UTF-8" },
        { "[^\\x00-\\U0010FFFF]", "matches no text" },
        { "(a|b)*a(a|b){14}", "automaton states" },
        { "((a{1000}){1000}){1000}", "too large" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        char error [256] = "";
        xinf_regex_t *regex = s_compile (bad [index].pattern, error, sizeof error);
        if (regex || !strstr (error, bad [index].needle))
            fprintf (stderr, "      '%s': '%s' lacks '%s'\n", bad [index].pattern, error, bad [index].needle);
        CHECK (!regex && strstr (error, bad [index].needle));
        xinf_regex_destroy (&regex);
    }
    char *huge = malloc (XINF_REGEX_PATTERN_MAX + 2);
    memset (huge, 'a', XINF_REGEX_PATTERN_MAX + 1);
    huge [XINF_REGEX_PATTERN_MAX + 1] = 0;
    char error [256];
    CHECK (!s_compile (huge, error, sizeof error) && strstr (error, "more than 16384 bytes"));
    huge [XINF_REGEX_PATTERN_MAX] = 0;
    xinf_regex_t *regex = s_compile (huge, error, sizeof error);
    CHECK (regex && xinf_regex_match (regex, huge, XINF_REGEX_PATTERN_MAX));
    xinf_regex_destroy (&regex);
    free (huge);
    //  Anchors hold where nothing came before or comes after ($ also before
    //  a last newline); lazy is greedy; octal escapes as re reads them
    CHECK (s_matches ("^ab$", "ab") && s_matches ("\\Aab\\z", "ab") && s_matches ("a+?", "aaa"));
    CHECK (s_matches ("(?:(?:^|,)\\d)+", "1,2") && !s_matches ("(?:(?:^|,)\\d)+", "12") && s_matches ("a$\\n", "a\n"));
    CHECK (!s_matches ("a$", "a\n") && !s_matches ("(^a|b)+", "ba") && s_matches ("\\101\\012", "A\n"));
    //  A loop's way back is there when its end anchors are placed; comments are skipped
    CHECK (s_matches ("(?:a$|\\n)*", "a\n") && s_matches ("(?:[a-z]+$|\\n)+", "\nab\n") && s_matches ("a(?#c)*", "aa"));
    CHECK (s_matches ("a{", "a{") && s_matches ("a{,}", "aaaa") && s_matches ("[]a]+", "]a]"));
}

static void
test_multibyte (void)
{
    CHECK (s_matches (".", "\xc3\xa9") && s_matches (".", "\xf0\x9f\x98\x80") && !s_matches (".", "\n"));
    CHECK (!s_matches (".", "\xff") && !s_matches (".", "\xc3") && !s_matches ("..", "\xc3\xa9"));
    CHECK (!s_matches (".", "\xc0\x80") && !s_matches (".", "\xed\xa0\x80") && !s_matches (".", "\xf4\x90\x80\x80"));
    CHECK (s_matches ("[^a]", "\xe4\xb8\xad") && !s_matches ("[^a]", "a"));
    CHECK (s_matches ("[\xce\xb1-\xcf\x89]+", "\xce\xb1\xce\xb2\xcf\x89") && !s_matches ("[\xce\xb1-\xcf\x89]", "a"));
    CHECK (s_matches ("[\\u0800-\\U0010FFFF]", "\xe0\xa0\x80") && s_matches ("[\\u0800-\\U0010FFFF]", "\xf4\x8f\xbf\xbf"));
    CHECK (!s_matches ("[\\u0800-\\U0010FFFF]", "\xdf\xbf"));
    //  Every code point's encoding against '.' (the surrogates refused)
    char error [256];
    xinf_regex_t *regex = s_compile (".", error, sizeof error);
    size_t taken = 0;
    for (uint32_t code = 0; code <= 0x10FFFF; code += code < 0x20000 ? 1 : 97) {
        char bytes [4];
        size_t length = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
        uint32_t value = code;
        for (size_t at = length - 1; at > 0; at--, value >>= 6)
            bytes [at] = (char) (0x80 | (value & 0x3F));
        bytes [0] = (char) (length == 1 ? value : (0xF00u >> length) | value);
        bool surrogate = code >= 0xD800 && code <= 0xDFFF;
        bool matched = xinf_regex_match (regex, bytes, length);
        CHECK (matched == (!surrogate && code != '\n'));
        taken += matched;
    }
    fprintf (stderr, "      '.' takes %zu code points' UTF-8, %zu states\n", taken, xinf_regex_states (regex));
    xinf_regex_destroy (&regex);
}

static void
test_states (void)
{
    char error [256];
    xinf_regex_t *regex = s_compile ("(yes|no|maybe)", error, sizeof error);
    CHECK (regex);
    xinf_regex_state_t state;
    xinf_regex_start (&state, regex);
    CHECK (!xinf_regex_accepting (&state) && !xinf_regex_done (&state));
    CHECK (!xinf_regex_step (&state, 'x') && xinf_regex_feed (&state, "ye", 2) && !xinf_regex_feed (&state, "sx", 2));
    CHECK (xinf_regex_step (&state, 's') && xinf_regex_done (&state) && !xinf_regex_step (&state, 's'));
    xinf_regex_destroy (&regex);
    regex = s_compile ("\\d+", error, sizeof error);
    xinf_regex_start (&state, regex);
    CHECK (xinf_regex_feed (&state, "12", 2) && xinf_regex_accepting (&state) && !xinf_regex_done (&state));
    xinf_regex_destroy (&regex);
    //  Quoted text matches itself alone
    const char *texts [] = { "a.b*c", "(x|y)", "[1]{2}", "\\d", "$^?+", "\xc3\xa9 ok" };
    for (size_t index = 0; index < sizeof texts / sizeof texts [0]; index++) {
        char quoted [64];
        CHECK (xinf_regex_quote (texts [index], strlen (texts [index]), quoted, sizeof quoted) > 0);
        CHECK (s_matches (quoted, texts [index]));
    }
    char small [4];
    CHECK (xinf_regex_quote ("a.b", 3, small, sizeof small) == -1);
}

static bool
s_gbnf_matches (const char *grammar, const char *text)
{
    char error [400];
    xinf_regex_t *regex = xinf_regex_new_gbnf (grammar, strlen (grammar), error, sizeof error);
    if (!regex) {
        fprintf (stderr, "      grammar refused: %s\n", error);
        return false;
    }
    bool found = xinf_regex_match (regex, text, strlen (text));
    xinf_regex_destroy (&regex);
    return found;
}

//  GBNF grammars without recursion: llama.cpp's syntax, rules used before
//  they are defined and more than once, comments, alternates across
//  lines; what is refused and why.
static void
test_gbnf (void)
{
    const char *moves =
        "# moves in algebraic notation\n"
        "root ::= turn (\" \" turn){0,2}\n"
        "turn ::= [1-9] [0-9]? \". \" move \" \" move  # a turn: two moves\n"
        "move ::=\n"
        "  piece? [a-h] [1-8] check? |\n"
        "  \"O-O\" \"-O\"?\n"
        "piece ::= [NBKQR]\n"
        "check ::= [+#]\n";
    CHECK (s_gbnf_matches (moves, "1. e4 e5") && s_gbnf_matches (moves, "1. e4 e5 2. Nf3 O-O-O 3. Qh5+ Ke7"));
    CHECK (!s_gbnf_matches (moves, "1. e9 e5") && !s_gbnf_matches (moves, "1. e4") && !s_gbnf_matches (moves, "1. O-O-O-O e5"));
    const char *escapes = "root ::= \"\\\"\" [^\"\\\\\\x00-\\x1f]* \"\\\"\" | \"\\u00e9\\t\" | [\\[\\]\\-]+ | .\n";
    CHECK (s_gbnf_matches (escapes, "\"h\xc3\xa9llo\"") && s_gbnf_matches (escapes, "\xc3\xa9\t"));
    CHECK (s_gbnf_matches (escapes, "[-]") && s_gbnf_matches (escapes, "\n") && !s_gbnf_matches (escapes, "\"a\\b\""));
    const char *grouped = "root ::= (\n  \"a\" |\n  \"b\" # comment\n)+ item{2} item{,1}\nitem ::= [0-9]\n";
    CHECK (s_gbnf_matches (grouped, "abba12") && s_gbnf_matches (grouped, "a123") && !s_gbnf_matches (grouped, "ab1"));
    struct { const char *grammar, *needle; } bad [] = {
        { "root ::= item\n", "rule 'item' is used but not defined" },
        { "root ::= \"a\"\nroot ::= \"b\"\n", "rule 'root' is defined twice" },
        { "item ::= \"a\"\n", "no rule named root" },
        { "root ::= <[1000]>\n", "token references" },
        { "root ::= \"abc\n", "without its closing quote" },
        { "root ::= \"\\q\"\n", "unknown escape \\q" },
        { "root ::= [abc", "without its ]" },
        { "root ::= (\"a\"\n", "without its )" },
        { "root ::= \"a\")\n", "a ) without its (" },
        { "root = \"a\"\n", "::= was expected" },
        { "root ::= \"a\"{1001}\n", "more than 1000" },
        { "root ::= \"a\"{x}\n", "needs {m}" },
        { "root ::= [z-a]\n", "out of order" },
        //  the empty set, the grammar's only set (fuzz_regex found its compile offset a NULL range table)
        { "root ::= a\na ::= []\n", "matches no text" },
        { "root ::= \"a\" *\n", "begins no element" },
        { "root ::= \"a\"\n  | \"b\"\n", "a rule's name was expected" },
        { "root ::= (\"a\" | \"b\")* \"a\" (\"a\" | \"b\"){14}\n", "automaton states" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        char error [400] = "";
        xinf_regex_t *regex = xinf_regex_new_gbnf (bad [index].grammar, strlen (bad [index].grammar), error,
                                                   sizeof error);
        if (regex || !strstr (error, bad [index].needle))
            fprintf (stderr, "      %s: '%s' lacks '%s'\n", bad [index].grammar, error, bad [index].needle);
        CHECK (!regex && strstr (error, bad [index].needle));
        xinf_regex_destroy (&regex);
    }
}

//  Compiled constraints shared by text: one compile for requests that
//  send the same, held ones never freed, idle ones past the capacity
//  freed oldest first; refusals not kept.
static void
test_constraints (void)
{
    xinf_constraints_t *cache = xinf_constraints_new (2);
    char error [400];
    size_t compiles, hits;
    void *first = xinf_constraints_get (cache, XINF_CONSTRAINT_REGEX, "(yes|no)", error, sizeof error);
    void *again = xinf_constraints_get (cache, XINF_CONSTRAINT_REGEX, "(yes|no)", error, sizeof error);
    void *grammar = xinf_constraints_get (cache, XINF_CONSTRAINT_GBNF, "root ::= \"(yes|no)\"", error, sizeof error);
    void *schema = xinf_constraints_get (cache, XINF_CONSTRAINT_SCHEMA, "{\"type\": \"array\", \"items\": "
                                         "{\"type\": \"integer\"}}", error, sizeof error);
    CHECK (first && first == again && grammar && grammar != first && schema);
    CHECK (xinf_regex_match (grammar, "(yes|no)", 8) && xinf_regex_match (first, "no", 2));
    xinf_constraints_counts (cache, &compiles, &hits);
    CHECK (compiles == 3 && hits == 1);
    CHECK (!xinf_constraints_get (cache, XINF_CONSTRAINT_REGEX, "(a", error, sizeof error) && strstr (error, "without"));
    CHECK (!xinf_constraints_get (cache, XINF_CONSTRAINT_REGEX, "(a", error, sizeof error));
    xinf_constraints_counts (cache, &compiles, &hits);
    CHECK (compiles == 3 && hits == 1);
    //  Released: kept while the capacity allows, the oldest idle one freed past it
    xinf_constraints_release (cache, first);
    xinf_constraints_release (cache, again);
    xinf_constraints_release (cache, grammar);
    xinf_constraints_release (cache, schema);       //  three idle for a capacity of two: "(yes|no)" goes
    CHECK (xinf_constraints_get (cache, XINF_CONSTRAINT_SCHEMA, "{\"type\": \"array\", \"items\": {\"type\": "
                                 "\"integer\"}}", error, sizeof error) == schema);
    void *fresh = xinf_constraints_get (cache, XINF_CONSTRAINT_REGEX, "(yes|no)", error, sizeof error);
    xinf_constraints_counts (cache, &compiles, &hits);
    CHECK (fresh && compiles == 4 && hits == 2);
    //  Held ones stay past the capacity
    void *held [4];
    for (int index = 0; index < 4; index++) {
        char pattern [16];
        snprintf (pattern, sizeof pattern, "x{%d}", index + 1);
        held [index] = xinf_constraints_get (cache, XINF_CONSTRAINT_REGEX, pattern, error, sizeof error);
        CHECK (held [index]);
    }
    for (int index = 0; index < 4; index++)
        CHECK (xinf_regex_states (held [index]) == (size_t) index + 2);
    CHECK (xinf_regex_bytes (held [3]) > xinf_regex_bytes (held [0]));
    xinf_constraints_destroy (&cache);
}

static size_t
s_unhex (const char *hex, char *out)
{
    if (streq (hex, "-"))
        return 0;
    size_t length = strlen (hex) / 2;
    for (size_t at = 0; at < length; at++) {
        unsigned value = 0;
        sscanf (hex + 2 * at, "%2x", &value);
        out [at] = (char) value;
    }
    out [length] = 0;
    return length;
}

//  Random walks over the automaton's bytes, written to 'out'.
static size_t
s_walks (xinf_regex_t *regex, const char *pattern_hex, FILE *out, unsigned *seed)
{
    size_t written = 0;
    for (int walk = 0; walk < 4; walk++) {
        xinf_regex_state_t state;
        xinf_regex_start (&state, regex);
        char text [64];
        size_t length = 0;
        while (length < sizeof text) {
            unsigned char allowed [256];
            size_t count = 0;
            for (unsigned byte = 0; byte < 256; byte++) {
                xinf_regex_state_t copy = state;
                if (xinf_regex_step (&copy, (unsigned char) byte))
                    allowed [count++] = (unsigned char) byte;
            }
            CHECK (count > 0 || xinf_regex_done (&state));      //  never stuck
            if (count == 0 || (xinf_regex_accepting (&state) && rand_r (seed) % 4 == 0))
                break;
            text [length++] = (char) allowed [rand_r (seed) % count];
            CHECK (xinf_regex_step (&state, (unsigned char) text [length - 1]));
        }
        if (!xinf_regex_accepting (&state))
            continue;                           //  cut by the length
        fprintf (out, "%s ", pattern_hex);
        for (size_t at = 0; at < length; at++)
            fprintf (out, "%02x", (unsigned char) text [at]);
        fprintf (out, "%s\n", length ? "" : "-");
        written++;
    }
    return written;
}

static void
test_cases (const char *path, const char *walks_path)
{
    FILE *file = fopen (path, "r");
    FILE *walks = fopen (walks_path, "w");
    CHECK (file && walks);
    char *line = malloc (1 << 16), *pattern = malloc (1 << 15), *text = malloc (1 << 15), *last = malloc (1 << 16);
    last [0] = 0;
    xinf_regex_t *regex = NULL;
    size_t cases = 0, matches = 0, patterns = 0, walked = 0, refused = 0;
    bool none = false;                  //  the pattern matches no text
    unsigned seed = 7;
    while (fgets (line, 1 << 16, file)) {
        char pattern_hex [1 << 13], text_hex [1 << 13];
        int verdict = 0;
        CHECK (sscanf (line, "%8191s %d %8191s", pattern_hex, &verdict, text_hex) == 3);
        if (!streq (pattern_hex, last)) {
            xinf_regex_destroy (&regex);
            size_t size = s_unhex (pattern_hex, pattern);
            char error [256];
            regex = xinf_regex_new (pattern, size, error, sizeof error);
            none = false;
            if (!regex && strstr (error, "matches no text"))
                none = true;                    //  then re matches none of its texts either
            else
            if (!regex) {
                //  Only by the automaton's limits: a random expression may need too many states
                fprintf (stderr, "      refused by the limits: %s\n", error);
                CHECK (strstr (error, "simplify it"));
                refused++;
            }
            else
                walked += s_walks (regex, pattern_hex, walks, &seed);
            strcpy (last, pattern_hex);
            patterns++;
        }
        if (none)
            CHECK (verdict == 0);
        if (!regex)
            continue;
        size_t size = s_unhex (text_hex, text);
        bool found = xinf_regex_match (regex, text, size);
        if (found != (verdict == 1))
            fprintf (stderr, "      '%s' on '%s': %d, re says %d\n", pattern, text, found, verdict);
        CHECK (found == (verdict == 1));
        cases++;
        matches += found;
    }
    CHECK (refused * 100 <= patterns && cases > 1000 && matches > 200);
    fprintf (stderr, "      %zu patterns (%zu refused by the limits), %zu texts (%zu whole matches) as re judges "
             "them; %zu walks written\n", patterns, refused, cases, matches, walked);
    xinf_regex_destroy (&regex);
    free (line);
    free (pattern);
    free (text);
    free (last);
    fclose (file);
    fclose (walks);
}

static void
test_masks (void)
{
    static const char *const merges [] = { "y e", "ye s", "n o", "1 2", "Ġ 1", "- 1" };
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, merges, sizeof merges / sizeof merges [0]);
    test_vocab_add (&vocab, "<|end|>", 7, 0, XINF_TOKEN_CONTROL);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    spec.eos_id = (int32_t) vocab.count - 1;
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    char error [256];
    xinf_regex_t *regex = s_compile ("(yes|no): -?\\d{1,3}( [a-c]+)?", error, sizeof error);
    xinf_json_masks_t *masks = xinf_json_masks_new (tokenizer);
    CHECK (regex && masks);
    const char *text = "yes: -123 abc";
    xinf_regex_state_t state;
    size_t ends_seen = test_masks_along (tokenizer, masks, regex, text, &state);
    //  "yes: -1", "-12", "-123", "-123 a", "ab", "abc" may end
    CHECK (ends_seen == 6);
    int32_t token = spec.eos_id;
    CHECK (xinf_json_masks_take (masks, &xinf_grammar_regex, &state, token));
    xinf_json_masks_destroy (&masks);
    xinf_regex_destroy (&regex);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 3);
    fprintf (stderr, "test_regex:\n");
    RUN (test_refused);
    RUN (test_multibyte);
    RUN (test_states);
    RUN (test_masks);
    RUN (test_gbnf);
    RUN (test_constraints);
    test_cases (argv [1], argv [2]);
    return 0;
}
