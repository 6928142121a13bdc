/*  test_pda: GBNF grammars whose rules recurse (models/xinf_pda.h, through
    xinf_regex_new_gbnf), as llama-server users send them.
    - llama.cpp's JSON grammar: objects and arrays nested, what it
      refuses; random walks over it (random bytes among those it takes)
      are never stuck, and each text is taken by xinf_json_grammar, an
      automaton written apart from it, and is a whole object there when
      the walk ends where the grammar may end (less the whitespace after
      it, which only the GBNF grammar allows);
    - arithmetic and brackets of two kinds: walks checked by parsers
      written here; every text up to 7 bytes over the brackets' alphabet
      judged against a checker by hand, both as a whole match and as a
      prefix of one;
    - the depth: calls nest 64 deep, no deeper, and the bytes that would
      open one more are refused before they are taken (no dead end);
    - what is refused and why: left recursion, directly, through another
      rule and through a rule that may match nothing; a recursion with
      no way out; too many rules that recurse;
    - the limits: where a position would hold more than 256 parses (an
      ambiguous grammar, or one undecided until its closers come), those
      past the limit are left out, each whole: walks go on, never stuck,
      and stay the grammar's; an automaton
      out of room says so, still steps where it has been, and the
      compiled constraints' cache hands a fresh copy to the next request;
    - the token masks over it (xinf_json_masks): the tokens whose pieces
      it takes, plus the end tokens where it may end. */
#include "test_unit.h"
#include "test_tokenizer.h"
#include "test_masks.h"
#include "xinf_constraints.h"
#include "xinf_json_grammar.h"
#include "xinf_json_masks.h"
#include "xinf_pda.h"
#include "xinf_regex.h"
#include "xinf_regex_private.h"
#include "xinf_token_mask.h"

#include <string.h>

//  llama.cpp's grammars/json.gbnf, as its users send it.
static const char *s_json =
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "\n"
    "object ::=\n"
    "  \"{\" ws (\n"
    "            string \":\" ws value\n"
    "    (\",\" ws string \":\" ws value)*\n"
    "  )? \"}\" ws\n"
    "\n"
    "array  ::=\n"
    "  \"[\" ws (\n"
    "            value\n"
    "    (\",\" ws value)*\n"
    "  )? \"]\" ws\n"
    "\n"
    "string ::=\n"
    "  \"\\\"\" (\n"
    "    [^\"\\\\\\x7F\\x00-\\x1F] |\n"
    "    \"\\\\\" ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4}) # escapes\n"
    "  )* \"\\\"\" ws\n"
    "\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
    "\n"
    "# Optional space: by convention, applied in this grammar after literal chars when allowed\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

static const char *s_arithmetic =
    "root ::= expr\n"
    "expr ::= term ([-+*/] term)*\n"
    "term ::= \"-\"? ([0-9]+ | \"(\" expr \")\")\n";

static const char *s_brackets =
    "root ::= item+\n"
    "item ::= \"(\" item* \")\" | \"[\" item* \"]\" | \"x\"\n";

static xinf_regex_t *
s_grammar (const char *text)
{
    char error [400];
    xinf_regex_t *regex = xinf_regex_new_gbnf (text, strlen (text), error, sizeof error);
    if (!regex)
        fprintf (stderr, "      refused: %s\n", error);
    return regex;
}

static bool
s_match (xinf_regex_t *regex, const char *text)
{
    return xinf_regex_match (regex, text, strlen (text));
}

static void
test_json (void)
{
    xinf_regex_t *json = s_grammar (s_json);
    CHECK (json);
    const char *good [] = {
        "{}", "{ }", "{\"a\": 1}", "{\"a\": [1, 2.5, -3e7, true, false, null]}",
        "{\"a\": {\"b\": {\"c\": [[], [{}], [[\"x\"]]]}}, \"d\": \"\\u00e9\\n\"}",
        "{\n  \"key\": \"value\",\n  \"list\": [\n    1\n  ]\n}\n",
        "{\"\xc3\xa9t\xc3\xa9\": \"\xe2\x82\xac\"}",
    };
    const char *bad [] = {
        "", "[]", "{", "{\"a\"}", "{\"a\": }", "{\"a\": [1, 2}", "{\"a\": [1, 2]]", "{\"a\": 01}",
        "{a: 1}", "{\"a\": 1,}", "{\"a\": \"\x01\"}", "{\"a\": tru}", "{\"a\": 1} {}", "{\"a\": \"\\x\"}",
    };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++) {
        if (!s_match (json, good [index]))
            fprintf (stderr, "      not matched: %s\n", good [index]);
        CHECK (s_match (json, good [index]));
    }
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        if (s_match (json, bad [index]))
            fprintf (stderr, "      matched: %s\n", bad [index]);
        CHECK (!s_match (json, bad [index]));
    }
    //  64 nested containers fit (object and array call value, which calls
    //  them at its end: one frame a container), 65 do not
    for (int levels = 64; levels <= 65; levels++) {
        char nested [600] = "";
        for (int level = 0; level < levels; level++)
            strcat (nested, level % 2 ? "[" : "{\"k\":");
        strcat (nested, "1");
        for (int level = levels - 1; level >= 0; level--)
            strcat (nested, level % 2 ? "]" : "}");
        CHECK (s_match (json, nested) == (levels == 64));
    }
    xinf_regex_destroy (&json);
}

