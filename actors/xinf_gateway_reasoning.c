/*  xinf_gateway_reasoning: the thought of a reasoning model's answer (see
    the header).
*/
#include "xinf_gateway_reasoning.h"

#include <ctype.h>

#define OPEN_TAG   "<think>"
#define CLOSE_TAG  "</think>"
#define CHANNEL    "<|channel|>"       //  harmony: the markers of a message's header and end
#define MESSAGE    "<|message|>"
#define START      "<|start|>"
#define HEADER_MAX 256                 //  bytes of a harmony header at most

static bool
s_space (char byte)
{
    return byte == ' ' || byte == '\n' || byte == '\r' || byte == '\t';
}

void
xinf_gw_reasoning_init (xinf_gw_reasoning_t *self, bool inside, bool harmony)
{
    memset (self, 0, sizeof *self);
    self->inside = inside && !harmony;
    self->begun = inside;
    self->harmony = harmony;
    self->header = harmony;
}

//  The length of the longest end of 'bytes' that begins 'tag' (0: none).
static size_t
s_partial_tag (const char *bytes, size_t size, const char *tag)
{
    size_t tag_size = strlen (tag);
    for (size_t length = tag_size - 1 < size ? tag_size - 1 : size; length > 0; length--)
        if (memcmp (bytes + size - length, tag, length) == 0)
            return length;
    return 0;
}

//  Before the answer begins: an opening tag after whitespace starts a
//  thought; anything else starts the answer. False while it cannot tell.
static bool
s_at_start (xinf_gw_reasoning_t *self)
{
    const char *bytes = self->held.data;
    size_t size = self->held.size, skip = 0, tag = strlen (OPEN_TAG);
    while (skip < size && s_space (bytes [skip]))
        skip++;
    size_t rest = size - skip;
    if (rest == 0)
        return false;                 //  nothing, or whitespace only: wait
    if (rest >= tag && memcmp (bytes + skip, OPEN_TAG, tag) == 0) {
        xinf_gw_buf_consume (&self->held, skip + tag);
        self->inside = true;
        self->trim = false;
    }
    else
    if (rest < tag && memcmp (bytes + skip, OPEN_TAG, rest) == 0)
        return false;                 //  whitespace, or the start of the tag: wait
    self->begun = true;
    return true;
}

void
xinf_gw_reasoning_set_breaks (xinf_gw_reasoning_t *self, const char *const *breaks)
{
    self->breaks = breaks;
}

//  Where a break marker first is in bytes[at, size), or size; its
//  partial start at the end in *keep (at least what it was).
static size_t
s_break (const xinf_gw_reasoning_t *self, const char *bytes, size_t size, size_t *keep)
{
    size_t first = size;
    for (size_t index = 0; self->breaks && self->breaks [index]; index++) {
        const char *found = memmem (bytes, size, self->breaks [index], strlen (self->breaks [index]));
        if (found && (size_t) (found - bytes) < first)
            first = (size_t) (found - bytes);
        size_t partial = s_partial_tag (bytes, size, self->breaks [index]);
        *keep = partial > *keep ? partial : *keep;
    }
    return first;
}

//  In a thought: up to </think> (dropped), or a break marker (kept for
//  the answer), the rest held while it may begin either.
static void
s_inside (xinf_gw_reasoning_t *self, xinf_gw_buf_t *thought)
{
    const char *bytes = self->held.data;
    size_t size = self->held.size, tag = strlen (CLOSE_TAG);
    const char *found = memmem (bytes, size, CLOSE_TAG, tag);
    size_t close = found ? (size_t) (found - bytes) : size;
    size_t keep = s_partial_tag (bytes, size, CLOSE_TAG);
    size_t broken = s_break (self, bytes, close, &keep);
    if (broken < close) {
        xinf_gw_buf_add (thought, bytes, broken);
        xinf_gw_buf_consume (&self->held, broken);
        self->inside = false;
        return;
    }
    if (found) {
        xinf_gw_buf_add (thought, bytes, close);
        xinf_gw_buf_consume (&self->held, close + tag);
        self->inside = false;
        self->trim = true;
        return;
    }
    xinf_gw_buf_add (thought, bytes, size - keep);
    xinf_gw_buf_consume (&self->held, size - keep);
}

