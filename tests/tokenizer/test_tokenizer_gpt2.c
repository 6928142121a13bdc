/*  test_tokenizer_gpt2: the byte-level BPE tokenizer: pre-tokenizer splits
    (GPT-2, llama3, qwen2, tekken, gpt-4o, DeepSeek's, llama.cpp's default),
    exact ids on a hand-made vocabulary, decoding, and the heap encoder
    against a naive reference on random vocabularies.
*/
#include "test_tokenizer.h"
#include "xinf_tokenizer_private.h"

//  Splits 'text' and checks the pre-tokens (a NULL-terminated list).
static void
s_check_split (int line, xinf_tok_pre_t pre, const char *text, ...)
{
    size_t *ends;
    size_t count = xinf_tok_split (pre, text, strlen (text), &ends);
    va_list args;
    va_start (args, text);
    size_t index = 0, start = 0;
    const char *expected;
    bool same = true;
    while ((expected = va_arg (args, const char *))) {
        size_t size = index < count ? ends [index] - start : 0;
        same = same && index < count && size == strlen (expected) && memcmp (text + start, expected, size) == 0;
        if (index < count)
            start = ends [index];
        index++;
    }
    va_end (args);
    if (!same || index != count) {
        fprintf (stderr, "%s:%d: split of \"%s\" (pre %d):", __FILE__, line, text, (int) pre);
        for (size_t at = 0, from = 0; at < count; from = ends [at++])
            fprintf (stderr, " [%.*s]", (int) (ends [at] - from), text + from);
        fprintf (stderr, "\n");
        exit (1);
    }
    free (ends);
}

#define SPLIT(pre, text, ...) s_check_split (__LINE__, (pre), (text), __VA_ARGS__, (const char *) NULL)

static void
test_split_gpt2 (void)
{
    xinf_tok_pre_t pre = XINF_PRE_GPT2;
    SPLIT (pre, "Hello world", "Hello", " world");
    SPLIT (pre, "  x", " ", " x");
    SPLIT (pre, "x  ", "x", "  ");
    SPLIT (pre, "a\n\nb", "a", "\n", "\n", "b");
    SPLIT (pre, "x\t y", "x", "\t", " y");
    SPLIT (pre, "\thello", "\t", "hello");
    SPLIT (pre, "don't", "don", "'t");
    SPLIT (pre, "DON'T", "DON", "'", "T");
    SPLIT (pre, "we'll they've I'm you're he'd it's", "we", "'ll", " they", "'ve", " I", "'m",
           " you", "'re", " he", "'d", " it", "'s");
    SPLIT (pre, "3.14 12345", "3", ".", "14", " 12345");
    SPLIT (pre, "hello!!! world", "hello", "!!!", " world");
    SPLIT (pre, " !?", " !?");
    SPLIT (pre, "$hello", "$", "hello");
    SPLIT (pre, "日本語 テキスト", "日本語", " テキスト");
    SPLIT (pre, "naïve café", "naïve", " café");
    SPLIT (pre, "a😀b", "a", "😀", "b");
    SPLIT (pre, "x\xff\xfey", "x", "\xff\xfe", "y");
    SPLIT (pre, "Ⅻ٣4", "Ⅻ٣4");                         //  Nl and Nd are \p{N}
    SPLIT (pre, "a\u00a0b", "a", "\u00a0", "b");         //  no-break space is \s
    SPLIT (pre, "   ", "   ");
    s_check_split (__LINE__, pre, "", (const char *) NULL);
}