//  The bytes 'state' takes, into 'bytes': how many.
static size_t
s_takes (const xinf_regex_state_t *state, unsigned char *bytes)
{
    size_t count = 0;
    for (unsigned byte = 0; byte < 256; byte++) {
        xinf_regex_state_t copy = *state;
        if (xinf_regex_step (&copy, (unsigned char) byte))
            bytes [count++] = (unsigned char) byte;
    }
    return count;
}

//  A random walk: bytes among those taken, until the grammar may end and
//  the walk chooses to (one time in 'stop'), or 'size' - 1 bytes. Never
//  stuck. The text's length; *ended when it is a whole match.
static size_t
s_walk (xinf_regex_t *regex, char *text, size_t size, unsigned stop, bool *ended)
{
    xinf_regex_state_t state;
    xinf_regex_start (&state, regex);
    size_t length = 0;
    *ended = false;
    while (length + 1 < size) {
        unsigned char bytes [256];
        size_t count = s_takes (&state, bytes);
        CHECK (count > 0 || xinf_regex_done (&state));
        CHECK (count > 0 || xinf_regex_accepting (&state));
        if (xinf_regex_accepting (&state) && (count == 0 || (unsigned) rand () % stop == 0)) {
            *ended = true;
            break;
        }
        //  prefer closing and ASCII now and then, so that walks end
        unsigned char byte = bytes [(size_t) rand () % count];
        for (size_t index = 0; index < count && rand () % 3 == 0; index++)
            if (strchr ("}])\"0", bytes [index]) && bytes [index])
                byte = bytes [index];
        CHECK (xinf_regex_step (&state, byte));
        text [length++] = (char) byte;
    }
    text [length] = 0;
    return length;
}

//  Arithmetic by hand: term ([-+*/] term)*, term: -? digits | (expr).
static bool s_expr (const char **at, int depth);

static bool
s_term (const char **at, int depth)
{
    if (**at == '-')
        (*at)++;
    if (**at == '(') {
        (*at)++;
        if (depth > 100 || !s_expr (at, depth + 1) || **at != ')')
            return false;
        (*at)++;
        return true;
    }
    const char *start = *at;
    while (**at >= '0' && **at <= '9')
        (*at)++;
    return *at > start;
}

static bool
s_expr (const char **at, int depth)
{
    if (!s_term (at, depth))
        return false;
    while (**at && strchr ("-+*/", **at)) {
        (*at)++;
        if (!s_term (at, depth))
            return false;
    }
    return true;
}

static bool
s_arithmetic_ok (const char *text)
{
    return s_expr (&text, 0) && *text == 0;
}

//  Brackets by hand: 1 a whole match, 2 a prefix of one only, 0 neither.
static int
s_brackets_judge (const char *text, size_t length)
{
    char stack [64];
    size_t depth = 0;
    for (size_t at = 0; at < length; at++) {
        char c = text [at];
        if (c == '(' || c == '[') {
            if (depth == sizeof stack)
                return 0;
            stack [depth++] = c == '(' ? ')' : ']';
        }
        else
        if (c == ')' || c == ']') {
            if (depth == 0 || stack [depth - 1] != c)
                return 0;
            depth--;
        }
        else
        if (c != 'x')
            return 0;
    }
    return depth == 0 && length > 0 ? 1 : 2;
}

