/*  xinf_gateway_responses_store: the responses kept for GET, DELETE and
    previous_response_id, in the gateway's memory.

    Bounded by count and by bytes: each response and its conversation is
    kept as compact JSON text, what it costs, and parsed again when read
    (a reader gets its own copy, never the store's); a new one pushes out
    the oldest. Each is kept with its
    owner, a digest of the API key that made it, and only that key reads
    it back. A restart of the node forgets them, as vLLM's store does.
*/
#include "xinf_gateway_responses.h"

typedef struct {
    char id [48];
    char owner [48];
    char *response;                   //  compact JSON
    char *conversation;
    size_t bytes;
} s_entry_t;

struct _xinf_gw_rstore_t {
    zlistx_t *order;                  //  s_entry_t, the oldest first
    zhashx_t *by_id;                  //  id -> the entry's handle in order
    size_t bytes, max_count, max_bytes;
};

static void
s_entry_destroy (s_entry_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->response);
    free ((*self_p)->conversation);
    free (*self_p);
    *self_p = NULL;
}

xinf_gw_rstore_t *
xinf_gw_rstore_new (size_t max_count, size_t max_bytes)
{
    xinf_gw_rstore_t *self = calloc (1, sizeof *self);
    assert (self);
    self->order = zlistx_new ();
    zlistx_set_destructor (self->order, (zlistx_destructor_fn *) s_entry_destroy);
    self->by_id = zhashx_new ();
    self->max_count = max_count;
    self->max_bytes = max_bytes;
    return self;
}

void
xinf_gw_rstore_destroy (xinf_gw_rstore_t **self_p)
{
    if (!*self_p)
        return;
    zhashx_destroy (&(*self_p)->by_id);
    zlistx_destroy (&(*self_p)->order);
    free (*self_p);
    *self_p = NULL;
}

static void
s_remove (xinf_gw_rstore_t *self, void *handle)
{
    s_entry_t *entry = (s_entry_t *) zlistx_handle_item (handle);
    self->bytes -= entry->bytes;
    zhashx_delete (self->by_id, entry->id);
    zlistx_delete (self->order, handle);
}

bool
xinf_gw_rstore_put (xinf_gw_rstore_t *self, const char *owner, json_t *response, json_t *conversation)
{
    const char *id = json_string_value (json_object_get (response, "id"));
    s_entry_t *entry = calloc (1, sizeof *entry);
    assert (entry);
    snprintf (entry->id, sizeof entry->id, "%s", id ? id : "");
    snprintf (entry->owner, sizeof entry->owner, "%s", owner);
    entry->response = json_dumps (response, JSON_COMPACT);
    entry->conversation = json_dumps (conversation, JSON_COMPACT);
    json_decref (response);
    json_decref (conversation);
    entry->bytes = sizeof *entry + (entry->response ? strlen (entry->response) : 0)
                 + (entry->conversation ? strlen (entry->conversation) : 0);
    if (!id || !entry->response || !entry->conversation || entry->bytes > self->max_bytes || self->max_count == 0) {
        s_entry_destroy (&entry);
        return false;
    }
    void *old = zhashx_lookup (self->by_id, entry->id);
    if (old)
        s_remove (self, old);
    while (zlistx_size (self->order) && (zlistx_size (self->order) >= self->max_count
                                      || self->bytes + entry->bytes > self->max_bytes)) {
        zlistx_first (self->order);                   //  the oldest
        s_remove (self, zlistx_cursor (self->order));
    }
    void *handle = zlistx_add_end (self->order, entry);
    zhashx_insert (self->by_id, entry->id, handle);
    self->bytes += entry->bytes;
    return true;
}

static void *
s_find (xinf_gw_rstore_t *self, const char *id, const char *owner)
{
    void *handle = zhashx_lookup (self->by_id, id);
    if (!handle)
        return NULL;
    s_entry_t *entry = (s_entry_t *) zlistx_handle_item (handle);
    return streq (entry->owner, owner) ? handle : NULL;
}

json_t *
xinf_gw_rstore_get (xinf_gw_rstore_t *self, const char *id, const char *owner, json_t **conversation)
{
    void *handle = s_find (self, id, owner);
    if (!handle)
        return NULL;
    s_entry_t *entry = (s_entry_t *) zlistx_handle_item (handle);
    if (conversation)
        *conversation = json_loads (entry->conversation, JSON_ALLOW_NUL, NULL);
    return json_loads (entry->response, JSON_ALLOW_NUL, NULL);      //  a model may write a NUL byte
}

bool
xinf_gw_rstore_delete (xinf_gw_rstore_t *self, const char *id, const char *owner)
{
    void *handle = s_find (self, id, owner);
    if (handle)
        s_remove (self, handle);
    return handle != NULL;
}

size_t
xinf_gw_rstore_count (xinf_gw_rstore_t *self)
{
    return zlistx_size (self->order);
}