static void
test_split_llama3 (void)
{
    xinf_tok_pre_t pre = XINF_PRE_LLAMA3;
    SPLIT (pre, "Hello world", "Hello", " world");
    SPLIT (pre, "a\n\nb", "a", "\n\n", "b");
    SPLIT (pre, "x\t y", "x", "\t", " y");
    SPLIT (pre, "\thello", "\thello");
    SPLIT (pre, "$hello", "$hello");
    SPLIT (pre, "12345", "123", "45");
    SPLIT (pre, "DON'T", "DON", "'T");
    SPLIT (pre, "hello!!!\n\nworld", "hello", "!!!\n\n", "world");
    SPLIT (pre, " \n x", " \n", " x");
    SPLIT (pre, "a  \n  b", "a", "  \n", " ", " b");
    SPLIT (pre, "\r\nx", "\r\n", "x");
    SPLIT (pre, "\nx", "\n", "x");
    SPLIT (pre, "x 😀😀 y", "x", " 😀😀", " y");
    SPLIT (pre, "v1.2", "v", "1", ".", "2");
    SPLIT (XINF_PRE_QWEN2, "12345 a1", "1", "2", "3", "4", "5", " a", "1");
    //  tekken and gpt-4o split words at case changes (cased as llama.cpp's)
    SPLIT (XINF_PRE_TEKKEN, "HelloWorld 123", "Hello", "World", " ", "1", "2", "3");
    SPLIT (XINF_PRE_GPT4O, "HelloWorld 123", "Hello", "World", " ", "123");
    SPLIT (XINF_PRE_TEKKEN, "DON'T go/\nx", "DON", "'T", " go", "/\n", "x");
    SPLIT (XINF_PRE_GPT4O, "DON'T HTTPServer", "DON'T", " HTTPServer");
}

//  DeepSeek's lists of regexes, each splitting what the ones before left
//  (the splits as llama.cpp's unicode_regex_split makes them)
static void
test_split_deepseek (void)
{
    xinf_tok_pre_t pre = XINF_PRE_DEEPSEEK_LLM;
    SPLIT (pre, "Hello world", "Hello", " world");
    //  Its letters are Latin, Greek, ...; its punctuation takes ASCII
    //  letters, so a word with é is cut around it
    SPLIT (pre, "héllo wörld", "h", "é", "llo", " w", "ö", "rld");
    SPLIT (pre, "don't stop!!", "don", "'", "t", " stop", "!!");
    SPLIT (pre, "a  b  ", "a", " ", " b", "  ");
    SPLIT (pre, "x\r\ny", "x", "\r", "\n", "y");
    SPLIT (pre, "12345 abc", "12345", " abc");
    SPLIT (pre, "日本語テキスト", "日本語テキスト");
    SPLIT (pre, "한국어 123", "한국어", " ", "123");
    SPLIT (pre, "שלום हिन्दी", "שלום ", "हिन्दी");     //  Hebrew is none of its classes
    SPLIT (pre, "x\u3000、。y", "x", "\u3000", "、。", "y");   //  U+3000 is whitespace, not punctuation
    s_check_split (__LINE__, pre, "", (const char *) NULL);

    pre = XINF_PRE_DEEPSEEK_CODER;
    SPLIT (pre, "x.append(y)", "x", ".", "append", "(", "y", ")");
    SPLIT (pre, "a+b=c", "a", "+", "b", "=", "c");      //  symbols are no punctuation
    SPLIT (pre, "12 34", "1", "2", " ", "3", "4");
    SPLIT (pre, "日本語 text café", "日本語", " text", " café");
    SPLIT (pre, "  foo", " ", " foo");

    pre = XINF_PRE_DEEPSEEK_V3;
    SPLIT (pre, "Hello world", "Hello", " world");
    SPLIT (pre, "12345678", "123", "456", "78");
    SPLIT (pre, "x.append(y)", "x", ".append", "(y", ")");
    SPLIT (pre, "__init__", "__", "init", "__");
    SPLIT (pre, "don't", "don", "'t");
    SPLIT (pre, "日本語テキストです", "日本語テキストです");
    SPLIT (pre, "ア・イ", "ア", "・", "イ");               //  U+30FB is punctuation
    SPLIT (pre, "e\u0301t\u00e9 \u0301a", "e\u0301t\u00e9", " \u0301a");      //  marks go with letters
    SPLIT (pre, "hi!!\n\nthere", "hi", "!!\n\n", "there");
    SPLIT (pre, "a \n\n b", "a", " \n\n", " b");
    SPLIT (pre, "€5 €€", "€", "5", " €€");
    SPLIT (pre, "\xff\xfe" "ab", "\xff\xfe", "ab");         //  invalid bytes are symbols (U+FFFD)
    SPLIT (pre, "\t\tx", "\t", "\tx");
    s_check_split (__LINE__, pre, "", (const char *) NULL);
}