static void
test_walks (void)
{
    xinf_regex_t *json = s_grammar (s_json), *arithmetic = s_grammar (s_arithmetic);
    xinf_regex_t *brackets = s_grammar (s_brackets);
    CHECK (json && arithmetic && brackets);
    srand (7);
    char text [600];
    size_t whole = 0, walks = 0;
    for (int walk = 0; walk < 300; walk++) {
        bool ended;
        size_t length = s_walk (json, text, sizeof text, 2, &ended);
        while (length > 0 && strchr (" \t\n", text [length - 1]))
            text [--length] = 0;              //  xinf_json_grammar takes none after the object
        xinf_json_state_t state;
        xinf_json_start (&state);
        bool fed = xinf_json_feed (&state, text, length);
        if (!fed)
            fprintf (stderr, "      not JSON: %s\n", text);
        CHECK (fed);
        CHECK (!ended || xinf_grammar_json.may_end (&state));
        whole += ended;
        walks++;
    }
    for (int walk = 0; walk < 300; walk++) {
        bool ended;
        s_walk (arithmetic, text, sizeof text, 3, &ended);
        if (ended && !s_arithmetic_ok (text))
            fprintf (stderr, "      not arithmetic: %s\n", text);
        CHECK (!ended || s_arithmetic_ok (text));
        whole += ended;
        walks++;
    }
    for (int walk = 0; walk < 300; walk++) {
        bool ended;
        size_t length = s_walk (brackets, text, sizeof text, 3, &ended);
        int verdict = s_brackets_judge (text, length);
        CHECK (ended ? verdict == 1 : verdict != 0);
        whole += ended;
        walks++;
    }
    fprintf (stderr, "      %zu walks, %zu of them whole matches; JSON's automaton holds %zu positions in %zu "
             "bytes\n", walks, whole, xinf_regex_states (json), xinf_regex_bytes (json));
    CHECK (whole > walks / 2);
    xinf_regex_destroy (&json);
    xinf_regex_destroy (&arithmetic);
    xinf_regex_destroy (&brackets);
}

//  Every text up to 7 bytes over "()[]x" and one byte more: whole
//  matches and prefixes exactly as the checker by hand says.
static void
test_every_text (void)
{
    xinf_regex_t *brackets = s_grammar (s_brackets);
    CHECK (brackets);
    const char alphabet [] = "()[]xy";
    size_t texts = 0, matches = 0, prefixes = 0;
    for (size_t length = 0; length <= 7; length++) {
        size_t total = 1;
        for (size_t at = 0; at < length; at++)
            total *= 6;
        for (size_t number = 0; number < total; number++) {
            char text [8];
            size_t rest = number;
            for (size_t at = 0; at < length; at++, rest /= 6)
                text [at] = alphabet [rest % 6];
            int verdict = s_brackets_judge (text, length);
            xinf_regex_state_t state;
            xinf_regex_start (&state, brackets);
            bool fed = xinf_regex_feed (&state, text, length);
            CHECK (fed == (verdict != 0));
            CHECK (xinf_regex_match (brackets, text, length) == (verdict == 1));
            texts++;
            matches += verdict == 1;
            prefixes += verdict == 2;
        }
    }
    fprintf (stderr, "      %zu texts: %zu whole matches, %zu prefixes only\n", texts, matches, prefixes);
    xinf_regex_destroy (&brackets);
}

static void
test_depth (void)
{
    xinf_regex_t *nest = s_grammar ("root ::= a\na ::= \"[\" a? \"]\"\n");
    CHECK (nest);
    xinf_regex_state_t state;
    xinf_regex_start (&state, nest);
    //  the root calls a at its end (no frame), each a the next with a
    //  frame: 64 frames are 65 brackets
    for (int level = 0; level < 65; level++)
        CHECK (xinf_regex_step (&state, '['));
    unsigned char bytes [256];
    CHECK (s_takes (&state, bytes) == 1 && bytes [0] == ']');
    for (int level = 0; level < 65; level++) {
        CHECK (!xinf_regex_accepting (&state));
        CHECK (xinf_regex_step (&state, ']'));
    }
    CHECK (xinf_regex_done (&state));
    xinf_regex_destroy (&nest);
    //  "y" leads only to a rule that never completes: after "x" the answer is done
    xinf_regex_t *closed = s_grammar ("root ::= \"x\" (\"y\" a)? | \"z\" b\na ::= \"(\" a \")\"\nb ::= \"[\" b? \"]\"\n");
    CHECK (closed);
    xinf_regex_start (&state, closed);
    CHECK (xinf_regex_step (&state, 'x') && xinf_regex_done (&state) && s_takes (&state, bytes) == 0);
    CHECK (!s_match (closed, "xy(") && s_match (closed, "z[[]]"));
    xinf_regex_destroy (&closed);
    //  Recursion at a rule's end (lists as BNF writes them) nests no
    //  deeper: 5,000 items, and blocks 31 deep around them
    xinf_regex_t *list = s_grammar ("root ::= list\nlist ::= \"x\" list | \"\"\n");
    xinf_regex_t *blocks = s_grammar ("root ::= stmts\nstmts ::= stmt stmts | \"\"\n"
                                      "stmt ::= \"{\" stmts \"}\" | \"x;\"\n");
    CHECK (list && blocks);
    char *text = malloc (20001);
    CHECK (text);
    memset (text, 'x', 5000);
    CHECK (xinf_regex_match (list, text, 5000));
    for (int item = 0; item < 5000; item++)
        memcpy (text + 2 * item, "x;", 2);
    CHECK (xinf_regex_match (blocks, text, 10000));
    //  a block takes two frames (stmts calls stmt, not at its end; stmt
    //  calls stmts before its "}"), its innermost statement one more
    for (int levels = 31; levels <= 32; levels++) {
        size_t length = 0;
        for (int level = 0; level < levels; level++)
            length += (size_t) sprintf (text + length, "{x;");
        for (int level = 0; level < levels; level++)
            text [length++] = '}';
        CHECK (xinf_regex_match (blocks, text, length) == (levels == 31));
    }
    free (text);
    xinf_regex_destroy (&list);
    xinf_regex_destroy (&blocks);
}

