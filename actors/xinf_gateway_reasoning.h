/*  xinf_gateway_reasoning: a reasoning model's thought kept apart from its
    answer, as llama-server (--reasoning-format deepseek) and vLLM's
    reasoning parsers do: the text between <think> and </think> is the
    chat's `reasoning_content` (a Responses `reasoning` item), the rest
    its content, which is then read for tool calls as ever.

    A thought opens only at the start of the answer (after whitespace), or
    before it: a template that ends the prompt with <think> (DeepSeek-R1's,
    QwQ's) leaves the model inside one. Whitespace after </think> is
    dropped. Tags split across tokens are held back until they are whole.
    Where tool calls are parsed for Kimi K2, its calls' opening markers
    end a thought too (the model may call from inside its thought), and
    begin the answer.

    GPT-OSS's harmony format instead (its template writes <|channel|>, its
    vocabulary renders the tokens that head a message as text): an answer
    is messages, each a header (<|start|>assistant, <|channel|>NAME, maybe
    " to=RECIPIENT" and <|constrain|>TYPE) and a body after <|message|>,
    ended by <|end|> (rendered as nothing) or the next header. The bodies
    of the analysis channel are the thought, the others (final, commentary)
    the content; headers are dropped. A message to a function (header
    " to=functions.NAME", its body the arguments) goes to the content as
    the Hermes call the tool-call parser reads, <tool_call>\n{"name":
    "NAME", "arguments": BODY}\n</tool_call>. An answer that does not begin
    with a header, or whose header runs past 256 bytes, is content as it
    stands.
*/
#ifndef XINF_GATEWAY_REASONING_H_INCLUDED
#define XINF_GATEWAY_REASONING_H_INCLUDED

#include "xinf_gateway_private.h"

typedef struct {
    bool inside;                      //  in a thought
    bool begun;                       //  the answer has begun: no thought opens any more
    bool trim;                        //  a thought just closed: drop the whitespace that follows
    xinf_gw_buf_t held;               //  bytes that may start a tag
    bool harmony;                     //  GPT-OSS's messages instead of <think> tags
    bool header;                      //  harmony: reading a message's header
    bool plain;                       //  harmony: the answer is no messages, all content
    bool call;                        //  harmony: in a call's arguments (its Hermes form open)
    const char *const *breaks;        //  markers that end a thought and begin the answer, or NULL
} xinf_gw_reasoning_t;

//  'inside': the prompt left the model in a thought; 'harmony': the
//  template writes harmony messages (xinf_gw_reasoning_harmony).
void xinf_gw_reasoning_init (xinf_gw_reasoning_t *self, bool inside, bool harmony);
//  Markers (NULL-terminated, static) that end a thought as </think> does
//  but stay in the answer: Kimi K2's tool calls, which it may begin
//  inside its thought (llama.cpp's parser ends the thought there too).
void xinf_gw_reasoning_set_breaks (xinf_gw_reasoning_t *self, const char *const *breaks);
//  Adds decided text; appends the thought's part to 'thought' and the
//  answer's to 'content'.
void xinf_gw_reasoning_feed (xinf_gw_reasoning_t *self, const char *text, size_t size, xinf_gw_buf_t *thought,
                             xinf_gw_buf_t *content);
//  At the end: what is held (an unclosed thought stays a thought).
void xinf_gw_reasoning_flush (xinf_gw_reasoning_t *self, xinf_gw_buf_t *thought, xinf_gw_buf_t *content);
void xinf_gw_reasoning_clear (xinf_gw_reasoning_t *self);
//  Whether a chat template writes thoughts (mentions <think> and </think>,
//  or harmony's channels).
bool xinf_gw_reasoning_template (const char *chat_template);
//  Whether a chat template writes harmony's messages (mentions <|channel|>).
bool xinf_gw_reasoning_harmony (const char *chat_template);
//  Whether a rendered prompt ends inside a thought: its last tag is an
//  open <think>, followed by whitespace at most.
bool xinf_gw_reasoning_prompt_open (const char *prompt);

#endif
