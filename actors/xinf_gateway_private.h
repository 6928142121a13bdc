/*  xinf_gateway_private: what the gateway's files share (not for other
    modules): the gateway's state, one HTTP request in flight, growable
    buffers, OpenAI request parsing, text assembly (UTF-8, stop strings,
    server-sent events) and API keys.

    Everything here lives on the gateway actor's one thread.
*/
#ifndef XINF_GATEWAY_PRIVATE_H_INCLUDED
#define XINF_GATEWAY_PRIVATE_H_INCLUDED

#include "xinf_gateway.h"
#include <microhttpd.h>
#include <jansson.h>

#define XINF_GW_STOPS_MAX      32       //  stop strings of a request (OpenAI's 4; vLLM's and llama-server's clients send more)
#define XINF_GW_LOGIT_BIASES   2048     //  logit_bias tokens (client.xml GENERATE)
#define XINF_GW_TOP_LOGPROBS   20       //  top_logprobs at most (client.xml GENERATE)
#define XINF_GW_STOP_MAX       256      //  bytes of one stop string
#define XINF_GW_STOP_IDS_MAX   64       //  stop_token_ids of a request (client.xml GENERATE)
#define XINF_GW_UID_MAX        64       //  bytes of a model uid (client.md LAUNCH)
#define XINF_GW_MESSAGES_MAX   10000    //  messages of a chat
#define XINF_GW_CALL_GRACE_MS  5000     //  the gateway waits this long past a call's deadline
#define XINF_GW_SSE_MAX        (4 << 20) //  bytes of a stream its client has not read: beyond, it ends
#define XINF_GW_TOOLS_MAX      128      //  tools of a chat (OpenAI's limit)
#define XINF_GW_TOOLS_BYTES    (512 << 10) //  bytes of a chat's tools as compact JSON
#define XINF_GW_TOOL_CALLS_MAX 128      //  tool calls of one assistant message
#define XINF_GW_TEMPLATE_KWARGS 64      //  chat_template_kwargs variables
#define XINF_GW_SCHEMA_BYTES   65536    //  a response_format's schema (client.xml GENERATE json_schema)
#define XINF_GW_TEMPLATE_KWARGS_BYTES (64 << 10)   //  and their compact JSON
#define XINF_GW_CHOICES_MAX    128      //  n: choices of one request (OpenAI's limit)
#define XINF_GW_REPEAT_LAST_N  64       //  llama-server's repeat_last_n default
#define XINF_GW_CHOICES_BYTES  (2 * XINF_GENERATE_BODY_MAX)   //  n times a GENERATE's bytes at most

// ---- growable bytes ---------------------------------------------------------
typedef struct {
    char *data;
    size_t size, alloc;
} xinf_gw_buf_t;

void xinf_gw_buf_add (xinf_gw_buf_t *self, const void *data, size_t size);
void xinf_gw_buf_add_str (xinf_gw_buf_t *self, const char *text);
//  Drops the first 'count' bytes.
void xinf_gw_buf_consume (xinf_gw_buf_t *self, size_t count);
void xinf_gw_buf_free (xinf_gw_buf_t *self);

// ---- errors in OpenAI's shape -----------------------------------------------
typedef struct {
    unsigned status;                  //  HTTP status
    const char *type;                 //  "invalid_request_error", ...
    const char *code;                 //  "model_not_found", ... or NULL
    char param [64];                  //  the field at fault, or ""
    char message [768];
    int64_t retry_after_ms;           //  429/503: the Retry-After hint (0: none)
} xinf_gw_error_t;

void xinf_gw_error_set (xinf_gw_error_t *self, unsigned status, const char *type, const char *code,
                        const char *param, const char *format, ...) __attribute__ ((format (printf, 6, 7)));
