/*  xinf_tokenizer_pre: the gpt2 pre-tokenizers, hand-written equivalents
    of the regexes that split text before byte-level BPE (the first
    alternative that matches at a position wins, as in the regex):

    GPT-2 (gpt2, gpt-2):
        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    llama3 (qwen2 the same with \p{N} instead of \p{N}{1,3}):
        (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
        ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    refact (Granite 3's), as llama.cpp runs its two regexes: \p{N} first,
    each digit a piece; then GPT-2's without its last \s+ within the text
    between digits, what it leaves unmatched a piece of its own (one
    whitespace character before a letter, say, as GPT-2's \s+ would take).
    gpt-4o (Phi-4-mini's; tekken, Mistral Nemo's and Small 3's, the same
    without the contractions and with \p{N}), as llama.cpp adapts them: U
    a letter other than a-z, W a letter other than A-Z (the originals'
    [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}]):
        [^\r\n\p{L}\p{N}]?U*W+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
        [^\r\n\p{L}\p{N}]?U+W*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}|
        ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+

    DeepSeek's and the default (llama.cpp's, not GPT-2's), lists of
    regexes, are in xinf_tokenizer_deepseek.c.

    Classes come from xinf_tokenizer_unicode.c; \s is White_Space. An
    invalid UTF-8 byte counts as one character of [^\s\p{L}\p{N}]. The
    case-insensitive contractions fold ASCII only.
*/
#include "xinf_tokenizer_private.h"

#include <assert.h>
#include <stdlib.h>

typedef struct {
    size_t count;                   //  characters
    uint32_t *cpts;
    uint8_t *flags;                 //  XINF_TOK_LETTER, ...
    size_t *offsets;                //  [count + 1] byte offsets
} s_text_t;

static int
s_flag (const s_text_t *text, size_t at)
{
    return at < text->count ? text->flags [at] : 0;
}

static uint32_t
s_cpt (const s_text_t *text, size_t at)
{
    return at < text->count ? text->cpts [at] : XINF_TOK_BAD;
}

static uint32_t
s_fold (uint32_t cpt, bool any_case)
{
    return any_case && cpt >= 'A' && cpt <= 'Z' ? cpt + 32 : cpt;
}

static bool
s_newline (uint32_t cpt)
{
    return cpt == '\r' || cpt == '\n';
}

//  's 't 're 've 'm 'll 'd: their length, or 0.
static size_t
s_contraction (const s_text_t *text, size_t at, bool any_case)
{
    if (s_cpt (text, at) != '\'')
        return 0;
    uint32_t one = s_fold (s_cpt (text, at + 1), any_case);
    uint32_t two = s_fold (s_cpt (text, at + 2), any_case);
    if (one == 's' || one == 't' || one == 'm' || one == 'd')
        return 2;
    if ((one == 'r' && two == 'e') || (one == 'v' && two == 'e') || (one == 'l' && two == 'l'))
        return 3;
    return 0;
}

static size_t
s_run (const s_text_t *text, size_t at, int flag)
{
    while (s_flag (text, at) & flag)
        at++;
    return at;
}

//  \s+(?!\S)|\s+ at a whitespace character: a run before a non-space
//  leaves its last character to the next pre-token.
static size_t
s_spaces (const s_text_t *text, size_t at)
{
    size_t end = s_run (text, at, XINF_TOK_SPACE);
    return end > at + 1 && end < text->count ? end - 1 : end;
}

//  \s*[\r\n]+|\s+(?!\S)|\s+ at whitespace: \s*[\r\n]+ ends after the
//  run's last newline.
static size_t
s_newlines_or_spaces (const s_text_t *text, size_t at)
{
    size_t end = s_run (text, at, XINF_TOK_SPACE), after_newline = 0;
    for (size_t index = at; index < end; index++)
        if (s_newline (text->cpts [index]))
            after_newline = index + 1;
    return after_newline ? after_newline : s_spaces (text, at);
}

static size_t
s_next_gpt2 (const s_text_t *text, size_t at)
{
    size_t contraction = s_contraction (text, at, false);
    if (contraction)
        return at + contraction;
    size_t from = s_cpt (text, at) == ' ' ? at + 1 : at;
    int flag = s_flag (text, from);
    if (flag & (XINF_TOK_LETTER | XINF_TOK_NUMBER | XINF_TOK_OTHER))
        return s_run (text, from, flag);
    return s_spaces (text, at);
}

static size_t
s_next_refact (const s_text_t *text, size_t at)
{
    if (s_flag (text, at) & XINF_TOK_NUMBER)
        return at + 1;
    size_t contraction = s_contraction (text, at, false);
    if (contraction)
        return at + contraction;
    size_t from = s_cpt (text, at) == ' ' ? at + 1 : at;
    int flag = s_flag (text, from);
    if (flag & (XINF_TOK_LETTER | XINF_TOK_OTHER))
        return s_run (text, from, flag);
    //  \s+(?!\S): a run that ends the text between digits is whole
    size_t end = s_run (text, at, XINF_TOK_SPACE);
    bool before_text = end < text->count && !(s_flag (text, end) & XINF_TOK_NUMBER);
    return end > at + 1 && before_text ? end - 1 : end;
}