//  llama.cpp's default (tokenizer.ggml.pre "default", or none): runs of
//  punctuation and $+<=>^~| first, GPT-2's regex within the pieces, runs
//  of digits, ASCII digits by three (the splits as llama.cpp makes them)
static void
test_split_default (void)
{
    xinf_tok_pre_t pre = XINF_PRE_DEFAULT;
    SPLIT (pre, "Hello, world! 1234567 it's $x+y", "Hello", ",", " world", "!", " ", "123", "456", "7", " it",
           "'", "s", " ", "$", "x", "+", "y");
    SPLIT (pre, "don't stop!!", "don", "'", "t", " stop", "!!");
    SPLIT (pre, "x  !! y", "x", "  ", "!!", " y");             //  whitespace at a piece's end is whole
    SPLIT (pre, "$100 + 2", "$", "100", " ", "+", " ", "2");
    SPLIT (pre, "3.14159", "3", ".", "141", "59");
    SPLIT (pre, "\u0661\u0662\u06634567", "\u0661\u0662\u0663", "456", "7");   //  by three: ASCII digits only
    SPLIT (pre, "a`b", "a", "`", "b");                         //  ` is no punctuation here
    SPLIT (pre, "<|end|>", "<|", "end", "|>");
    SPLIT (pre, "e\u0301!", "e", "\u0301", "!");
    SPLIT (pre, "\xff\xfe+1", "\xff\xfe", "+", "1");           //  invalid bytes are symbols (U+FFFD)
    SPLIT (pre, "  foo", " ", " foo");
    SPLIT (pre, "x\u3000\u3001y", "x", "\u3000", "\u3001", "y");  //  U+3000 is whitespace, U+3001 punctuation
    SPLIT (pre, "we'll'", "we", "'", "ll", "'");
    s_check_split (__LINE__, pre, "", (const char *) NULL);
}

//  Merges over GPT-2's characters: Ġ is the space, Ã© the bytes of é.
static const char *const s_merges [] = {
    "h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d",      //  256..263
    "Ġwor ld", "Ġ Ġ", "1 2", "12 3", "a a", "' s", "Ã ©"                //  264..270
};
#define N_MERGES (sizeof s_merges / sizeof s_merges [0])

static xinf_tokenizer_t *
s_tokenizer (const char *pre)
{
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, s_merges, N_MERGES);
    test_vocab_add (&vocab, "<|endoftext|>", 13, 0, XINF_TOKEN_CONTROL);    //  271
    test_vocab_add (&vocab, "<tool>", 6, 0, XINF_TOKEN_USER_DEFINED);       //  272
    test_vocab_add (&vocab, "bb", 2, 0, XINF_TOKEN_NORMAL);                 //  273: no merge makes it
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    spec.pre = pre;
    spec.bos_id = spec.eos_id = 271;
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    test_vocab_destroy (&vocab);        //  the tokenizer keeps copies
    return tokenizer;
}