//  A field of the wrong type or out of range: 400 invalid_value naming
//  'param' ("'PARAM': TEXT"); -1, for return.
int xinf_gw_error_bad (xinf_gw_error_t *self, const char *param, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  A field named otherwise by another API: 'from' (and what follows it, a
//  '.' or '[') becomes 'to' in param and at the start of the message.
void xinf_gw_error_rename (xinf_gw_error_t *self, const char *from, const char *to);
//  A chat tool's field, tools[N].function.FIELD, as a flat tool's
//  tools[N].FIELD ('parameters' named as given).
void xinf_gw_error_rename_tools (xinf_gw_error_t *self, const char *parameters);
//  {"error": {"message", "type", "param", "code"}}
json_t *xinf_gw_error_json (const xinf_gw_error_t *self);
//  The HTTP error of an ERROR message (its code, message and retry hint);
//  returns its code ("INTERNAL" when it has none; valid while msg is).
const char *xinf_gw_error_from_msg (xinf_gw_error_t *self, xinf_msg_t *msg);
//  The HTTP error for an XINF-CLIENT/1 ERROR code.
void xinf_gw_error_from_code (xinf_gw_error_t *self, const char *code, const char *message, uint64_t retry_after_ms);

// ---- OpenAI generation requests (xinf_gateway_openai.c) --------------------
typedef enum {
    XINF_GW_TOOL_CHOICE_NONE = 0,     //  no tools, or "none": the text is content
    XINF_GW_TOOL_CHOICE_AUTO,
    XINF_GW_TOOL_CHOICE_REQUIRED,
    XINF_GW_TOOL_CHOICE_FUNCTION      //  {"type": "function", "function": {"name"}}
} xinf_gw_tool_choice_t;

typedef struct {
    bool chat;
    char model [XINF_GW_UID_MAX + 1];
    char *prompt;                     //  completions: the text; chat: the rendered prompt
    size_t prompt_size;
    uint32_t *prompt_tokens;          //  completions given token ids
    size_t prompt_token_count;
    json_t *messages;                 //  chat: the messages, content parts joined (owned)
    json_t *tools;                    //  chat: tools or NULL (owned)
    json_t *template_kwargs;          //  chat: chat_template_kwargs or NULL (owned)
    int tool_choice;                  //  xinf_gw_tool_choice_t
    char tool_choice_name [65];       //  TOOL_CHOICE_FUNCTION: the function
    bool parallel_tool_calls;         //  default true
    uint64_t max_tokens;              //  0: not given (or zero_tokens)
    bool zero_tokens;                 //  completions: max_tokens 0 with echo, the prompt alone
    double temperature, top_p;
    double min_p;                     //  0: off (vLLM's and llama-server's min_p)
    double presence_penalty, frequency_penalty;   //  0: none
    double repetition_penalty;        //  vLLM's (llama-server's repeat_penalty); 1: none
    uint64_t repetition_last_n;       //  llama-server's repeat_last_n: the tokens it looks at
    bool has_repetition_last_n;       //  (else all of the prompt and the answer)
    bool logprobs;                    //  each token's log-probability
    bool echo;                        //  completions: the prompt's text first
    char *suffix;                     //  completions: the text after the insertion (fill-in-the-middle), or NULL
    bool infill;                      //  llama-server's /infill: its prompt's layout
    json_t *fim_chunks;               //  with it: input_extra's {filename, text} chunks (owned), or NULL
    json_t *allowed;                  //  vLLM's allowed_token_ids, checked (owned), or NULL
    json_t *bad_words;                //  vLLM's bad_words, checked (owned), or NULL
    bool llama;                       //  llama-server's own endpoints (/completion, /infill): its answer's shape
    bool return_tokens;               //  with it: the answer's token ids
    bool ignore_eos;                  //  vLLM's: generate past end tokens
    bool json_object;                 //  response_format json_object: the answer is one JSON object
    char *json_schema;                //  response_format json_schema: the schema, compact JSON (owned)
    char *regex;                      //  guided_regex / guided_choice: the answer matches it whole (owned)
    char *gbnf;                       //  grammar / guided_grammar: its root rule matched whole (owned)
    const char *constraint;           //  the field that constrains the answer (static), or NULL
    uint32_t stop_ids [XINF_GW_STOP_IDS_MAX];    //  stop_token_ids (vLLM's)
    size_t stop_id_count;
    uint64_t min_tokens;              //  vLLM's: no end, stop token or stop string before this many tokens
    uint64_t top_logprobs;            //  with it: the most likely tokens at each position, 0-20
    uint32_t *bias_tokens;            //  logit_bias: its tokens and their biases, as given
    double *bias_values;
    size_t bias_count;
    uint64_t top_k, seed;
    bool has_seed;
    int64_t priority;                 //  vLLM's: a lower value is served first (0 by default)
    int lora_id;                      //  llama-server's lora [{id, scale 1}]: the model's adapter id + 1 (0: none)
    int64_t truncate;                 //  vLLM's truncate_prompt_tokens: -1 (the context), N, or 0: not given
    bool include_stop;                //  vLLM's include_stop_str_in_output: the stop string ends the text
    char lora [65];                   //  the adapter's name once found (LIST_MODELS), or ""
    size_t n;                         //  choices to generate, 1 to XINF_GW_CHOICES_MAX
    char *stops [XINF_GW_STOPS_MAX];
    size_t stop_count;
    bool stream, include_usage;
    bool add_generation_prompt;       //  /apply-template only (chat: always)
    bool reasoning_raw;               //  reasoning_format none: a thought stays in the content
} xinf_gw_oai_t;

//  Whether 'name' is one of OpenAI's reasoning efforts (none, minimal, low,
//  medium, high, xhigh): a chat's reasoning_effort, a response's
//  reasoning.effort.
bool xinf_gw_reasoning_effort_known (const char *name);

//  Parses a JSON body into an object; NULL with a 400 in 'error'.
json_t *xinf_gw_json_parse (const char *body, size_t size, xinf_gw_error_t *error);
//  Validates a /v1/completions (chat false) or /v1/chat/completions body
//  into 'out'; -1 with the 400 (or 404 for a model name no uid can have)
//  in 'error'. Unknown fields are ignored, as OpenAI does.
int xinf_gw_oai_parse (json_t *root, bool chat, xinf_gw_oai_t *out, xinf_gw_error_t *error);
//  What the answer is constrained to: response_format, guided_json,
//  guided_regex, guided_choice, grammar, guided_grammar, structured_outputs
//  (xinf_gateway_guided.c).
int xinf_gw_oai_guided (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error);
void xinf_gw_oai_clear (xinf_gw_oai_t *self);
//  A JSON string from bytes that may hold invalid UTF-8 (replaced by U+FFFD).
json_t *xinf_gw_json_text (const char *bytes, size_t size);
//  True for a string a model uid may be (client.md LAUNCH).
bool xinf_gw_uid_valid (const char *text);

// ---- text of a generation (xinf_gateway_stream.c) ---------------------------
//  Joins token pieces into text that is safe to show: never a split UTF-8
//  character, never a stop string or the start of one.
typedef struct {
    char *const *stops;
    size_t stop_count;
    xinf_gw_buf_t pending;            //  received, not yet shown
    bool stops_off;                   //  stop strings not looked for (yet: min_tokens)
    bool include_stop;                //  a matched stop string is shown (vLLM's include_stop_str_in_output)
    int matched;                      //  the stop string that ended the text, or -1
} xinf_gw_text_t;

void xinf_gw_text_init (xinf_gw_text_t *self, char *const *stops, size_t stop_count);
//  Adds a piece; appends what can be shown to 'out'. True when a stop
//  string matched: 'out' got the text before it and the rest is dropped.
bool xinf_gw_text_feed (xinf_gw_text_t *self, const char *bytes, size_t size, xinf_gw_buf_t *out);
//  At the end: what is held back (an incomplete character becomes U+FFFD).
void xinf_gw_text_flush (xinf_gw_text_t *self, xinf_gw_buf_t *out);
void xinf_gw_text_clear (xinf_gw_text_t *self);
//  The length of the longest prefix that does not end in an incomplete
//  UTF-8 sequence.
size_t xinf_gw_utf8_complete (const char *bytes, size_t size);
//  Appends "data: <json>\n\n" (consumes object).
void xinf_gw_sse_json (xinf_gw_buf_t *sse, json_t *object);
//  Appends a typed event, "event: <its type>\ndata: <json>\n\n" (the
//  Responses and Messages APIs' form; consumes event).
void xinf_gw_sse_event (xinf_gw_buf_t *sse, json_t *event);

// ---- HTTPS (xinf_gateway_tls.c) ---------------------------------------------
//  Reads the PEM certificate and key and checks that they parse and belong
//  together; -1 with the reason in 'error' (the caller refuses to start).
int xinf_gw_tls_load (const char *cert_path, const char *key_path, char **cert, char **key, char *error,
                      size_t error_size);
//  Frees both (the key's bytes wiped first).
void xinf_gw_tls_free (char **cert, char **key);

// ---- API keys (xinf_gateway_keys.c) -----------------------------------------
typedef enum { XINF_GW_ROLE_NONE = 0, XINF_GW_ROLE_USER, XINF_GW_ROLE_ADMIN } xinf_gw_role_t;
typedef struct _xinf_gw_keys_t xinf_gw_keys_t;

//  Reads lines "KEY ROLE" (role user or admin; # comments, blank lines);
//  NULL with the reason (a line number, never a key) in 'error'.
xinf_gw_keys_t *xinf_gw_keys_load (const char *path, char *error, size_t error_size);
void xinf_gw_keys_destroy (xinf_gw_keys_t **self_p);
size_t xinf_gw_keys_count (xinf_gw_keys_t *self);
//  The role of the key in an "Authorization: Bearer KEY" value, compared
//  in constant time against every key; NONE when missing or wrong.
xinf_gw_role_t xinf_gw_keys_check (xinf_gw_keys_t *self, const char *authorization);

// ---- metrics (xinf_gateway_metrics.c) ---------------------------------------
typedef struct _xinf_gw_metrics_t xinf_gw_metrics_t;
//  The model label of generations refused before they were sent (400,
//  404, 413): one series, whatever model a client named.
#define XINF_GW_METRIC_REFUSED "_refused"
xinf_gw_metrics_t *xinf_gw_metrics_new (void);
void xinf_gw_metrics_destroy (xinf_gw_metrics_t **self_p);
void xinf_gw_metrics_http (xinf_gw_metrics_t *self, unsigned status);
//  A token of model 'uid': the first (seconds since the request), or a gap.
void xinf_gw_metrics_token (xinf_gw_metrics_t *self, const char *uid, double seconds, bool first);
//  A generation ended: its outcome (finish reason, or xinf_gw_metrics_outcome) and tokens.
void xinf_gw_metrics_end (xinf_gw_metrics_t *self, const char *uid, const char *outcome, size_t prompt_tokens,
                          size_t completion_tokens);
const char *xinf_gw_metrics_outcome (unsigned status);
//  The Prometheus text with the cluster's CLUSTER_INFO, WAITS and LIST_MODELS bodies.
char *xinf_gw_metrics_render (xinf_gw_metrics_t *self, const xinf_value_t *cluster, const xinf_value_t *waits,
                              const xinf_value_t *models, size_t *size);

// ---- log-probabilities (xinf_gateway_logprobs.c) ----------------------------
//  A token's entry (chat's shape) from its GENERATE_TOKEN's text, logprob
//  and top_logprobs (NULL: none).
json_t *xinf_gw_logprobs_entry (const char *text, size_t size, double logprob, const xinf_value_t *top);
//  Names the ids of an entry's token ('token') and of its alternatives
//  (GENERATE_TOKEN's top_logprobs, as given to xinf_gw_logprobs_entry):
//  llama-server's completion_probabilities.
void xinf_gw_logprobs_ids (json_t *entry, uint32_t token, const xinf_value_t *top);
//  A choice's logprobs for 'entries' (borrowed; NULL: JSON null) in the
//  endpoint's shape; 'offset': completions' text_offset of the first, moved on.
json_t *xinf_gw_logprobs_choice (json_t *entries, bool chat, size_t *offset);
//  A prompt's entries (GENERATE_TOKEN's prompt_logprobs, checked) appended
//  to 'entries' (the first token's logprob null), and its tokens' bytes
//  to 'text'.
void xinf_gw_logprobs_prompt (json_t *entries, const xinf_value_t *prompt, xinf_gw_buf_t *text);

// ---- the gateway and its requests -------------------------------------------
typedef enum {
    XINF_GW_ROUTE_NONE = 0,
    XINF_GW_ROUTE_HEALTH,
    XINF_GW_ROUTE_MODELS,
    XINF_GW_ROUTE_MODEL,
    XINF_GW_ROUTE_COMPLETIONS,
    XINF_GW_ROUTE_CHAT,
    XINF_GW_ROUTE_TOKENIZE,
    XINF_GW_ROUTE_DETOKENIZE,
    XINF_GW_ROUTE_APPLY_TEMPLATE,
    XINF_GW_ROUTE_METRICS,
    XINF_GW_ROUTE_CONSOLE,            //  the web console's files (no key needed)
    XINF_GW_ROUTE_EMBEDDINGS,         //  xinf_gateway_embed.c
    XINF_GW_ROUTE_RERANK,             //  xinf_gateway_rerank.c
    XINF_GW_ROUTE_RESPONSES,          //  POST /v1/responses: xinf_gateway_responses.c
    XINF_GW_ROUTE_RESPONSE_GET,       //  GET /v1/responses/{id}
    XINF_GW_ROUTE_RESPONSE_DELETE,    //  DELETE /v1/responses/{id}
    XINF_GW_ROUTE_MESSAGES,           //  POST /v1/messages (Anthropic's): xinf_gateway_anthropic.c
    XINF_GW_ROUTE_MESSAGES_COUNT,     //  POST /v1/messages/count_tokens: xinf_gateway_anthropic_count.c
    XINF_GW_ROUTE_LLAMA_COMPLETION,   //  POST /completion (llama-server's): xinf_gateway_llama.c
    XINF_GW_ROUTE_LLAMA_INFILL,       //  POST /infill (llama-server's)
    XINF_GW_ROUTE_PROPS,              //  GET /props (llama-server's): xinf_gateway_routes.c
    XINF_GW_ROUTE_LORA_ADAPTERS,      //  GET /lora-adapters (llama-server's): xinf_gateway_routes.c
    XINF_GW_ROUTE_LORA_SCALES,        //  POST /lora-adapters (llama-server's global scales): refused
    //  management (role admin when keys are set): xinf_gateway_manage.c
    XINF_GW_ROUTE_LAUNCH,
    XINF_GW_ROUTE_TERMINATE,
    XINF_GW_ROUTE_PROGRESS,
    XINF_GW_ROUTE_CLUSTER,
    XINF_GW_ROUTE_WORKERS,
    XINF_GW_ROUTE_WAITS,
    XINF_GW_ROUTE_EVENTS,
    XINF_GW_ROUTE_DOCTOR
} xinf_gw_route_t;

typedef struct _xinf_gw_state_t xinf_gw_state_t;
typedef struct _xinf_gw_rstore_t xinf_gw_rstore_t;     //  xinf_gateway_responses.h
typedef struct _xinf_gw_request_t xinf_gw_request_t;

//  The answers of an API whose generation is the chat's but whose output
//  is shaped otherwise (the Responses API, Anthropic's Messages): the
//  chat's decided text and tool calls, its thought and its end go here
//  instead of into chat.completion objects and chunks.
typedef struct {
    void (*new_id) (char *id, size_t size);
    void (*text) (xinf_gw_request_t *request, const char *text, size_t size, json_t *calls);
    void (*thought) (xinf_gw_request_t *request, const char *text, size_t size);
    //  'reason': stop or length
    void (*finish) (xinf_gw_request_t *request, const char *reason);
    //  the generation failed once the stream was open
    void (*fail_stream) (xinf_gw_request_t *request, const xinf_gw_error_t *error);
    //  the chat's field names in an error as this API's
    void (*rename) (xinf_gw_error_t *error);
    void (*clear) (xinf_gw_request_t *request);
} xinf_gw_shape_t;

#define XINF_GW_EMBED_WINDOW   32       //  inputs of an embeddings request in flight at once
#define XINF_GW_EMBED_INPUTS   2048     //  inputs (or documents to rerank) of one request (OpenAI's limit)

//  /v1/embeddings: the inputs and the answer's options.
typedef struct {
    json_t *inputs;                   //  strings or arrays of token ids (owned)
    size_t next;                      //  the next input to send
    size_t done;                      //  inputs answered
    size_t parked [XINF_GW_EMBED_WINDOW];     //  inputs the model's queue refused (OVERLOADED), to send again
    size_t n_parked;
    bool base64;                      //  encoding_format base64
    bool normalize;                   //  scaled to length 1 (default)
    size_t dimensions;                //  the first this many floats (0: all)
    char pooling [8];                 //  mean, last, rank or "" (the model's)
    //  /v1/rerank: the inputs are prompts made of the query and each document
    bool rerank;
    bool template_prompt;             //  made with the model's rerank template (no BOS added)
    json_t *documents;                //  the documents' texts (owned; also the inputs)
    json_t *query;                    //  the query (owned)
    char *prompt_format;              //  {query} and {document} in it, filled as each is sent (owned)
    bool return_documents;
    size_t top_n;                     //  results at most (0: all)
} xinf_gw_embed_t;

//  One TCP connection (MHD's socket context), from its accept to its
//  close: when the headers of its next request are due.
typedef struct _xinf_gw_conn_t xinf_gw_conn_t;
struct _xinf_gw_conn_t {
    void *handle;                     //  in the gateway's conns
    struct MHD_Connection *connection;
    int64_t headers_due;              //  monotonic ms: the headers must be in by then (0: they are)
    bool shut;                        //  shut down for being late: MHD closes it next
};

//  One HTTP request, from its headers until MHD says it completed. With
//  n > 1 it generates choice 0 itself and owns a child request for each
//  other choice (xinf_gateway_choices.c): a child generates as a request
//  alone would, with no connection, and writes its chunks and its choice
//  into its parent's stream or answer.
struct _xinf_gw_request_t {
    xinf_gw_state_t *gateway;
    struct MHD_Connection *connection;
    xinf_gw_route_t route;
    char path_model [XINF_GW_UID_MAX + 1];   //  GET /v1/models/{id}
    char path_id [64];                //  GET, DELETE /v1/responses/{id}
    const char *console_path;         //  the console file's path (static), for ROUTE_CONSOLE
    xinf_gw_buf_t body;
    bool too_large, suspended, answered, closed;
    bool anthropic;                   //  a /v1/messages path: errors in Anthropic's shape
    uint64_t corr;                    //  the supervisor call in flight (0: none)
    int64_t deadline;                 //  monotonic ms: the gateway gives up then
    int64_t begun;                    //  monotonic ms: the headers came
    struct MHD_Response *response;    //  to queue at the next access call
    unsigned status;
    //  generations
    xinf_gw_oai_t oai;
    xinf_gw_text_t text;
    xinf_gw_buf_t output;             //  without stream: the answer so far
    xinf_gw_buf_t sse;                //  with stream: bytes not yet handed to MHD
    bool stream_open, stream_ended;   //  SSE response queued; last bytes appended
    bool role_sent;                   //  chat stream: the first chunk named the role
    bool tool_parsing;                //  chat with tools: the text is parsed for calls
    int tool_format;                  //  xinf_gw_tool_format_t
    void *toolcalls;                  //  xinf_gw_toolcalls_t while tool_parsing (owned)
    void *reasoning;                  //  xinf_gw_reasoning_t of a reasoning model's chat (owned), or NULL
    bool reasoning_open;              //  its answer began inside a thought (the prompt opened it)
    xinf_gw_buf_t thought;            //  without stream: the thought (reasoning_content)
    json_t *tool_calls;               //  the calls found (owned; without stream: the answer's)
    size_t tool_call_count;
    bool generating;                  //  GENERATE sent and not ended
    int step;                         //  routes of several calls: which one is in flight
    xinf_value_t *replies [2];        //  /metrics: the bodies of the calls before the last
    int64_t sent_us, last_token_us;   //  GENERATE sent, the latest token (metrics)
    bool ended;                       //  the generation's outcome was counted
    uint64_t generate_corr;
    uint64_t context_length;          //  from LIST_MODELS (chat's default max_tokens)
    size_t completion_tokens, prompt_tokens;
    size_t cached_tokens;             //  of the prompt, those the prefix cache gave (GENERATE_REPLY timings)
    bool cached_known;                //  the worker said (an older one may not)
    size_t reasoning_tokens;          //  generated tokens that went to (or ended) the thought
    double prefill_ms, decode_ms;     //  GENERATE_REPLY's timings (-1: not given)
    int64_t first_token_us;           //  when the first token came (0: none yet)
    bool shape_ended;                 //  its shape ended the answer (llama-server's n_indent, t_max_predict_ms):
                                      //  cancelled and finished as length
    uint32_t *ids;                    //  with oai.return_tokens: the tokens generated, in order
    size_t id_count, id_room;
    json_t *logprobs;                 //  with logprobs: the entries not yet written (owned)
    bool echo_pending;                //  echo waits for the prompt's tokens (the first token brings them)
    size_t logprobs_offset;           //  completions: characters of the answer before them
    char id [48];
    int64_t created;                  //  Unix seconds
    //  choices (n > 1)
    xinf_gw_request_t *parent;        //  a child's: the request that answers (NULL: this one)
    size_t choice;                    //  the index of the choice it generates
    xinf_gw_request_t **children;     //  the parent's: choices 1 .. n - 1, in order
    size_t child_count;
    size_t open_choices;              //  the parent's: choices not finished
    json_t *choices;                  //  the parent's, without stream: the finished choices by index
    size_t choice_tokens;             //  the parent's: completion tokens of the finished choices
    bool failed;                      //  the parent's: answered with an error
    //  embeddings: the parent's inputs and options; a child's input is its 'choice'
    xinf_gw_embed_t embed;
    //  an API of its own shape (NULL: OpenAI's chat and completions), and
    //  its state (owned, freed by its clear)
    const xinf_gw_shape_t *shape;
    void *shaped;
};

struct _xinf_gw_state_t {
    xinf_gateway_config_t config;
    char supervisor [300], host [128], node_name [128], server_key [41];
    xinf_gw_keys_t *keys;
    struct MHD_Daemon *daemon;
    xinf_dealer_t *dealer;
    xinf_ctx_t *ctx;
    int mhd_timer;                    //  zloop timer for MHD's next timeout, or -1
    int64_t gone_checked;             //  when suspended connections were last checked
    zhashx_t *pending;                //  corr (decimal) -> xinf_gw_request_t
    zhashx_t *template_warned;        //  uids whose template warning was logged
    xinf_gw_metrics_t *metrics;
    xinf_gw_rstore_t *responses;      //  stored responses (xinf_gateway_responses_store.c)
    uint64_t next_corr;
    uint64_t requests, cancels_sent, disconnects;
    zlistx_t *conns;                  //  open connections, xinf_gw_conn_t (MHD's socket contexts)
    uint64_t header_closes;           //  connections closed for headers not in time
    char *tls_cert, *tls_key;         //  HTTPS: the PEM texts, or NULL
    char error [512];                 //  why init failed
};

//  xinf_gateway_http.c: MHD's callbacks and answering.
enum MHD_Result xinf_gw_http_access (void *cls, struct MHD_Connection *connection, const char *url,
                                     const char *method, const char *version, const char *upload_data,
                                     size_t *upload_data_size, void **con_cls);
void xinf_gw_http_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                             enum MHD_RequestTerminationCode code);
//  MHD's connection notices: a connection opened (its headers are due) or closed.
void xinf_gw_http_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe);
//  Shuts down the connections whose request headers are late (slowloris:
//  MHD's idle timeout restarts at every byte); MHD then closes them.
void xinf_gw_http_sweep (xinf_gw_state_t *gateway);
//  The request's key as an Authorization value: the header, or
//  Anthropic's x-api-key made "Bearer KEY" in 'buffer'; NULL when neither
//  (or the key is over the buffer).
#define XINF_GW_CREDENTIAL_MAX 1024
const char *xinf_gw_credential (xinf_gw_request_t *request, char *buffer, size_t size);
//  Sets the answer (consumes json) and wakes the connection.
void xinf_gw_respond_json (xinf_gw_request_t *request, unsigned status, json_t *json);
void xinf_gw_respond_error (xinf_gw_request_t *request, const xinf_gw_error_t *error);
//  Sets a text answer (takes 'text', a heap string of 'size' bytes).
void xinf_gw_respond_text (xinf_gw_request_t *request, unsigned status, const char *content_type, char *text,
                           size_t size);
