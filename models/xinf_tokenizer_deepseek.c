/*  xinf_tokenizer_deepseek: the pre-tokenizers that are lists of regexes,
    DeepSeek's and llama.cpp's default, as llama.cpp runs them
    (src/llama-vocab.cpp, unicode_regex_split): each regex splits every
    piece that the ones before it left, its matches pieces and the text
    between them pieces too.

    deepseek-llm (DeepSeek LLM, V2); LATIN is llama-vocab.cpp's class of
    Latin, Greek, Cyrillic, ... letters (s_latin below):
        [\r\n]
        \s?[LATIN]+
        \s?[!-/:-~！-／：-～‘-‟　-。]+
        \s+$
        [一-龥ࠀ-一가-퟿]+
        \p{N}+
    deepseek-coder:
        [\r\n]
        \s?\p{L}+
        \s?\p{P}+
        [一-龥ࠀ-一가-퟿]+
        \p{N}
    deepseek-v3 (V3, R1):
        \p{N}{1,3}
        [一-龥぀-ゟ゠-ヿ]+
        [!-/:-@\[-`{-~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
        ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    default (tokenizer.ggml.pre "default", or none: llama.cpp's
    LLAMA_VOCAB_PRE_TYPE_DEFAULT): runs of punctuation and of the ASCII
    symbols $+<=>^~| (not `), then GPT-2's regex as llama.cpp's own code
    for it runs it (unicode_regex_split_custom_gpt2: a whitespace
    character before a non-space is a piece), then runs of digits, then
    ASCII digits by three from the left:
        [\p{P}\$\+<=>\^~\|]+
        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
        \p{N}+
        [0-9][0-9][0-9]

    As in llama.cpp: \s is White_Space, and no White_Space character is in
    a class of code points (llama.cpp's std::wregex sees each one as \v), so
    U+3000 is no punctuation, nor U+2000 in [ࠀ-一]; a regex sees only its
    piece ($, (?!\S)); classes are Unicode's general categories
    (xinf_tok_category), an invalid UTF-8 byte a symbol (U+FFFD).
*/
#include "xinf_tokenizer_private.h"

#include <assert.h>
#include <stdlib.h>

typedef struct {
    size_t count;                   //  characters
    uint32_t *cpts;
    uint8_t *cats;                  //  XINF_TOK_CAT_*
} s_text_t;

//  Code point ranges, first and last, in order.
typedef struct {
    uint32_t first, last;
} s_range_t;