static void
test_ids (void)
{
    xinf_tokenizer_t *tokenizer = s_tokenizer ("gpt-2");
    CHECK_IDS (tokenizer, "hello world", false, 259, 264);
    CHECK_IDS (tokenizer, "hello world", true, 271, 259, 264);
    CHECK_IDS (tokenizer, "hello  world", false, 259, 32, 264);
    CHECK_IDS (tokenizer, "aaaaa", false, 268, 268, 97);
    CHECK_IDS (tokenizer, "it's", false, 105, 116, 269);
    CHECK_IDS (tokenizer, "1231234", false, 267, 267, 52);
    CHECK_IDS (tokenizer, "4123", false, 52, 267);
    CHECK_IDS (tokenizer, "café", false, 99, 97, 102, 270);
    CHECK_IDS (tokenizer, "  \n", false, 265, 10);
    CHECK_IDS (tokenizer, "\xff", false, 255);
    CHECK_IDS (tokenizer, "", false);
    CHECK_IDS (tokenizer, "", true, 271);
    //  Control tokens in text are text; user-defined pieces are split out
    //  of it (Qwen's <think>, <tool_call>), as Hugging Face and llama.cpp
    CHECK_IDS (tokenizer, "<|endoftext|>", false, 60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116, 124, 62);
    CHECK_IDS (tokenizer, "<tool>", false, 272);
    CHECK_IDS (tokenizer, "a<tool><tool>b <tool", false, 97, 272, 272, 98, 32, 60, 116, 111, 111, 108);
    xinf_tokenizer_destroy (&tokenizer);
    //  No tokenizer.ggml.pre, an empty one or "default": llama.cpp's
    //  default, not GPT-2's: punctuation apart ("'s" no piece), digits by three
    const char *defaults [] = { NULL, "", "default" };
    for (size_t index = 0; index < 3; index++) {
        tokenizer = s_tokenizer (defaults [index]);
        CHECK_IDS (tokenizer, "hello world", false, 259, 264);
        CHECK_IDS (tokenizer, "it's", false, 105, 116, 39, 115);
        CHECK_IDS (tokenizer, "1231234", false, 267, 267, 52);
        CHECK_IDS (tokenizer, "4123", false, 52, 266, 51);
        CHECK_IDS (tokenizer, "café", false, 99, 97, 102, 270);
        CHECK_IDS (tokenizer, "<tool>", false, 272);
        CHECK (!xinf_tokenizer_default_add_bos ("gpt2", defaults [index]));
        xinf_tokenizer_destroy (&tokenizer);
    }

    tokenizer = s_tokenizer ("qwen2");
    CHECK_IDS (tokenizer, "1231234", false, 49, 50, 51, 49, 50, 51, 52);
    xinf_tokenizer_destroy (&tokenizer);
    tokenizer = s_tokenizer ("llama-bpe");
    CHECK_IDS (tokenizer, "1231234", false, 267, 267, 52);
    CHECK_IDS (tokenizer, "\thello world", false, 9, 259, 264);
    CHECK_IDS (tokenizer, "bb", false, 273);           //  a word that is a token: whole (ignore_merges)
    xinf_tokenizer_destroy (&tokenizer);
    //  dbrx (Phi-4's): llama3's split, but merges only, as llama.cpp
    tokenizer = s_tokenizer ("dbrx");
    CHECK_IDS (tokenizer, "1231234", false, 267, 267, 52);
    CHECK_IDS (tokenizer, "\thello world", false, 9, 259, 264);
    CHECK_IDS (tokenizer, "bb", false, 98, 98);
    xinf_tokenizer_destroy (&tokenizer);
    //  DeepSeek's: digits by three (V3) or one by one (Coder), merges only
    tokenizer = s_tokenizer ("deepseek-v3");
    CHECK_IDS (tokenizer, "1231234", false, 267, 267, 52);
    CHECK_IDS (tokenizer, "bb", false, 98, 98);
    CHECK (!xinf_tokenizer_default_add_bos ("gpt2", "deepseek-v3"));
    CHECK (!xinf_tokenizer_default_add_bos ("gpt2", "deepseek-llm"));
    CHECK (!xinf_tokenizer_default_add_bos ("gpt2", "deepseek-coder"));
    xinf_tokenizer_destroy (&tokenizer);
    tokenizer = s_tokenizer ("deepseek-coder");
    CHECK_IDS (tokenizer, "1231234", false, 49, 50, 51, 49, 50, 51, 52);
    CHECK_IDS (tokenizer, "hello world", false, 259, 264);
    xinf_tokenizer_destroy (&tokenizer);
    tokenizer = s_tokenizer ("deepseek-llm");
    CHECK_IDS (tokenizer, "1231234", false, 267, 267, 52);     //  one piece, \p{N}+
    CHECK_IDS (tokenizer, "hello world", false, 259, 264);
    xinf_tokenizer_destroy (&tokenizer);
}