//  Sets a prepared response (MHD's, consumed).
void xinf_gw_respond_response (xinf_gw_request_t *request, unsigned status, struct MHD_Response *response);
//  Opens the SSE response (once) and wakes the connection to send 'sse'.
void xinf_gw_stream_wake (xinf_gw_request_t *request);
//  Resumes a suspended connection and runs MHD.
void xinf_gw_resume (xinf_gw_request_t *request);

//  xinf_gateway.c: calls to the supervisor.
//  Sends 'msg' for 'request' with a fresh corr and deadline; -1 with the
//  answer in 'error' when the DEALER cannot take it: 503 when its queue is
//  full, 413 when the message is over what the supervisor reads.
int xinf_gw_call (xinf_gw_request_t *request, xinf_msg_t **msg_p, int64_t deadline_ms, xinf_gw_error_t *error);
//  The model label of a generation that failed with HTTP 'status': its
//  model, or XINF_GW_METRIC_REFUSED for a refusal (400, 404, 413).
const char *xinf_gw_metrics_label (const xinf_gw_request_t *request, unsigned status);
//  Forgets the request's call (its answer, if any, is dropped).
void xinf_gw_call_forget (xinf_gw_request_t *request);
//  Sends CANCEL for the request's generation (fire and forget).
void xinf_gw_cancel (xinf_gw_request_t *request);

