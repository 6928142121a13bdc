/*  xinf_tokenizer_nfc: Unicode NFC normalization (canonical decomposition,
    canonical ordering of combining marks, canonical composition; UAX #15),
    which Qwen2's tokenizer (Hugging Face's "NFC" normalizer) applies to a
    text before splitting it, so that "e" + U+0301 and "é" give the same
    ids. Tables: xinf_tokenizer_nfc_data.c (Unicode 14).

    A text whose characters NFC keeps, that are not marks and that compose
    with nothing before them (most text: below U+0300, CJK ideographs,
    Hangul syllables, precomposed letters) is already in NFC: it costs one
    scan. Bytes that are not valid UTF-8 pass through unchanged, as
    starters that compose with nothing.
*/
#include "xinf_tokenizer_private.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Hangul syllables decompose and compose by arithmetic (Unicode ch. 3.12)
#define HANGUL_S 0xAC00
#define HANGUL_L 0x1100
#define HANGUL_V 0x1161
#define HANGUL_T 0x11A7
#define HANGUL_L_COUNT 19
#define HANGUL_V_COUNT 21
#define HANGUL_T_COUNT 28
#define HANGUL_N (HANGUL_V_COUNT * HANGUL_T_COUNT)
#define HANGUL_S_COUNT (HANGUL_L_COUNT * HANGUL_N)

//  An invalid byte b is carried as RAW_BYTE + b
#define RAW_BYTE 0x110000u
#define N_DECOMPOSITIONS (sizeof xinf_tok_decompositions / sizeof xinf_tok_decompositions [0])
#define N_COMPOSITIONS (sizeof xinf_tok_compositions / sizeof xinf_tok_compositions [0])
#define N_COMBINING (sizeof xinf_tok_combining / sizeof xinf_tok_combining [0])

#define ENTRY_CP(e) ((uint32_t) ((e) >> 43))
#define ENTRY_FIRST(e) ((uint32_t) ((e) >> 22) & 0x1FFFFF)
#define ENTRY_SECOND(e) ((uint32_t) ((e) >> 1) & 0x1FFFFF)

typedef struct {
    uint32_t *cpts;
    size_t count, capacity;
} s_cpts_t;

static void
s_push (s_cpts_t *list, uint32_t cpt)
{
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? list->capacity * 2 : 64;
        list->cpts = realloc (list->cpts, list->capacity * sizeof *list->cpts);
        assert (list->cpts);
    }
    list->cpts [list->count++] = cpt;
}

//  Canonical combining class; 0 for starters and raw bytes.
static int
s_combining (uint32_t cpt)
{
    if (cpt < 0x300 || cpt >= RAW_BYTE)
        return 0;
    size_t low = 0, high = N_COMBINING;        //  last run starting <= cpt
    while (high - low > 1) {
        size_t middle = (low + high) / 2;
        if ((xinf_tok_combining [middle] >> 8) <= cpt)
            low = middle;
        else
            high = middle;
    }
    return (int) (xinf_tok_combining [low] & 0xFF);
}

