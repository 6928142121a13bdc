// The official openai npm client's Responses API against xinf's gateway:
// create (output_text, usage), a stream through the SDK's ResponseStream
// helper (it checks each event against its snapshot and throws on one
// that names a missing item), retrieve and del, a tool call answered with
// function_call_output and previous_response_id, and NotFoundError for an
// unknown previous response. Usage: node responses_client.mjs BASE_URL KEY
// MODEL TOOL_MODEL; prints one JSON line.
import OpenAI from "openai";

const [baseURL, apiKey, model, toolModel] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const result = {};
// The text of a response's output_text parts (what create's output_text has)
const outputText = (response) => response.output.filter((item) => item.type === "message")
  .flatMap((item) => item.content).filter((part) => part.type === "output_text").map((part) => part.text).join("");
const body = { model, input: "Tell me a story", max_output_tokens: 12, temperature: 0 };

const response = await client.responses.create(body);
result.text = response.output_text;
result.status = response.status;
result.usage = response.usage;

const events = [];
let streamed = "";
const stream = client.responses.stream(body);
stream.on("response.output_text.delta", (event) => { streamed += event.delta; });
for await (const event of stream) events.push(event.type);
const final = await stream.finalResponse();
result.streamed = streamed;
result.final_text = outputText(final);
result.events = [events[0], events[events.length - 1]];

const retrieved = await client.responses.retrieve(response.id);
result.retrieved = retrieved.id === response.id && outputText(retrieved) === response.output_text;
await client.responses.del(response.id);
result.deleted = true;
try {
  await client.responses.retrieve(response.id);
  result.gone = 200;
} catch (error) {
  result.gone = error.status;
}

const tools = [{ type: "function", name: "get_weather", description: "The weather",
                 parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
const asked = await client.responses.create({ model: toolModel, input: "Weather in Paris?", tools, temperature: 0 });
const call = asked.output.find((item) => item.type === "function_call");
result.call = [call.name, JSON.parse(call.arguments)];
const answered = await client.responses.create({
  model: toolModel, previous_response_id: asked.id, tools, temperature: 0,
  input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }] });
result.after_call = answered.output_text;

try {
  await client.responses.create({ model, input: "x", previous_response_id: "resp_unknown" });
  result.not_found = "none";
} catch (error) {
  result.not_found = error.constructor.name;
}
console.log(JSON.stringify(result));