static void
test_refused (void)
{
    struct { const char *grammar, *needle; } bad [] = {
        { "root ::= a\na ::= a \"x\" | \"y\"\n", "rule 'a' calls itself before any text: left recursion" },
        { "root ::= a\na ::= b \"x\" | \"y\"\nb ::= \"z\"? a\n", "can call itself before any text (through" },
        { "root ::= a\na ::= e a \"x\" | \"y\"\ne ::= \"\" | \"z\"\n", "calls itself before any text" },
        { "root ::= a\na ::= \"(\" a \")\"\n", "no text whose rules nest at most 64 calls deep" },
        { "root ::= \"(\" root \")\"\n", "no text whose rules nest" },
        { "root ::= expr\nexpr ::= \"(\" expr \")\" | \"x\" | undefined\n", "rule 'undefined' is used but not defined" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        char error [400] = "";
        xinf_regex_t *regex = xinf_regex_new_gbnf (bad [index].grammar, strlen (bad [index].grammar), error,
                                                   sizeof error);
        if (regex || !strstr (error, bad [index].needle))
            fprintf (stderr, "      %s: '%s' lacks '%s'\n", bad [index].grammar, error, bad [index].needle);
        CHECK (!regex && strstr (error, bad [index].needle));
    }
    //  300 rules that recurse, each reached from the root
    size_t size = 300 * 40 + 4000;
    char *many = malloc (size), error [400];
    size_t length = (size_t) sprintf (many, "root ::= r0");
    for (int rule = 1; rule < 300; rule++)
        length += (size_t) sprintf (many + length, " | r%d", rule);
    length += (size_t) sprintf (many + length, "\n");
    for (int rule = 0; rule < 300; rule++)
        length += (size_t) sprintf (many + length, "r%d ::= \"a\" r%d? \"b\"\n", rule, rule);
    xinf_regex_t *regex = xinf_regex_new_gbnf (many, length, error, sizeof error);
    CHECK (!regex && strstr (error, "more than 255 rules recurse"));
    free (many);
}

//  Whether a text of the two-closer grammar below is n '(' then n of
//  ')' or ']' (whole: true), or a prefix of one.
static bool
s_closers_ok (const char *text, size_t length, bool whole)
{
    size_t opened = 0, closed = 0;
    for (size_t at = 0; at < length; at++)
        if (text [at] == '(' && closed == 0)
            opened++;
        else
        if ((text [at] == ')' || text [at] == ']') && closed < opened)
            closed++;
        else
            return false;
    return !whole || closed == opened;
}

//  Grammars whose prefixes have more than 256 parses at once (ambiguous,
//  or only undecided until the closers come): the parses past the limit
//  are left out, each whole, so answers go on, never stuck, and stay
//  the grammar's; the automaton says a limit was met.
static void
test_ambiguous (void)
{
    xinf_regex_t *regex = s_grammar ("root ::= s\ns ::= \"x\" s? s? s?\n");
    CHECK (regex);
    xinf_regex_state_t state;
    xinf_regex_start (&state, regex);
    for (int taken = 0; taken < 200; taken++)
        CHECK (xinf_regex_step (&state, 'x') && xinf_regex_accepting (&state));
    CHECK (regex->pda && xinf_pda_limited (regex->pda));
    xinf_regex_destroy (&regex);
    regex = s_grammar ("root ::= x\nx ::= \"(\" x \")\" | \"(\" y \"]\" | \"\"\n"
                       "y ::= \"(\" x \")\" | \"(\" y \"]\" | \"\"\n");
    CHECK (regex);
    char text [160];
    size_t whole = 0;
    for (int walk = 0; walk < 200; walk++) {
        xinf_regex_start (&state, regex);
        size_t length = 0;
        for (; length < 12; length++)                //  2^12 stacks would be open
            CHECK (xinf_regex_step (&state, (unsigned char) (text [length] = '(')));
        unsigned char bytes [256];
        size_t count;
        while ((count = s_takes (&state, bytes)) > 0) {
            text [length] = (char) bytes [(size_t) rand () % count];
            CHECK (xinf_regex_step (&state, (unsigned char) text [length++]));
        }
        CHECK (xinf_regex_done (&state) && s_closers_ok (text, length, true));
        whole++;
    }
    CHECK (regex->pda && xinf_pda_limited (regex->pda));
    fprintf (stderr, "      %zu walks past 12 open brackets of two possible closers (4,096 stacks, 256 kept): "
             "each a whole match, none stuck\n", whole);
    xinf_regex_destroy (&regex);
}

//  Brackets of two kinds 64 deep reach ever new positions: the automaton
//  runs out of room, says so, and steps where it has been.
static void
test_full (void)
{
    const char *grammar = "root ::= a\na ::= \"(\" a* \")\" | \"[\" a* \"]\"\n";
    xinf_constraints_t *cache = xinf_constraints_new (4);
    char error [400];
    xinf_regex_t *regex = xinf_constraints_get (cache, XINF_CONSTRAINT_GBNF, grammar, error, sizeof error);
    CHECK (regex);
    srand (11);
    char stack [64];
    size_t steps = 0;
    xinf_regex_state_t first;
    xinf_regex_start (&first, regex);
    CHECK (xinf_regex_step (&first, '('));
    while (!xinf_regex_full (regex) && steps < 4000000) {
        xinf_regex_state_t state = first;
        size_t depth = 1;
        stack [0] = ')';
        while (depth > 0 && !xinf_regex_full (regex)) {
            unsigned char byte;
            if (depth < 63 && rand () % 2 == 0)
                byte = rand () % 2 ? '(' : '[';
            else
                byte = (unsigned char) stack [depth - 1];
            if (!xinf_regex_step (&state, byte))
                break;
            steps++;
            if (byte == '(' || byte == '[')
                stack [depth++] = byte == '(' ? ')' : ']';
            else
                depth--;
        }
    }
    fprintf (stderr, "      out of room after %zu steps: %zu positions, %zu bytes\n", steps,
             xinf_regex_states (regex), xinf_regex_bytes (regex));
    CHECK (xinf_regex_full (regex) && xinf_regex_bytes (regex) <= (40u << 20));
    xinf_regex_state_t again = first;
    CHECK (xinf_regex_step (&again, '(') || xinf_regex_step (&again, '['));
    xinf_constraints_release (cache, regex);
    xinf_regex_t *fresh = xinf_constraints_get (cache, XINF_CONSTRAINT_GBNF, grammar, error, sizeof error);
    size_t compiles, hits;
    xinf_constraints_counts (cache, &compiles, &hits);
    CHECK (fresh && !xinf_regex_full (fresh) && compiles == 2 && hits == 0);
    xinf_constraints_release (cache, fresh);
    xinf_constraints_destroy (&cache);
}

static void
test_masks (void)
{
    static const char *const merges [] = { "( (", "( x", "x )", ") )", "1 2", "( 1", "+ (" };
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, merges, sizeof merges / sizeof merges [0]);
    test_vocab_add (&vocab, "<|end|>", 7, 0, XINF_TOKEN_CONTROL);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    spec.eos_id = (int32_t) vocab.count - 1;
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    xinf_regex_t *regex = s_grammar (s_arithmetic);
    xinf_json_masks_t *masks = xinf_json_masks_new (tokenizer);
    CHECK (regex && masks);
    const char *text = "((12+(3))*-4)-5";
    xinf_regex_state_t state;
    size_t ends_seen = test_masks_along (tokenizer, masks, regex, text, &state);
    //  "((12+(3))*-4)" and the whole text may end
    CHECK (ends_seen == 2);
    CHECK (xinf_json_masks_take (masks, &xinf_grammar_regex, &state, spec.eos_id));
    xinf_json_masks_destroy (&masks);
    xinf_regex_destroy (&regex);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

int
main (void)
{
    fprintf (stderr, "test_pda:\n");
    RUN (test_json);
    RUN (test_walks);
    RUN (test_every_text);
    RUN (test_depth);
    RUN (test_refused);
    RUN (test_ambiguous);
    RUN (test_full);
    RUN (test_masks);
    return 0;
}
