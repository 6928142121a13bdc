// llama.cpp's prefill and decode speed on a GGUF file, for comparison with
// xinf-bench-generate on the same file and thread count. llama.cpp comes
// prebuilt from the npm registry (node-llama-cpp and its
// @node-llama-cpp/linux-x64 binaries); nothing is downloaded or compiled
// elsewhere:
//
//     cd tools/llamacpp && npm install --ignore-scripts
//     node bench.mjs MODEL.gguf [THREADS] [DECODE_TOKENS] [PROMPT_TOKENS]
//
// Greedy decoding over token ids (no text), CPU only. Prints one JSON line.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [path, threads, decode, promptLength] = [process.argv[2], Number(process.argv[3] || 2),
                                              Number(process.argv[4] || 64), Number(process.argv[5] || 32)];
if (!path) {
    console.error("usage: node bench.mjs MODEL.gguf [THREADS] [DECODE_TOKENS] [PROMPT_TOKENS]");
    process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.warn});
const model = await llama.loadModel({modelPath: path, gpuLayers: 0});
const context = await model.createContext({contextSize: promptLength + decode + 16, threads,
                                           batchSize: Math.max(promptLength, 1)});
const sequence = context.getSequence();
const prompt = Array.from({length: promptLength}, (_, index) => (index * 7 + 1) % 1000);
const started = performance.now();
let count = 0, first = 0;
for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
    if (count === 0)
        first = performance.now();
    if (++count > decode)
        break;
}
const ended = performance.now();
console.log(JSON.stringify({model: path, threads, prompt_tokens: promptLength,
                            prefill_tokens_per_s: promptLength * 1000 / (first - started),
                            decode_tokens: count - 1, decode_tokens_per_s: (count - 1) * 1000 / (ended - first)}));
await context.dispose();
await model.dispose();