static const s_range_t s_latin [] = {
    { 0x41, 0x5A }, { 0x61, 0x7A }, { 0xB5, 0xB5 }, { 0xC0, 0xD6 }, { 0xD8, 0xF6 }, { 0xF8, 0x1BA },
    { 0x1BC, 0x1BF }, { 0x1C4, 0x293 }, { 0x295, 0x2AF }, { 0x370, 0x373 }, { 0x376, 0x377 },
    { 0x37B, 0x37D }, { 0x37F, 0x37F }, { 0x386, 0x386 }, { 0x388, 0x38A }, { 0x38C, 0x38C },
    { 0x38E, 0x3A1 }, { 0x3A3, 0x3F5 }, { 0x3F7, 0x481 }, { 0x48A, 0x52F }, { 0x531, 0x556 },
    { 0x10A0, 0x10C5 }, { 0x13A0, 0x13F5 }, { 0x13F8, 0x13FD }, { 0x1C90, 0x1CBA }, { 0x1CBD, 0x1CBF },
    { 0x1D00, 0x1D2B }, { 0x1D6B, 0x1D77 }, { 0x1D79, 0x1D9A }, { 0x1E00, 0x1F15 }, { 0x1F18, 0x1F1D },
    { 0x1F20, 0x1F45 }, { 0x1F48, 0x1F4D }, { 0x1F50, 0x1F57 }, { 0x1F59, 0x1F59 }, { 0x1F5B, 0x1F5B },
    { 0x1F5D, 0x1F5D }, { 0x1F5F, 0x1F7D }, { 0x1F80, 0x1FB4 }, { 0x1FB6, 0x1FBC }, { 0x1FBE, 0x1FBE },
    { 0x1FC2, 0x1FC4 }, { 0x1FC6, 0x1FCC }, { 0x1FD0, 0x1FD3 }, { 0x1FD6, 0x1FDB }, { 0x1FE0, 0x1FEC },
    { 0x1FF2, 0x1FF4 }, { 0x1FF6, 0x1FFC }, { 0x2102, 0x2102 }, { 0x2107, 0x2107 }, { 0x210A, 0x2113 },
    { 0x2115, 0x2115 }, { 0x2119, 0x211D }, { 0x2124, 0x2124 }, { 0x2126, 0x2126 }, { 0x2128, 0x2128 },
    { 0x212A, 0x212D }, { 0x212F, 0x2134 }, { 0x2139, 0x2139 }, { 0x213C, 0x213F }, { 0x2145, 0x2149 },
    { 0x214E, 0x214E }, { 0x2183, 0x2184 }, { 0x2C00, 0x2C7B }, { 0x2C7E, 0x2CE4 }, { 0x2CEB, 0x2CEE },
    { 0x2CF2, 0x2CF3 }, { 0xA640, 0xA66D }, { 0xA680, 0xA69B }, { 0xA722, 0xA76F }, { 0xA771, 0xA787 },
    { 0xA78B, 0xA78E }, { 0xAB70, 0xABBF }, { 0xFB00, 0xFB06 }, { 0xFB13, 0xFB17 }, { 0xFF21, 0xFF3A },
    { 0xFF41, 0xFF5A }, { 0x10400, 0x1044F }, { 0x104B0, 0x104D3 }, { 0x104D8, 0x104FB },
    { 0x10C80, 0x10CB2 }, { 0x10CC0, 0x10CF2 }, { 0x118A0, 0x118DF }, { 0x1E900, 0x1E943 },
};

//  deepseek-llm's punctuation: !-/ :-~ (ASCII letters too) ！-／ ：-～ ‘-‟ 、。
static const s_range_t s_llm_punct [] = {
    { 0x21, 0x2F }, { 0x3A, 0x7E }, { 0x2018, 0x201F }, { 0x3000, 0x3002 }, { 0xFF01, 0xFF0F },
    { 0xFF1A, 0xFF5E },
};

//  [一-龥ࠀ-一가-퟿] and deepseek-v3's [一-龥぀-ゟ゠-ヿ]
static const s_range_t s_cjk [] = { { 0x800, 0x9FA5 }, { 0xAC00, 0xD7FF } };
static const s_range_t s_han_kana [] = { { 0x3040, 0x30FF }, { 0x4E00, 0x9FA5 } };

static bool
s_in (const s_range_t *ranges, size_t count, uint32_t cpt)
{
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (cpt < ranges [middle].first)
            high = middle;
        else
        if (cpt > ranges [middle].last)
            low = middle + 1;
        else
            return true;
    }
    return false;
}

#define S_IN(ranges, text, at) \
    ((text)->cats [at] != XINF_TOK_CAT_SPACE && s_in ((ranges), sizeof (ranges) / sizeof (ranges) [0], (text)->cpts [at]))

//  The classes the regexes name: whether the character at 'at' is in one.
typedef bool (s_class_fn) (const s_text_t *text, size_t at);

