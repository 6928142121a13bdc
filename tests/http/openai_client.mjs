// The official openai npm client against xinf's gateway: a completion and a
// chat, each without and with stream; three choices (n) of a seeded
// completion, and of a streamed chat; embeddings (the client asks base64
// and decodes it). Usage: node openai_client.mjs BASE_URL KEY MODEL
import OpenAI from "openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const result = {};

const completion = await client.completions.create({ model, prompt: "The quick brown fox", max_tokens: 12, temperature: 0 });
result.completion = { text: completion.choices[0].text, finish: completion.choices[0].finish_reason, usage: completion.usage };

let streamed = "";
let usage = null;
const stream = await client.completions.create({ model, prompt: "The quick brown fox", max_tokens: 12, temperature: 0,
                                                 stream: true, stream_options: { include_usage: true } });
for await (const chunk of stream) {
  if (chunk.choices.length) streamed += chunk.choices[0].text;
  if (chunk.usage) usage = chunk.usage;
}
result.completion_stream = { text: streamed, usage };

const choices = await client.completions.create({ model, prompt: "The quick brown fox", max_tokens: 8, temperature: 1.2,
                                                 seed: 11, n: 3 });
result.choices = choices.choices.map((choice) => ({ index: choice.index, text: choice.text }));

const messages = [{ role: "user", content: "Hello" }];
try {
  const chat = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
  result.chat = { text: chat.choices[0].message.content, role: chat.choices[0].message.role };
  let chatStreamed = "";
  const chatStream = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0, stream: true });
  for await (const chunk of chatStream) chatStreamed += chunk.choices[0]?.delta?.content ?? "";
  result.chat_stream = { text: chatStreamed };
  const chatChoices = ["", "", ""];
  const chatChoicesStream = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0,
                                                                   n: 3, stream: true });
  for await (const chunk of chatChoicesStream)
    for (const choice of chunk.choices) chatChoices[choice.index] += choice.delta?.content ?? "";
  result.chat_choices_stream = chatChoices;
} catch (error) {
  result.chat_error = { status: error.status, message: error.message };
}

try {
  await client.completions.create({ model: "no-such-model", prompt: "x", max_tokens: 1 });
  result.not_found = null;
} catch (error) {
  result.not_found = { status: error.status, name: error.constructor.name, code: error.code };
}

// The model's file names no pooling: the request asks the mean (an extra body field)
const embeddings = await client.embeddings.create({ model, input: ["The quick brown fox", "Hello"], pooling: "mean" });
result.embeddings = { vectors: embeddings.data.map((item) => Array.from(item.embedding)),
                      indexes: embeddings.data.map((item) => item.index), usage: embeddings.usage };

const models = await client.models.list();
result.models = models.data.map((item) => item.id);
const one = await client.models.retrieve(model);
result.model = one.id;

console.log(JSON.stringify(result));
