/*  tokenizer_split_llama: llama.cpp's own pre-tokenizer splits, for
    test_tokenizer_llama_split.py to compare xinf's with. Built by that
    script (C++, against llama.cpp's src/unicode.h and libllama.a) where
    llama.cpp is built; not part of xinf's build.

    Usage: tokenizer_split_llama NAME; stdin holds records
    "<byte length>\n<bytes>" (as tokenizer_split_dump reads), stdout gets
    one line per record with the byte offsets where the pieces end, as
    unicode_regex_split cuts the text with the regexes that
    llama_vocab sets for that tokenizer.ggml.pre (src/llama-vocab.cpp; the
    lists below are copied from it line for line, which the script checks).
    The names are tokenizer_split_dump's: gpt2 is llama.cpp's "gpt-2",
    gpt4o its "gpt-4o", default LLAMA_VOCAB_PRE_TYPE_DEFAULT's list (for
    "default" and for a file without tokenizer.ggml.pre). llama.cpp reads
    an invalid UTF-8 byte as one U+FFFD; the offsets are those of the
    input bytes.
*/
#include "unicode.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

struct s_pre_t {
    const char *name;
    std::vector<std::string> regex_exprs;
};

//  BEGIN REGEXES
static const s_pre_t s_pres [] = {
    { "gpt2", {
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    } },
    { "llama3", {
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    } },
    { "qwen2", {
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    } },
    { "tekken", {
        "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    } },
    { "gpt4o", {
        "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    } },
    { "refact", {
        "\\p{N}",
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    } },
    { "deepseek-llm", {
        "[\r\n]",
        "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
        "\\s+$",
        "[一-龥ࠀ-一가-퟿]+",
        "\\p{N}+",
    } },
    { "deepseek-coder", {
        "[\r\n]",
        "\\s?\\p{L}+",
        "\\s?\\p{P}+",
        "[一-龥ࠀ-一가-퟿]+",
        "\\p{N}",
    } },
    { "deepseek-v3", {
        "\\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    } },
    { "default", {
        "[\\p{P}\\$\\+<=>\\^~\\|]+",
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
        "\\p{N}+",
        "[0-9][0-9][0-9]",
    } },
};
//  END REGEXES

//  The byte offset where each code point of 'text' starts, as llama.cpp's
//  unicode_cpts_from_utf8 reads it (an invalid byte is one U+FFFD).
static std::vector<size_t>
s_starts (const std::string &text)
{
    std::vector<size_t> starts;
    size_t offset = 0;
    while (offset < text.size ()) {
        starts.push_back (offset);
        try {
            unicode_cpt_from_utf8 (text, offset);
        }
        catch (const std::invalid_argument &) {
            offset++;
        }
    }
    starts.push_back (text.size ());
    return starts;
}

int
main (int argc, char *argv [])
{
    const s_pre_t *pre = nullptr;
    for (const s_pre_t &one : s_pres)
        if (argc == 2 && strcmp (argv [1], one.name) == 0)
            pre = &one;
    if (!pre) {
        fprintf (stderr, "usage: tokenizer_split_llama NAME (gpt2, llama3, ..., deepseek-v3, default)\n");
        return 2;
    }
    size_t length;
    while (scanf ("%zu", &length) == 1 && getchar () == '\n') {
        std::string text (length, '\0');
        if (length && fread (&text [0], 1, length, stdin) != length)
            return 1;
        std::vector<size_t> starts = s_starts (text);
        std::vector<std::string> words = unicode_regex_split (text, pre->regex_exprs, false);
        size_t at = 0;
        for (size_t index = 0; index < words.size (); index++) {
            at += unicode_cpts_from_utf8 (words [index]).size ();
            printf (index ? " %zu" : "%zu", starts [at]);
        }
        printf ("\n");
    }
    return 0;
}