static bool s_is_latin (const s_text_t *text, size_t at) { return S_IN (s_latin, text, at); }
static bool s_is_llm_punct (const s_text_t *text, size_t at) { return S_IN (s_llm_punct, text, at); }
static bool s_is_cjk (const s_text_t *text, size_t at) { return S_IN (s_cjk, text, at); }
static bool s_is_han_kana (const s_text_t *text, size_t at) { return S_IN (s_han_kana, text, at); }
static bool s_is_letter (const s_text_t *text, size_t at) { return text->cats [at] == XINF_TOK_CAT_LETTER; }
static bool s_is_number (const s_text_t *text, size_t at) { return text->cats [at] == XINF_TOK_CAT_NUMBER; }
static bool s_is_punct (const s_text_t *text, size_t at) { return text->cats [at] == XINF_TOK_CAT_PUNCT; }
static bool s_is_space (const s_text_t *text, size_t at) { return text->cats [at] == XINF_TOK_CAT_SPACE; }

static bool
s_is_newline (const s_text_t *text, size_t at)
{
    return text->cpts [at] == '\r' || text->cpts [at] == '\n';
}

//  default's punctuation: \p{P} and the ASCII symbols $+<=>^~|
static bool
s_is_default_punct (const s_text_t *text, size_t at)
{
    uint32_t cpt = text->cpts [at];
    return text->cats [at] == XINF_TOK_CAT_PUNCT || cpt == '$' || cpt == '+' || (cpt >= '<' && cpt <= '>')
        || cpt == '^' || cpt == '~' || cpt == '|';
}

static bool
s_is_ascii_digit (const s_text_t *text, size_t at)
{
    return text->cpts [at] >= '0' && text->cpts [at] <= '9';
}

//  GPT-2's [^\s\p{L}\p{N}]
static bool
s_is_gpt2_other (const s_text_t *text, size_t at)
{
    return !s_is_letter (text, at) && !s_is_number (text, at) && !s_is_space (text, at);
}

static bool
s_is_letter_mark (const s_text_t *text, size_t at)
{
    return text->cats [at] == XINF_TOK_CAT_LETTER || text->cats [at] == XINF_TOK_CAT_MARK;
}

static bool
s_is_punct_symbol (const s_text_t *text, size_t at)
{
    return text->cats [at] == XINF_TOK_CAT_PUNCT || text->cats [at] == XINF_TOK_CAT_SYMBOL;
}

//  Where a run of 'member' characters from 'at' ends (at most 'most' of
//  them, 0 for any number), within the piece that ends at 'end'.
static size_t
s_run (const s_text_t *text, size_t at, size_t end, s_class_fn *member, size_t most)
{
    size_t stop = at;
    while (stop < end && member (text, stop) && (!most || stop - at < most))
        stop++;
    return stop;
}

//  \s*[\r\n]+|\s+(?!\S)|\s+ at whitespace: up to the run's last newline,
//  else the run, less its last character when that is not the piece's.
static size_t
s_spaces (const s_text_t *text, size_t at, size_t end)
{
    size_t stop = s_run (text, at, end, s_is_space, 0), after_newline = 0;
    for (size_t index = at; index < stop; index++)
        if (s_is_newline (text, index))
            after_newline = index + 1;
    if (after_newline)
        return after_newline;
    return stop - at > 1 && stop < end ? stop - 1 : stop;
}

static bool
s_ascii_punct (uint32_t cpt)
{
    return (cpt >= '!' && cpt <= '/') || (cpt >= ':' && cpt <= '@') || (cpt >= '[' && cpt <= '`')
        || (cpt >= '{' && cpt <= '~');
}

static bool
s_is_ascii_letter (const s_text_t *text, size_t at)
{
    return ((text->cpts [at] | 0x20) >= 'a' && (text->cpts [at] | 0x20) <= 'z');
}