static void
test_decode (void)
{
    xinf_tokenizer_t *tokenizer = s_tokenizer ("default");
    char text [64];
    int32_t ids [] = { 271, 259, 264, 32, 270, 271, 272, 10 };
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids, 8, text, sizeof text), 21);
    CHECK_STR (text, "hello world é<tool>\n");
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 264, text, sizeof text), 6);
    CHECK_STR (text, " world");
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 271, text, sizeof text), 0);
    CHECK_STR (text, "");
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 0xC3, text, sizeof text), 1);
    CHECK_INT ((uint8_t) text [0], 0xC3);
    size_t length;
    CHECK_STR (xinf_tokenizer_text (tokenizer, 264, &length), "Ġworld");
    CHECK_INT (length, 7);
    CHECK_INT (xinf_tokenizer_find (tokenizer, "Ġworld", 7), 264);
    CHECK_INT (xinf_tokenizer_find (tokenizer, "world", 5), -1);
    CHECK (xinf_tokenizer_is_control (tokenizer, 271));
    CHECK (!xinf_tokenizer_is_control (tokenizer, 272));
    CHECK (!xinf_tokenizer_is_control (tokenizer, 273));
    CHECK_STR (xinf_tokenizer_model (tokenizer), "gpt2");
    xinf_tokenizer_destroy (&tokenizer);
}

//  --------------------------------------------------------------------------
//  Naive reference: repeatedly merge the lowest-ranked adjacent pair,
//  leftmost first, in each pre-token.

typedef struct {
    int32_t left, right, rank, merged;
} s_merge_t;