static size_t
s_next_llama3 (const s_text_t *text, size_t at, size_t max_digits)
{
    size_t contraction = s_contraction (text, at, true);
    if (contraction)
        return at + contraction;
    uint32_t cpt = s_cpt (text, at);
    int flag = s_flag (text, at);
    if (flag & XINF_TOK_LETTER)
        return s_run (text, at, XINF_TOK_LETTER);
    if (!s_newline (cpt) && !(flag & XINF_TOK_NUMBER) && (s_flag (text, at + 1) & XINF_TOK_LETTER))
        return s_run (text, at + 1, XINF_TOK_LETTER);
    if (flag & XINF_TOK_NUMBER) {
        size_t end = at;
        while (end - at < max_digits && (s_flag (text, end) & XINF_TOK_NUMBER))
            end++;
        return end;
    }
    size_t from = cpt == ' ' ? at + 1 : at;
    if (s_flag (text, from) & XINF_TOK_OTHER) {
        size_t end = s_run (text, from, XINF_TOK_OTHER);
        while (end < text->count && s_newline (text->cpts [end]))
            end++;
        return end;
    }
    return s_newlines_or_spaces (text, at);
}

//  gpt-4o's and tekken's cased letters (xinf_tok_pre_t above): U, W.
static bool
s_upper (const s_text_t *text, size_t at)
{
    return (s_flag (text, at) & XINF_TOK_LETTER) && !(s_cpt (text, at) >= 'a' && s_cpt (text, at) <= 'z');
}

static bool
s_lower (const s_text_t *text, size_t at)
{
    return (s_flag (text, at) & XINF_TOK_LETTER) && !(s_cpt (text, at) >= 'A' && s_cpt (text, at) <= 'Z');
}

static size_t
s_run_of (const s_text_t *text, size_t at, bool (*member) (const s_text_t *, size_t))
{
    while (at < text->count && member (text, at))
        at++;
    return at;
}

//  U*W+ at 'at' as a backtracking regex matches it: the end, or 0. U* is
//  greedy; where no W follows, it gives back characters until one it gave
//  back (a letter both U and W) starts W+.
static size_t
s_upper_lower (const s_text_t *text, size_t at)
{
    for (size_t start = s_run_of (text, at, s_upper) + 1; start-- > at; )
        if (s_lower (text, start))
            return s_run_of (text, start, s_lower);
    return 0;
}

//  U+W* at 'at': the end, or 0.
static size_t
s_upper_then (const s_text_t *text, size_t at)
{
    return s_upper (text, at) ? s_run_of (text, s_run_of (text, at, s_upper), s_lower) : 0;
}

//  [^\r\n\p{L}\p{N}]?WORD: WORD after such a character, else at 'at'; 0 if neither.
static size_t
s_prefixed (const s_text_t *text, size_t at, size_t (*word) (const s_text_t *, size_t))
{
    bool prefix = at < text->count && !s_newline (text->cpts [at])
               && !(s_flag (text, at) & (XINF_TOK_LETTER | XINF_TOK_NUMBER));
    size_t end = prefix ? word (text, at + 1) : 0;
    return end ? end : word (text, at);
}

static size_t
s_next_cased (const s_text_t *text, size_t at, bool contractions, size_t max_digits)
{
    size_t end = s_prefixed (text, at, s_upper_lower);
    end = end ? end : s_prefixed (text, at, s_upper_then);
    if (end)
        return contractions ? end + s_contraction (text, end, true) : end;
    if (s_flag (text, at) & XINF_TOK_NUMBER) {
        end = at;
        while (end - at < max_digits && (s_flag (text, end) & XINF_TOK_NUMBER))
            end++;
        return end;
    }
    size_t from = s_cpt (text, at) == ' ' ? at + 1 : at;
    if (s_flag (text, from) & XINF_TOK_OTHER) {
        end = s_run (text, from, XINF_TOK_OTHER);
        while (end < text->count && (s_newline (text->cpts [end]) || text->cpts [end] == '/'))
            end++;
        return end;
    }
    return s_newlines_or_spaces (text, at);
}

size_t
xinf_tok_split (xinf_tok_pre_t pre, const char *bytes, size_t length, size_t **ends_p)
{
    if (pre == XINF_PRE_DEEPSEEK_LLM || pre == XINF_PRE_DEEPSEEK_CODER || pre == XINF_PRE_DEEPSEEK_V3
        || pre == XINF_PRE_DEFAULT)
        return xinf_tok_split_list (pre, bytes, length, ends_p);
    s_text_t text = { 0 };
    text.cpts = malloc ((length + 1) * sizeof *text.cpts);
    text.flags = malloc (length + 1);
    text.offsets = malloc ((length + 1) * sizeof *text.offsets);
    size_t *ends = malloc ((length + 1) * sizeof *ends);
    assert (text.cpts && text.flags && text.offsets && ends);
    for (size_t at = 0; at < length; text.count++) {
        uint32_t cpt;
        size_t size = xinf_tok_utf8 ((const uint8_t *) bytes + at, length - at, &cpt);
        text.cpts [text.count] = cpt;
        text.flags [text.count] = (uint8_t) xinf_tok_class (cpt);
        text.offsets [text.count] = at;
        at += size;
    }
    text.offsets [text.count] = length;
    size_t count = 0;
    for (size_t at = 0; at < text.count; ) {
        size_t end = pre == XINF_PRE_GPT2 ? s_next_gpt2 (&text, at)
                   : pre == XINF_PRE_TEKKEN ? s_next_cased (&text, at, false, 1)
                   : pre == XINF_PRE_GPT4O ? s_next_cased (&text, at, true, 3)
                   : pre == XINF_PRE_REFACT ? s_next_refact (&text, at)
                   : s_next_llama3 (&text, at, pre == XINF_PRE_QWEN2 ? 1 : 3);
        assert (end > at);
        ends [count++] = text.offsets [end];
        at = end;
    }
    free (text.cpts);
    free (text.flags);
    free (text.offsets);
    *ends_p = ends;
    return count;
}