//  deepseek-v3's last regex at 'at': the end of its match, or 'at'.
static size_t
s_match_v3 (const s_text_t *text, size_t at, size_t end)
{
    bool next = at + 1 < end;
    if (s_ascii_punct (text->cpts [at]) && next && s_is_ascii_letter (text, at + 1))
        return s_run (text, at + 1, end, s_is_ascii_letter, 0);
    if (s_is_letter_mark (text, at))
        return s_run (text, at, end, s_is_letter_mark, 0);
    if (!s_is_newline (text, at) && !s_is_punct_symbol (text, at) && next && s_is_letter_mark (text, at + 1))
        return s_run (text, at + 1, end, s_is_letter_mark, 0);
    size_t from = text->cpts [at] == ' ' && next && s_is_punct_symbol (text, at + 1) ? at + 1 : at;
    if (s_is_punct_symbol (text, from))
        return s_run (text, s_run (text, from, end, s_is_punct_symbol, 0), end, s_is_newline, 0);
    return s_is_space (text, at) ? s_spaces (text, at, end) : at;
}

//  GPT-2's regex at 'at', as llama.cpp's unicode_regex_split_custom_gpt2
//  runs it: the end of its match; a whitespace character that
//  \s+(?!\S) leaves before a non-space is a piece of its own.
static size_t
s_match_gpt2 (const s_text_t *text, size_t at, size_t end)
{
    uint32_t cpt = text->cpts [at];
    if (cpt == '\'' && at + 1 < end) {
        uint32_t one = text->cpts [at + 1], two = at + 2 < end ? text->cpts [at + 2] : 0;
        if (one == 's' || one == 't' || one == 'm' || one == 'd')
            return at + 2;
        if ((one == 'r' && two == 'e') || (one == 'v' && two == 'e') || (one == 'l' && two == 'l'))
            return at + 3;
    }
    size_t from = cpt == ' ' ? at + 1 : at;
    if (from < end && !s_is_space (text, from))
        return s_run (text, from, end, s_is_letter (text, from) ? s_is_letter
                                     : s_is_number (text, from) ? s_is_number : s_is_gpt2_other, 0);
    size_t stop = s_run (text, at, end, s_is_space, 0);
    return stop - at > 1 && stop < end ? stop - 1 : stop;
}

//  One regex of a list: a run of a class, perhaps after one whitespace
//  character (\s?), perhaps of 'most' characters at most; a run of
//  exactly 'most'; the whitespace that ends a piece (\s+$); deepseek-v3's
//  last; or GPT-2's.
typedef enum { S_RUN, S_EXACT, S_TRAILING_SPACE, S_V3, S_GPT2 } s_kind_t;

typedef struct {
    s_kind_t kind;
    s_class_fn *member;
    bool space_first;
    size_t most;
} s_regex_t;

static const s_regex_t s_llm [] = {
    { S_RUN, s_is_newline, false, 1 }, { S_RUN, s_is_latin, true, 0 }, { S_RUN, s_is_llm_punct, true, 0 },
    { S_TRAILING_SPACE, NULL, false, 0 }, { S_RUN, s_is_cjk, false, 0 }, { S_RUN, s_is_number, false, 0 },
};
static const s_regex_t s_coder [] = {
    { S_RUN, s_is_newline, false, 1 }, { S_RUN, s_is_letter, true, 0 }, { S_RUN, s_is_punct, true, 0 },
    { S_RUN, s_is_cjk, false, 0 }, { S_RUN, s_is_number, false, 1 },
};
static const s_regex_t s_v3 [] = {
    { S_RUN, s_is_number, false, 3 }, { S_RUN, s_is_han_kana, false, 0 }, { S_V3, NULL, false, 0 },
};
static const s_regex_t s_default [] = {
    { S_RUN, s_is_default_punct, false, 0 }, { S_GPT2, NULL, false, 0 }, { S_RUN, s_is_number, false, 0 },
    { S_EXACT, s_is_ascii_digit, false, 3 },
};

//  The lists by pre-tokenizer.
#define S_LIST(pre, regexes) { (pre), (regexes), sizeof (regexes) / sizeof (regexes) [0] }
static const struct {
    xinf_tok_pre_t pre;
    const s_regex_t *regexes;
    size_t count;
} s_lists [] = {
    S_LIST (XINF_PRE_DEEPSEEK_LLM, s_llm), S_LIST (XINF_PRE_DEEPSEEK_CODER, s_coder),
    S_LIST (XINF_PRE_DEEPSEEK_V3, s_v3), S_LIST (XINF_PRE_DEFAULT, s_default),
};