static int
s_merge_compare (const void *one, const void *two)
{
    const s_merge_t *a = one, *b = two;
    if (a->left != b->left)
        return a->left < b->left ? -1 : 1;
    if (a->right != b->right)
        return a->right < b->right ? -1 : 1;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static size_t
s_reference (xinf_tokenizer_t *tokenizer, const s_merge_t *merges, size_t n_merges,
             const char *text, size_t length, int32_t *out)
{
    size_t *ends, count = 0;
    size_t words = xinf_tok_split (tokenizer->pre, text, length, &ends);
    int32_t *symbols = malloc ((length + 1) * sizeof *symbols);
    for (size_t word = 0, start = 0; word < words; start = ends [word++]) {
        size_t size = ends [word] - start;
        if (tokenizer->ignore_merges && size > 1) {
            char mapped [1024];         //  llama3 (not dbrx) takes a known word whole
            size_t at = 0;
            for (size_t index = 0; index < size && at < 1000; index++)
                at += test_utf8 (test_byte_cpt ((uint8_t) text [start + index]), mapped + at);
            int32_t id = xinf_tokenizer_find (tokenizer, mapped, at);
            if (id >= 0) {
                out [count++] = id;
                continue;
            }
        }
        for (size_t index = 0; index < size; index++)
            symbols [index] = (uint8_t) text [start + index];
        while (true) {
            const s_merge_t *best = NULL;
            size_t best_at = 0;
            for (size_t index = 0; index + 1 < size; index++) {
                s_merge_t key = { symbols [index], symbols [index + 1], -1, 0 };
                const s_merge_t *found = NULL;
                for (const s_merge_t *m = merges; m < merges + n_merges; m++)
                    if (m->left == key.left && m->right == key.right) {
                        found = m;
                        break;
                    }
                if (found && (!best || found->rank < best->rank)) {
                    best = found;
                    best_at = index;
                }
            }
            if (!best)
                break;
            symbols [best_at] = best->merged;
            memmove (symbols + best_at + 1, symbols + best_at + 2, (size - best_at - 2) * sizeof *symbols);
            size--;
        }
        memcpy (out + count, symbols, size * sizeof *symbols);
        count += size;
    }
    free (symbols);
    free (ends);
    return count;
}

//  Random merges of tokens over a small alphabet, so that they fire.
static void
s_random_vocab (test_vocab_t *vocab, uint64_t *seed, size_t n_merges)
{
    test_gpt2_vocab (vocab, NULL, 0);
    //  The bytes of "abe 1\n", é and 日
    static const uint8_t bytes [] = { 'a', 'b', 'e', ' ', '1', '\n', 0xC3, 0xA9, 0xE6, 0x97, 0xA5 };
    int32_t pool [4096];
    size_t pooled = 0;
    for (; pooled < sizeof bytes; pooled++)
        pool [pooled] = bytes [pooled];
    while (vocab->n_merges < n_merges && pooled < 4096) {
        //  Earlier tokens more often, so that merges build on each other
        size_t one = test_random (seed) % pooled, two = test_random (seed) % pooled;
        int32_t left = pool [one * (test_random (seed) % pooled) / pooled];
        int32_t right = pool [two * (test_random (seed) % pooled) / pooled];
        size_t left_size = vocab->lengths [left], right_size = vocab->lengths [right];
        char joined [256];
        if (left_size + right_size > sizeof joined)
            continue;
        memcpy (joined, vocab->tokens [left], left_size);
        memcpy (joined + left_size, vocab->tokens [right], right_size);
        bool known = false;
        for (size_t id = 0; id < vocab->count && !known; id++)
            known = vocab->lengths [id] == left_size + right_size
                 && memcmp (vocab->tokens [id], joined, left_size + right_size) == 0;
        if (known)
            continue;
        test_vocab_merge (vocab, vocab->tokens [left], left_size, vocab->tokens [right], right_size);
        pool [pooled++] = (int32_t) vocab->count - 1;
    }
}

static void
test_against_reference (void)
{
    static const char *const pieces [] = { "a", "b", "e", " ", "é", "日", "1", "\n", "ab", " a", "aa" };
    const char *pres [] = { "gpt2", "llama3", "qwen2", "dbrx" };
    uint64_t seed = 0x5eed2026;
    size_t ids_total = 0, bytes_total = 0;
    for (int round = 0; round < 8; round++) {
        test_vocab_t vocab;
        s_random_vocab (&vocab, &seed, 300 + 200 * (size_t) round);
        xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
        spec.pre = pres [round % 4];
        xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
        s_merge_t *merges = malloc (vocab.n_merges * sizeof *merges);
        for (size_t index = 0; index < vocab.n_merges; index++) {
            const char *merge = vocab.merges [index], *space = strchr (merge + 1, ' ');
            merges [index] = (s_merge_t) {
                xinf_tokenizer_find (tokenizer, merge, (size_t) (space - merge)),
                xinf_tokenizer_find (tokenizer, space + 1, strlen (space + 1)),
                (int32_t) index, (int32_t) (256 + index) };
        }
        qsort (merges, vocab.n_merges, sizeof *merges, s_merge_compare);
        for (int sample = 0; sample < 200; sample++) {
            char text [512];
            size_t length = 0, words = test_random (&seed) % 40;
            for (size_t word = 0; word < words; word++) {
                const char *piece = pieces [test_random (&seed) % (sizeof pieces / sizeof pieces [0])];
                memcpy (text + length, piece, strlen (piece));
                length += strlen (piece);
            }
            int32_t ids [512], expected [512];
            long count = xinf_tokenizer_encode (tokenizer, text, length, false, ids, 512);
            size_t reference = s_reference (tokenizer, merges, vocab.n_merges, text, length, expected);
            CHECK_INT (count, reference);
            for (size_t index = 0; index < reference; index++)
                CHECK_INT (ids [index], expected [index]);
            test_round_trip (tokenizer, text, length, false);
            ids_total += reference;
            bytes_total += length;
        }
        free (merges);
        xinf_tokenizer_destroy (&tokenizer);
        test_vocab_destroy (&vocab);
    }
    CHECK (ids_total * 10 < bytes_total * 9);   //  the merges fired
}

int
main (void)
{
    RUN (test_split_gpt2);
    RUN (test_split_llama3);
    RUN (test_split_deepseek);
    RUN (test_split_default);
    RUN (test_ids);
    RUN (test_decode);
    RUN (test_against_reference);
    return 0;
}