//  ---- harmony ---------------------------------------------------------------------

//  Where 'needle' first is in the held bytes from 'from' on, or -1.
static long
s_find_from (const xinf_gw_reasoning_t *self, size_t from, const char *needle)
{
    const char *found = from < self->held.size
                      ? memmem (self->held.data + from, self->held.size - from, needle, strlen (needle)) : NULL;
    return found ? (long) (found - self->held.data) : -1;
}

static long
s_find (const xinf_gw_reasoning_t *self, const char *needle)
{
    return s_find_from (self, 0, needle);
}

//  A call's function name from a header of 'size' bytes (" to=functions.
//  NAME", the name letters, digits, '_', '-' and '.') into the content as
//  its Hermes form's opening; false when the header names none.
static bool
s_call_open (const char *header, size_t size, xinf_gw_buf_t *content)
{
    const char *to = " to=functions.";
    size_t length = strlen (to), name = 0;
    for (size_t at = 0; at + length <= size; at++)
        if (memcmp (header + at, to, length) == 0) {
            const char *first = header + at + length;
            while (at + length + name < size && (isalnum ((unsigned char) first [name]) || first [name] == '_'
                                                 || first [name] == '-' || first [name] == '.'))
                name++;
            if (!name)
                return false;
            xinf_gw_buf_add_str (content, "<tool_call>\n{\"name\": \"");
            xinf_gw_buf_add (content, first, name);
            xinf_gw_buf_add_str (content, "\", \"arguments\": ");
            return true;
        }
    return false;
}

//  A call's Hermes form closed, where one is open.
static void
s_call_close (xinf_gw_reasoning_t *self, xinf_gw_buf_t *content)
{
    if (self->call)
        xinf_gw_buf_add_str (content, "}\n</tool_call>");
    self->call = false;
}

//  Whether the held bytes begin with 'marker' (or with its start, when
//  fewer are held).
static bool
s_begins (const xinf_gw_reasoning_t *self, const char *marker)
{
    size_t length = strlen (marker), size = self->held.size;
    return memcmp (self->held.data, marker, size < length ? size : length) == 0;
}

//  A header held whole (up to <|message|>, consumed): its body is a call's
//  arguments when it names a function (on any channel), else the thought
//  when its channel (the last named: GPT-OSS 20B may write a stray
//  commentary channel first) is analysis. A header begins with
//  <|channel|>, <|start|> or, for the first message after the prompt's
//  <|start|>assistant, " to=" (a recipient in the role). False while it is
//  not whole; an answer that begins otherwise, or a header too long, is
//  plain.
static bool
s_header (xinf_gw_reasoning_t *self, xinf_gw_buf_t *content)
{
    size_t size = self->held.size;
    const char *bytes = self->held.data;
    bool headed = s_begins (self, CHANNEL) || s_begins (self, START) || s_begins (self, " to=");
    long at = s_find (self, MESSAGE);
    if (!headed || (at < 0 && size > HEADER_MAX)) {
        self->plain = true;
        self->header = false;
        self->inside = false;
        return true;
    }
    if (at < 0)
        return false;
    long name = -1;
    for (long next = s_find (self, CHANNEL); next >= 0 && next < at; next = s_find_from (self, (size_t) next + 1, CHANNEL))
        name = next;
    const char *analysis = CHANNEL "analysis";
    self->call = s_call_open (bytes, (size_t) at, content);
    self->inside = !self->call && name >= 0 && (size_t) at - (size_t) name >= strlen (analysis)
                && memcmp (bytes + name, analysis, strlen (analysis)) == 0
                && (bytes [name + (long) strlen (analysis)] == '<' || bytes [name + (long) strlen (analysis)] == ' ');
    xinf_gw_buf_consume (&self->held, (size_t) at + strlen (MESSAGE));
    self->header = false;
    return true;
}