//  xinf_gateway_generate.c: completions and chat over GENERATE.
void xinf_gw_generate_start (xinf_gw_request_t *request);
void xinf_gw_generate_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg);
//  Frees what a generation holds beyond the request's buffers (tool calls).
void xinf_gw_generate_clear (xinf_gw_request_t *request);
//  xinf_gateway_choices.c: n > 1.
//  The request that answers for 'request': its parent, or itself.
xinf_gw_request_t *xinf_gw_choices_top (xinf_gw_request_t *request);
//  A parent's children, each a copy of its parsed request (sharing its
//  strings: the parent outlives them) with the choice's index and seed,
//  ready to send its GENERATE. n - 1 of them, or none for n = 1.
void xinf_gw_choices_spawn (xinf_gw_request_t *parent);
//  A choice ended with 'choice' (its JSON, consumed; NULL in a stream):
//  kept by index in the parent; true when it was the last one open.
bool xinf_gw_choices_done (xinf_gw_request_t *request, json_t *choice);
//  The parent's finished choices in index order, for its answer (taken).
json_t *xinf_gw_choices_take (xinf_gw_request_t *parent);
//  Whether the request or one of its children is generating.
bool xinf_gw_choices_generating (const xinf_gw_request_t *request);
//  Cancels the children still generating (each counted under model
//  'label' with 'outcome' unless counted already) and forgets their calls.
void xinf_gw_choices_cancel (xinf_gw_request_t *parent, const char *label, const char *outcome);
//  Cancels and frees the children.
void xinf_gw_choices_free (xinf_gw_request_t *parent);

