// The official Anthropic TypeScript SDK (@anthropic-ai/sdk, pinned) against
// xinf's /v1/messages: create, a stream through its MessageStream helper
// (finalMessage puts the events together; it throws on an event out of
// place), a tool_use answered with a tool_result, thinking blocks, and the
// SDK's error classes for a 404 and a wrong key. Usage: node
// anthropic_client.mjs BASE_URL KEY MODEL TOOL_MODEL THINKING_MODEL; prints
// one JSON line.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, apiKey, model, toolModel, thinkingModel] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const result = {};
const text = (message) => message.content.filter((block) => block.type === "text").map((block) => block.text).join("");
const body = { model, max_tokens: 12, temperature: 0, system: "Be brief.",
               messages: [{ role: "user", content: "Tell me a story" }] };

const message = await client.messages.create(body);
result.text = text(message);
result.stop_reason = message.stop_reason;
result.usage = message.usage;

let streamed = "";
const stream = client.messages.stream(body);
stream.on("text", (delta) => { streamed += delta; });
const final = await stream.finalMessage();
result.streamed = streamed;
result.final_text = text(final);
result.final_stop = final.stop_reason;

const tools = [{ name: "get_weather", description: "The weather",
                 input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
const asked = await client.messages.create({ model: toolModel, max_tokens: 200, tools,
                                             messages: [{ role: "user", content: "Weather in Paris?" }] });
const use = asked.content.find((block) => block.type === "tool_use");
result.tool = [asked.stop_reason, use.name, use.input];
const toolStream = client.messages.stream({ model: toolModel, max_tokens: 200, tools,
                                            messages: [{ role: "user", content: "Weather in Paris?" }] });
const toolFinal = await toolStream.finalMessage();
const streamedUse = toolFinal.content.find((block) => block.type === "tool_use");
result.tool_stream = [toolFinal.stop_reason, streamedUse.name, streamedUse.input];
const answered = await client.messages.create({ model: toolModel, max_tokens: 200, tools, messages: [
  { role: "user", content: "Weather in Paris?" },
  { role: "assistant", content: asked.content },
  { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny" }] }] });
result.answered = answered.usage.input_tokens + answered.usage.cache_read_input_tokens;

const thought = await client.messages.stream({ model: thinkingModel, max_tokens: 200,
                                               messages: [{ role: "user", content: "What is 2 + 2?" }] }).finalMessage();
result.thinking = thought.content.map((block) => [block.type, block.thinking ?? block.text]);

try {
  await client.messages.create({ ...body, model: "no-such-model" });
  result.not_found = "none";
} catch (error) {
  result.not_found = [error.constructor.name, error.status, error.error?.error?.type];
}
try {
  await new Anthropic({ baseURL, apiKey: "wrong", maxRetries: 0 }).messages.create(body);
  result.bad_key = "none";
} catch (error) {
  result.bad_key = [error.constructor.name, error.status];
}
console.log(JSON.stringify(result));
