/*  xinf_gateway_reasoning: the thought of a reasoning model's answer (see
    the header).
*/
#include "xinf_gateway_reasoning.h"

#define OPEN_TAG   "<think>"
#define CLOSE_TAG  "</think>"

static bool
s_space (char byte)
{
    return byte == ' ' || byte == '\n' || byte == '\r' || byte == '\t';
}

void
xinf_gw_reasoning_init (xinf_gw_reasoning_t *self, bool inside)
{
    memset (self, 0, sizeof *self);
    self->inside = inside;
    self->begun = inside;
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

static void
s_inside (xinf_gw_reasoning_t *self, xinf_gw_buf_t *thought)
{
    const char *bytes = self->held.data;
    size_t size = self->held.size, tag = strlen (CLOSE_TAG);
    for (size_t at = 0; at + tag <= size; at++)
        if (memcmp (bytes + at, CLOSE_TAG, tag) == 0) {
            xinf_gw_buf_add (thought, bytes, at);
            xinf_gw_buf_consume (&self->held, at + tag);
            self->inside = false;
            self->trim = true;
            return;
        }
    size_t keep = s_partial_tag (bytes, size, CLOSE_TAG);
    xinf_gw_buf_add (thought, bytes, size - keep);
    xinf_gw_buf_consume (&self->held, size - keep);
}

void
xinf_gw_reasoning_feed (xinf_gw_reasoning_t *self, const char *text, size_t size, xinf_gw_buf_t *thought,
                        xinf_gw_buf_t *content)
{
    if (size == 0 && self->held.size == 0)
        return;                       //  nothing decided yet (text held back for a stop string)
    xinf_gw_buf_add (&self->held, text, size);
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
    if (self->held.size && !self->trim)
        xinf_gw_buf_add (self->inside ? thought : content, self->held.data, self->held.size);
    xinf_gw_buf_consume (&self->held, self->held.size);
}

void
xinf_gw_reasoning_clear (xinf_gw_reasoning_t *self)
{
    xinf_gw_buf_free (&self->held);
}

bool
xinf_gw_reasoning_template (const char *chat_template)
{
    return chat_template && strstr (chat_template, OPEN_TAG) && strstr (chat_template, CLOSE_TAG);
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