//  The end of the regex's match at 'at' in a piece that ends at 'end', or 'at'.
static size_t
s_match (const s_regex_t *regex, const s_text_t *text, size_t at, size_t end)
{
    if (regex->kind == S_V3)
        return s_match_v3 (text, at, end);
    if (regex->kind == S_GPT2)
        return s_match_gpt2 (text, at, end);
    if (regex->kind == S_EXACT) {
        size_t stop = s_run (text, at, end, regex->member, regex->most);
        return stop - at == regex->most ? stop : at;
    }
    size_t from = regex->space_first && s_is_space (text, at) && at + 1 < end && regex->member (text, at + 1)
                ? at + 1 : at;
    return s_run (text, from, end, regex->member, regex->most);
}

//  The regex's first match in [at, end): true and its bounds, or false.
static bool
s_find (const s_regex_t *regex, const s_text_t *text, size_t at, size_t end, size_t *start, size_t *stop)
{
    if (regex->kind == S_TRAILING_SPACE) {
        size_t first = end;
        while (first > at && s_is_space (text, first - 1))
            first--;
        *start = first, *stop = end;
        return first < end;
    }
    for (; at < end; at++) {
        size_t match = s_match (regex, text, at, end);
        if (match > at) {
            *start = at, *stop = match;
            return true;
        }
    }
    return false;
}

//  Splits each of the pieces that end at ends [0 .. count - 1] with the
//  regex into 'out': its matches and the text between them; their count.
static size_t
s_split (const s_regex_t *regex, const s_text_t *text, const size_t *ends, size_t count, size_t *out)
{
    size_t pieces = 0;
    for (size_t piece = 0, at = 0; piece < count; at = ends [piece++]) {
        size_t start, stop;
        while (s_find (regex, text, at, ends [piece], &start, &stop)) {
            if (start > at)
                out [pieces++] = start;
            out [pieces++] = at = stop;
        }
        if (at < ends [piece])
            out [pieces++] = ends [piece];
    }
    return pieces;
}

size_t
xinf_tok_split_list (xinf_tok_pre_t pre, const char *bytes, size_t length, size_t **ends_p)
{
    size_t list = 0;
    while (list + 1 < sizeof s_lists / sizeof s_lists [0] && s_lists [list].pre != pre)
        list++;
    assert (s_lists [list].pre == pre);
    const s_regex_t *regexes = s_lists [list].regexes;
    size_t n_regexes = s_lists [list].count;
    s_text_t text = { 0 };
    text.cpts = malloc ((length + 1) * sizeof *text.cpts);
    text.cats = malloc (length + 1);
    size_t *offsets = malloc ((length + 1) * sizeof *offsets);
    size_t *ends = malloc ((length + 1) * sizeof *ends);
    size_t *next = malloc ((length + 1) * sizeof *next);
    assert (text.cpts && text.cats && offsets && ends && next);
    for (size_t at = 0; at < length; text.count++) {
        offsets [text.count] = at;
        at += xinf_tok_utf8 ((const uint8_t *) bytes + at, length - at, &text.cpts [text.count]);
        text.cats [text.count] = (uint8_t) xinf_tok_category (text.cpts [text.count]);
    }
    offsets [text.count] = length;
    //  One piece, the whole text, then each regex in turn
    size_t count = 0;
    if (text.count)
        ends [count++] = text.count;
    for (size_t index = 0; index < n_regexes; index++) {
        count = s_split (&regexes [index], &text, ends, count, next);
        size_t *swap = ends;
        ends = next, next = swap;
    }
    for (size_t index = 0; index < count; index++)
        ends [index] = offsets [ends [index]];
    free (text.cpts);
    free (text.cats);
    free (offsets);
    free (next);
    *ends_p = ends;
    return count;
}