//  xinf_gateway_embed.c: /v1/embeddings over GENERATE embed, the inputs
//  in children (choices' slots), the answer in 'choices'.
void xinf_gw_embed_start (xinf_gw_request_t *request);
void xinf_gw_embed_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg);
void xinf_gw_embed_clear (xinf_gw_request_t *request);
//  Sends the request's inputs (embed.inputs, checked) in its children.
void xinf_gw_embed_run (xinf_gw_request_t *request);
//  xinf_gateway_rerank.c: /v1/rerank over the same, its prompts made
//  with the model's rerank template (LIST_MODELS).
void xinf_gw_rerank_start (xinf_gw_request_t *request);
void xinf_gw_rerank_on_models (xinf_gw_request_t *request, xinf_msg_t *msg);
//  Document 'index''s prompt (a heap string).
char *xinf_gw_rerank_prompt (xinf_gw_request_t *parent, size_t index);
//  A document's result from its GENERATE_REPLY embedding (the head's
//  outputs); NULL with the error.
json_t *xinf_gw_rerank_result (xinf_gw_request_t *parent, const xinf_value_t *outputs, size_t index,
                               xinf_gw_error_t *error);
//  The answer: the results by score, top_n of them.
void xinf_gw_rerank_respond (xinf_gw_request_t *parent);

//  xinf_gateway_routes.c: the other endpoints over LIST_MODELS, TOKENIZE, ...
void xinf_gw_route_start (xinf_gw_request_t *request);
void xinf_gw_route_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg);
//  xinf_gateway_console.c: a file of the web console (route CONSOLE).
void xinf_gw_console_respond (xinf_gw_request_t *request, const char *path);
//  xinf_gateway_manage.c: launch, terminate, progress, cluster, workers,
//  waits, events, doctor as JSON.
void xinf_gw_manage_start (xinf_gw_request_t *request);
void xinf_gw_manage_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg);
//  A message body as JSON (bins as hex strings); NULL past 'depth' levels.
json_t *xinf_gw_value_json (const xinf_value_t *value, int depth);
//  Fails the request's call (no answer in time, supervisor unreachable).
void xinf_gw_request_fail (xinf_gw_request_t *request, const xinf_gw_error_t *error);

#endif
