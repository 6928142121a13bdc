// The official openai client's function calling against xinf's gateway: a
// chat with tools without and with stream (deltas put together by hand and
// by the SDK's stream helper), the SDK's runTools loop (it runs our
// function with the parsed arguments and sends the result back as a tool
// message after the assistant's tool_calls), and a 400 it raises.
// Usage: node tools_client.mjs BASE_URL KEY MODEL
import OpenAI from "openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const parameters = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
const tools = [{ type: "function", function: { name: "get_weather", description: "The weather in a city", parameters } },
               { type: "function", function: { name: "noop", description: "Does nothing", parameters: { type: "object", properties: {} } } }];
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
const result = {};

const chat = await client.chat.completions.create({ model, messages, tools, temperature: 0 });
result.chat = { message: chat.choices[0].message, finish: chat.choices[0].finish_reason };

// Deltas by hand, as OpenAI documents them: by index, arguments appended
const stream = await client.chat.completions.create({ model, messages, tools, temperature: 0, stream: true });
const calls = [];
let content = "", finish = null, tagLeaks = 0;
for await (const chunk of stream) {
  const delta = chunk.choices[0]?.delta ?? {};
  if (delta.content) {
    content += delta.content;
    if (delta.content.includes("<tool") || delta.content.includes("[TOOL")) tagLeaks++;
  }
  for (const call of delta.tool_calls ?? []) {
    calls[call.index] ??= { id: "", name: "", arguments: "" };
    if (call.id) calls[call.index].id = call.id;
    if (call.function?.name) calls[call.index].name += call.function.name;
    if (call.function?.arguments) calls[call.index].arguments += call.function.arguments;
  }
  finish = chunk.choices[0]?.finish_reason ?? finish;
}
result.stream = { content, calls, finish, tagLeaks };

// The SDK's stream helper puts the deltas together itself
const helper = client.beta.chat.completions.stream({ model, messages, tools, temperature: 0 });
const final = await helper.finalChatCompletion();
result.helper = { message: final.choices[0].message, finish: final.choices[0].finish_reason };

// runTools: the SDK calls our function and sends its result back
for (const streaming of [false, true]) {
  const seen = [];
  const runner = client.beta.chat.completions.runTools({
    model, messages, temperature: 0, stream: streaming,
    tools: [{ type: "function", function: { name: "get_weather", parameters, parse: JSON.parse,
                                            function: (args) => { seen.push(args); return { temperature: 21 }; } } },
            { type: "function", function: { name: "noop", parameters: { type: "object", properties: {} },
                                            function: () => "done" } }],
  }, { maxChatCompletions: 2 });
  await runner.done();
  result[streaming ? "run_tools_stream" : "run_tools"] = {
    seen, roles: runner.messages.map((message) => message.role),
  };
}

try {
  await client.chat.completions.create({ model, messages, tools: [{ type: "function", function: { name: "bad name" } }] });
  result.bad = null;
} catch (error) {
  result.bad = { status: error.status, name: error.constructor.name, param: error.param };
}
console.log(JSON.stringify(result));
