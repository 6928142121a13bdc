/*  xinf_regex: a regular expression as a deterministic automaton over
    bytes, for constrained decoding (vLLM's guided_regex and
    guided_choice, structured_outputs regex and choice): the answer's
    text, byte by byte, is kept a prefix of a text the expression matches
    whole.

    The syntax is Python's re (as vLLM's users write it) without what no
    finite automaton has: literals (UTF-8), '.', classes [...] with ranges
    and negation, \d \w \s and their negations (ASCII, as with re.ASCII),
    escapes \n \t \r \f \v \a \xHH \uHHHH \UHHHHHHHH, octal ones as re
    reads them (\0, \012, \101) and escaped punctuation, groups (...),
    (?:...), (?P<name>...) and (?<name>...) (PCRE's spelling too),
    comments (?#...), alternation, the quantifiers * + ? {n} {n,} {,m}
    {n,m} (m at most XINF_REGEX_REPEAT_MAX) greedy or lazy (the same texts
    match whole), and the anchors as re has them: ^ and \A hold before the
    first byte only, \Z and \z (Python 3.14's) where nothing follows, $
    there or before a newline that ends the text. Refused, with the reason
    and the offset: backreferences, lookaround, word boundaries, inline
    flags, possessive quantifiers, a quantifier on nothing or on an
    anchor, a class as a range's start, invalid UTF-8, an expression that
    matches no text, and one whose automaton would pass
    XINF_REGEX_STATES_MAX states or a compile budget. '.' and negated
    classes are any code point (surrogates excepted) that is not
    excluded, as UTF-8.

    The automaton keeps only states from which a whole match can still be
    reached, so a constrained generation never walks into a dead end.
*/
#ifndef XINF_REGEX_H_INCLUDED
#define XINF_REGEX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_REGEX_PATTERN_MAX  16384   //  bytes of an expression
#define XINF_REGEX_REPEAT_MAX   1000    //  a bounded quantifier's bound
#define XINF_REGEX_STATES_MAX   20000   //  the automaton's states

#define XINF_REGEX_START        1       //  the automaton's first state (xinf_regex_next)

//  How an expression is read (xinf_regex_new_flags)
enum {
    XINF_REGEX_SEARCH = 1,            //  matches within the text (JSON Schema's pattern): any text may come
                                      //  before and after it, which its anchors (^ $) rule out
    XINF_REGEX_JSON_TEXT = 2,         //  the text is a JSON string's as written, without escapes: no quote,
                                      //  backslash or control character (U+0000-U+001F) is ever taken
    XINF_REGEX_SMALL = 4              //  one of many (a schema's strings): at most 2,000 states, 256 Ki
                                      //  transitions and a sixteenth of the compile budget
};

typedef struct _xinf_regex_t xinf_regex_t;

//  A position in a match: plain bytes (equal states, equal bytes).
typedef struct {
    const xinf_regex_t *regex;
    uint64_t serial;                  //  the regex's: states of two never share bytes
    uint32_t state;                   //  the automaton's (0: none)
    uint32_t unused;
} xinf_regex_state_t;

//  Compiles 'size' bytes of 'pattern'; NULL with the reason (and the
//  offset it was found at) in 'error'.
xinf_regex_t *xinf_regex_new (const char *pattern, size_t size, char *error, size_t error_size);
//  A GBNF grammar (llama.cpp's format; its root rule matched whole:
//  xinf_gbnf.c), compiled into the same automaton, or where its rules
//  recurse into a pushdown automaton whose positions are the states
//  (xinf_pda.h; it grows as texts reach new positions, so it is used by
//  one thread at a time); NULL with the reason (the rule or the offset)
//  in 'error'.
xinf_regex_t *xinf_regex_new_gbnf (const char *text, size_t size, char *error, size_t error_size);
//  The same, read as 'flags' say (XINF_REGEX_SEARCH, XINF_REGEX_JSON_TEXT).
xinf_regex_t *xinf_regex_new_flags (const char *pattern, size_t size, int flags, char *error, size_t error_size);
void xinf_regex_destroy (xinf_regex_t **self_p);

//  The automaton's states (the dead one not counted; a recursive
//  grammar's positions so far), and the bytes it holds.
size_t xinf_regex_states (const xinf_regex_t *self);
size_t xinf_regex_bytes (const xinf_regex_t *self);
//  Whether a recursive grammar's automaton is out of room for new
//  positions (xinf_pda.h): a fresh copy serves new answers better.
bool xinf_regex_full (const xinf_regex_t *self);

//  The state before the first byte.
void xinf_regex_start (xinf_regex_state_t *state, const xinf_regex_t *regex);
//  Takes 'byte': true and the state moved on, or false and it unchanged.
bool xinf_regex_step (xinf_regex_state_t *state, unsigned char byte);
//  Takes 'size' bytes; false (the state unchanged) when one is refused.
bool xinf_regex_feed (xinf_regex_state_t *state, const void *bytes, size_t size);
//  Whether the text so far is a whole match (it may end here).
bool xinf_regex_accepting (const xinf_regex_state_t *state);
//  Whether the text is a whole match that nothing may extend.
bool xinf_regex_done (const xinf_regex_state_t *state);

//  The automaton's state after 'state' takes 'byte' (0: refused), and
//  whether a state is a whole match: for a caller that keeps the state
//  number in a state of its own (xinf_json_schema.h's patterns).
uint32_t xinf_regex_next (const xinf_regex_t *self, uint32_t state, unsigned char byte);
bool xinf_regex_accepts (const xinf_regex_t *self, uint32_t state);

//  The automaton's transition table ([state * classes + byte_class
//  [byte]]: the next state, 0 a refusal), for a walk that steps it
//  without a call a byte (xinf_vocab_trie_allowed_table); a NULL table
//  for a recursive grammar, whose transitions are computed as reached.
void xinf_regex_table (const xinf_regex_t *self, const uint32_t **table, const uint8_t **byte_class,
                       size_t *classes);

//  Whether 'size' bytes of 'text' are a whole match.
bool xinf_regex_match (const xinf_regex_t *self, const char *text, size_t size);

//  Writes 'size' bytes of 'text' as an expression that matches exactly
//  that text (metacharacters escaped) into 'out' of 'out_size' bytes,
//  NUL-terminated; the length, or -1 when it does not fit.
long xinf_regex_quote (const char *text, size_t size, char *out, size_t out_size);

#endif
