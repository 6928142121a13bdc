/*  xinf_gateway_stream: the text of a generation as the gateway shows it.

    Token pieces may split a UTF-8 character (byte tokens) and may spell a
    stop string over several tokens. The gateway shows only whole
    characters, and holds back the longest tail that could be the start of
    a stop string; when a stop string is complete, the text before it is
    the answer and the rest is dropped (the caller cancels the generation).
    Also: growable buffers and server-sent events.
*/
#include "xinf_gateway_private.h"

void
xinf_gw_buf_add (xinf_gw_buf_t *self, const void *data, size_t size)
{
    if (size == 0)
        return;
    if (self->size + size + 1 > self->alloc) {
        size_t alloc = self->alloc ? self->alloc : 256;
        while (alloc < self->size + size + 1)
            alloc *= 2;
        self->data = realloc (self->data, alloc);
        assert (self->data);
        self->alloc = alloc;
    }
    memcpy (self->data + self->size, data, size);
    self->size += size;
    self->data [self->size] = 0;
}

void
xinf_gw_buf_add_str (xinf_gw_buf_t *self, const char *text)
{
    xinf_gw_buf_add (self, text, strlen (text));
}

void
xinf_gw_buf_consume (xinf_gw_buf_t *self, size_t count)
{
    if (count >= self->size)
        self->size = 0;
    else {
        memmove (self->data, self->data + count, self->size - count);
        self->size -= count;
    }
    if (self->data)
        self->data [self->size] = 0;
}

void
xinf_gw_buf_free (xinf_gw_buf_t *self)
{
    free (self->data);
    self->data = NULL;
    self->size = self->alloc = 0;
}

//  The bytes of the UTF-8 sequence that starts with 'lead' (0: not a lead).
static size_t
s_sequence_length (unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

size_t
xinf_gw_utf8_complete (const char *bytes, size_t size)
{
    //  Look back at most 3 bytes for the lead byte of the last sequence
    for (size_t back = 1; back <= 3 && back <= size; back++) {
        unsigned char byte = (unsigned char) bytes [size - back];
        if ((byte & 0xC0) == 0x80)
            continue;                       //  a continuation byte
        size_t need = s_sequence_length (byte);
        return need > back ? size - back : size;
    }
    return size;
}

void
xinf_gw_text_init (xinf_gw_text_t *self, char *const *stops, size_t stop_count)
{
    memset (self, 0, sizeof *self);
    self->stops = stops;
    self->stop_count = stop_count;
    self->matched = -1;
}

//  The earliest position of a stop string in the pending text, or -1;
//  which stop it is in self->matched.
static long
s_find_stop (xinf_gw_text_t *self)
{
    long best = -1;
    if (!self->pending.data)
        return -1;                  //  nothing came yet (a first token of no text)
    for (size_t index = 0; index < self->stop_count; index++) {
        const char *found = memmem (self->pending.data, self->pending.size, self->stops [index],
                                    strlen (self->stops [index]));
        if (found && (best < 0 || found - self->pending.data < best)) {
            best = found - self->pending.data;
            self->matched = (int) index;
        }
    }
    return best;
}

//  The longest tail of the first 'size' pending bytes that is a proper
//  prefix of some stop string.
static size_t
s_stop_prefix_tail (xinf_gw_text_t *self, size_t size)
{
    size_t longest = 0;
    for (size_t index = 0; index < self->stop_count; index++) {
        size_t stop_length = strlen (self->stops [index]);
        for (size_t tail = stop_length - 1; tail > longest; tail--)
            if (tail <= size && memcmp (self->pending.data + size - tail, self->stops [index], tail) == 0) {
                longest = tail;
                break;
            }
    }
    return longest;
}

bool
xinf_gw_text_feed (xinf_gw_text_t *self, const char *bytes, size_t size, xinf_gw_buf_t *out)
{
    xinf_gw_buf_add (&self->pending, bytes, size);
    long stop = self->stops_off ? -1 : s_find_stop (self);
    if (stop >= 0) {
        size_t shown = (size_t) stop + (self->include_stop ? strlen (self->stops [self->matched]) : 0);
        xinf_gw_buf_add (out, self->pending.data, shown);
        self->pending.size = 0;
        return true;
    }
    size_t complete = xinf_gw_utf8_complete (self->pending.data, self->pending.size);
    size_t show = complete - (self->stops_off ? 0 : s_stop_prefix_tail (self, complete));
    xinf_gw_buf_add (out, self->pending.data, show);
    xinf_gw_buf_consume (&self->pending, show);
    return false;
}

void
xinf_gw_text_flush (xinf_gw_text_t *self, xinf_gw_buf_t *out)
{
    //  Invalid bytes are replaced when the text becomes a JSON string
    xinf_gw_buf_add (out, self->pending.data, self->pending.size);
    self->pending.size = 0;
}

void
xinf_gw_text_clear (xinf_gw_text_t *self)
{
    xinf_gw_buf_free (&self->pending);
}

void
xinf_gw_sse_json (xinf_gw_buf_t *sse, json_t *object)
{
    char *text = json_dumps (object, JSON_COMPACT);
    xinf_gw_buf_add_str (sse, "data: ");
    if (text)
        xinf_gw_buf_add_str (sse, text);
    xinf_gw_buf_add_str (sse, "\n\n");
    free (text);
    json_decref (object);
}

void
xinf_gw_sse_event (xinf_gw_buf_t *sse, json_t *event)
{
    char *text = json_dumps (event, JSON_COMPACT);
    xinf_gw_buf_add_str (sse, "event: ");
    xinf_gw_buf_add_str (sse, json_string_value (json_object_get (event, "type")) ?: "message");
    xinf_gw_buf_add_str (sse, "\ndata: ");
    if (text)
        xinf_gw_buf_add_str (sse, text);
    xinf_gw_buf_add_str (sse, "\n\n");
    free (text);
    json_decref (event);
}