//  The decomposition entry of a code point, or NULL.
static const uint64_t *
s_decomposition (uint32_t cpt)
{
    size_t low = 0, high = N_DECOMPOSITIONS;
    while (low < high) {
        size_t middle = (low + high) / 2;
        uint32_t at = ENTRY_CP (xinf_tok_decompositions [middle]);
        if (at == cpt)
            return &xinf_tok_decompositions [middle];
        if (at < cpt)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

//  Appends the full canonical decomposition of a code point.
static void
s_decompose (uint32_t cpt, s_cpts_t *out)
{
    if (cpt >= HANGUL_S && cpt < HANGUL_S + HANGUL_S_COUNT) {
        uint32_t index = cpt - HANGUL_S;
        s_push (out, HANGUL_L + index / HANGUL_N);
        s_push (out, HANGUL_V + (index % HANGUL_N) / HANGUL_T_COUNT);
        if (index % HANGUL_T_COUNT)
            s_push (out, HANGUL_T + index % HANGUL_T_COUNT);
        return;
    }
    const uint64_t *entry = cpt >= 0xC0 && cpt < RAW_BYTE ? s_decomposition (cpt) : NULL;
    if (!entry) {
        s_push (out, cpt);
        return;
    }
    s_decompose (ENTRY_FIRST (*entry), out);
    if (ENTRY_SECOND (*entry))
        s_decompose (ENTRY_SECOND (*entry), out);
}

//  The primary composite of first + second, or 0 when they do not compose.
static uint32_t
s_compose (uint32_t first, uint32_t second)
{
    if (first >= HANGUL_L && first < HANGUL_L + HANGUL_L_COUNT
    &&  second >= HANGUL_V && second < HANGUL_V + HANGUL_V_COUNT)
        return HANGUL_S + ((first - HANGUL_L) * HANGUL_V_COUNT + second - HANGUL_V) * HANGUL_T_COUNT;
    if (first >= HANGUL_S && first < HANGUL_S + HANGUL_S_COUNT
    &&  (first - HANGUL_S) % HANGUL_T_COUNT == 0
    &&  second > HANGUL_T && second < HANGUL_T + HANGUL_T_COUNT)
        return first + second - HANGUL_T;
    if (first >= RAW_BYTE || second >= RAW_BYTE)
        return 0;
    uint64_t key = (uint64_t) first << 21 | second;
    size_t low = 0, high = N_COMPOSITIONS;
    while (low < high) {
        size_t middle = (low + high) / 2;
        uint64_t entry = xinf_tok_decompositions [xinf_tok_compositions [middle]];
        uint64_t at = (uint64_t) ENTRY_FIRST (entry) << 21 | ENTRY_SECOND (entry);
        if (at == key)
            return ENTRY_CP (entry);
        if (at < key)
            low = middle + 1;
        else
            high = middle;
    }
    return 0;
}

//  Sorts a run of combining marks by class, keeping the order of equal
//  classes: insertion for short runs, counting for long ones (a hostile
//  text of many marks must not take quadratic time).
#define SHORT_RUN 32

static void
s_sort_run (uint32_t *cpts, uint8_t *classes, size_t count)
{
    if (count <= SHORT_RUN) {
        for (size_t i = 1; i < count; i++)
            for (size_t j = i; j > 0 && classes [j - 1] > classes [j]; j--) {
                uint32_t cpt = cpts [j];
                cpts [j] = cpts [j - 1];
                cpts [j - 1] = cpt;
                uint8_t class = classes [j];
                classes [j] = classes [j - 1];
                classes [j - 1] = class;
            }
        return;
    }
    size_t starts [257] = { 0 };
    for (size_t i = 0; i < count; i++)
        starts [classes [i] + 1]++;
    for (int class = 1; class <= 256; class++)
        starts [class] += starts [class - 1];
    uint32_t *sorted = malloc (count * sizeof *sorted);
    assert (sorted);
    for (size_t i = 0; i < count; i++)
        sorted [starts [classes [i]]++] = cpts [i];
    memcpy (cpts, sorted, count * sizeof *sorted);
    free (sorted);
}

//  Canonical ordering: sorts each run of combining marks (class > 0).
static void
s_reorder (s_cpts_t *list)
{
    uint8_t *classes = malloc (list->count + 1);
    assert (classes);
    for (size_t i = 0; i < list->count; i++)
        classes [i] = (uint8_t) s_combining (list->cpts [i]);
    for (size_t start = 0; start < list->count; ) {
        size_t end = start;
        while (end < list->count && classes [end] > 0)
            end++;
        if (end - start > 1)
            s_sort_run (list->cpts + start, classes + start, end - start);
        start = end > start ? end : start + 1;
    }
    free (classes);
}

//  Composes in place: each character joins the last starter when nothing
//  between them blocks it (a starter, or a mark of the same or a higher
//  class) and the pair has a primary composite.
static void
s_recompose (s_cpts_t *list)
{
    size_t kept = 0;
    long starter = -1;          //  index in the kept part
    int last = -1;              //  class of the last kept character after it, -1 none
    for (size_t i = 0; i < list->count; i++) {
        uint32_t cpt = list->cpts [i];
        int class = s_combining (cpt);
        if (starter >= 0 && (last == -1 || (last != 0 && last < class))) {
            uint32_t composite = s_compose (list->cpts [starter], cpt);
            if (composite) {
                list->cpts [starter] = composite;
                continue;
            }
        }
        if (class == 0) {
            starter = (long) kept;
            last = -1;
        }
        else
            last = class;
        list->cpts [kept++] = cpt;
    }
    list->count = kept;
}

//  Whether a character stays as it is whatever surrounds it: class 0, NFC
//  keeps it (NFC_Quick_Check Yes) and it composes with nothing before it.
static bool
s_stable (uint32_t cpt)
{
    if (cpt < 0x300 || (cpt >= 0x4E00 && cpt <= 0x9FFF)
    ||  (cpt >= HANGUL_S && cpt < HANGUL_S + HANGUL_S_COUNT))
        return true;            //  most text: Latin-1, CJK ideographs, Hangul
    if (s_combining (cpt) != 0
    ||  (cpt >= HANGUL_V && cpt < HANGUL_V + HANGUL_V_COUNT)
    ||  (cpt > HANGUL_T && cpt < HANGUL_T + HANGUL_T_COUNT))
        return false;
    size_t n_maybe = sizeof xinf_tok_nfc_maybe / sizeof xinf_tok_nfc_maybe [0];
    for (size_t low = 0, high = n_maybe; low < high; ) {
        size_t middle = (low + high) / 2;
        if (xinf_tok_nfc_maybe [middle] == cpt)
            return false;
        if (xinf_tok_nfc_maybe [middle] < cpt)
            low = middle + 1;
        else
            high = middle;
    }
    const uint64_t *entry = s_decomposition (cpt);
    return !entry || (*entry & 1);
}

//  Whether NFC leaves the text as it is (every character stable).
static bool
s_quick_check (const uint8_t *bytes, size_t length)
{
    size_t at = 0;
    while (at < length && bytes [at] < 0xCC)
        at++;                   //  no code point from U+0300 up so far
    while (at < length) {
        uint32_t cpt;
        size_t size = xinf_tok_utf8 (bytes + at, length - at, &cpt);
        if (cpt != XINF_TOK_BAD && !s_stable (cpt))
            return false;
        at += size;
    }
    return true;
}

char *
xinf_tok_nfc (const char *text, size_t length, size_t *out_length)
{
    const uint8_t *bytes = (const uint8_t *) text;
    if (s_quick_check (bytes, length))
        return NULL;
    s_cpts_t cpts = { NULL, 0, 0 };
    for (size_t next = 0; next < length; ) {
        uint32_t cpt;
        size_t size = xinf_tok_utf8 (bytes + next, length - next, &cpt);
        s_decompose (cpt == XINF_TOK_BAD ? RAW_BYTE + bytes [next] : cpt, &cpts);
        next += size;
    }
    s_reorder (&cpts);
    s_recompose (&cpts);
    char *out = malloc (cpts.count * 4 + 1);
    assert (out);
    size_t size = 0;
    for (size_t i = 0; i < cpts.count; i++) {
        if (cpts.cpts [i] >= RAW_BYTE)
            out [size++] = (char) (cpts.cpts [i] - RAW_BYTE);
        else
            size += xinf_tok_utf8_put (cpts.cpts [i], out + size);
    }
    out [size] = 0;
    free (cpts.cpts);
    *out_length = size;
    return out;
}