//  A body: its bytes up to the next header or end marker (where a
//  renderer wrote the ends as text: dropped), or up to those that may
//  begin one, to the thought or the content.
static void
s_body (xinf_gw_reasoning_t *self, xinf_gw_buf_t *thought, xinf_gw_buf_t *content)
{
    static const char *const markers [] = { START, CHANNEL, "<|end|>", "<|return|>", "<|call|>" };
    long next = -1;
    size_t keep = 0, marker = 0;
    for (size_t index = 0; index < sizeof markers / sizeof markers [0]; index++) {
        long at = s_find (self, markers [index]);
        size_t partial = s_partial_tag (self->held.data, self->held.size, markers [index]);
        if (at >= 0 && (next < 0 || at < next)) {
            next = at;
            marker = index;
        }
        keep = partial > keep ? partial : keep;
    }
    size_t take = next >= 0 ? (size_t) next : self->held.size - keep;
    xinf_gw_buf_add (self->inside ? thought : content, self->held.data, take);
    xinf_gw_buf_consume (&self->held, take);
    if (next >= 0 && marker >= 2)    //  an end: the header that may follow begins after it
        xinf_gw_buf_consume (&self->held, strlen (markers [marker]));
    if (next >= 0)
        s_call_close (self, content);
    self->header = next >= 0;
}

static void
s_harmony_feed (xinf_gw_reasoning_t *self, xinf_gw_buf_t *thought, xinf_gw_buf_t *content)
{
    while (self->held.size && !self->plain) {
        if (self->header && !s_header (self, content))
            return;                   //  a header not whole yet
        if (self->plain)
            break;
        size_t before = self->held.size;
        s_body (self, thought, content);
        if (!self->header && self->held.size == before)
            return;                   //  only the start of a marker held
    }
    if (self->plain) {
        xinf_gw_buf_add (content, self->held.data, self->held.size);
        xinf_gw_buf_consume (&self->held, self->held.size);
    }
}

//  ---- both ------------------------------------------------------------------------

void
xinf_gw_reasoning_feed (xinf_gw_reasoning_t *self, const char *text, size_t size, xinf_gw_buf_t *thought,
                        xinf_gw_buf_t *content)
{
    if (size == 0 && self->held.size == 0)
        return;                       //  nothing decided yet (text held back for a stop string)
    xinf_gw_buf_add (&self->held, text, size);
    if (self->harmony) {
        s_harmony_feed (self, thought, content);
        return;
    }
    if (!self->begun && !s_at_start (self))
        return;
    if (self->inside) {
        s_inside (self, thought);
        if (self->inside)
            return;
    }
    if (self->trim) {
        size_t skip = 0;
        while (skip < self->held.size && s_space (self->held.data [skip]))
            skip++;
        xinf_gw_buf_consume (&self->held, skip);
        if (self->held.size == 0)
            return;
        self->trim = false;
    }
    xinf_gw_buf_add (content, self->held.data, self->held.size);
    xinf_gw_buf_consume (&self->held, self->held.size);
}

void
xinf_gw_reasoning_flush (xinf_gw_reasoning_t *self, xinf_gw_buf_t *thought, xinf_gw_buf_t *content)
{
    if (self->harmony && self->header)          //  a header never finished: it was text
        self->inside = false;
    if (self->held.size && !self->trim)
        xinf_gw_buf_add (self->inside ? thought : content, self->held.data, self->held.size);
    xinf_gw_buf_consume (&self->held, self->held.size);
    s_call_close (self, content);               //  the generation ended in a call (<|call|>)
}

void
xinf_gw_reasoning_clear (xinf_gw_reasoning_t *self)
{
    xinf_gw_buf_free (&self->held);
}

bool
xinf_gw_reasoning_template (const char *chat_template)
{
    return chat_template && ((strstr (chat_template, OPEN_TAG) && strstr (chat_template, CLOSE_TAG))
                             || xinf_gw_reasoning_harmony (chat_template));
}

bool
xinf_gw_reasoning_harmony (const char *chat_template)
{
    return chat_template && strstr (chat_template, CHANNEL) && strstr (chat_template, MESSAGE);
}

bool
xinf_gw_reasoning_prompt_open (const char *prompt)
{
    size_t size = strlen (prompt);
    while (size > 0 && s_space (prompt [size - 1]))
        size--;
    size_t tag = strlen (OPEN_TAG);
    return size >= tag && memcmp (prompt + size - tag, OPEN_TAG, tag) == 0;
}
