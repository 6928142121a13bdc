/*  xinf_journal: events and launched models kept on disk.  */
#include "xinf_journal.h"

#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>

struct _xinf_journal_t {
    char events_path [4096];
    char models_path [4096];
    FILE *events;                      //  appended, flushed a line at a time
};

xinf_journal_t *
xinf_journal_new (const char *directory, char *error, size_t error_size)
{
    if (mkdir (directory, 0700) && errno != EEXIST) {
        snprintf (error, error_size, "cannot create the state directory %s: %s", directory, strerror (errno));
        return NULL;
    }
    xinf_journal_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->events_path, sizeof self->events_path, "%s/events.jsonl", directory);
    snprintf (self->models_path, sizeof self->models_path, "%s/models.json", directory);
    self->events = fopen (self->events_path, "a");
    if (!self->events) {
        snprintf (error, error_size, "cannot write %s: %s", self->events_path, strerror (errno));
        xinf_journal_destroy (&self);
    }
    return self;
}

void
xinf_journal_destroy (xinf_journal_t **self_p)
{
    if (self_p && *self_p) {
        if ((*self_p)->events)
            fclose ((*self_p)->events);
        free (*self_p);
        *self_p = NULL;
    }
}

void
xinf_journal_event (xinf_journal_t *self, uint64_t time_ms, const char *kind, const char *node, const char *detail)
{
    json_t *line = json_pack ("{s:I, s:s, s:s, s:s}", "time_ms", (json_int_t) time_ms, "kind", kind, "node", node,
                              "detail", detail);
    char *text = line ? json_dumps (line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text && fprintf (self->events, "%s\n", text) > 0)
        fflush (self->events);
    else
        xinf_warn ("supervisor", "journal: cannot append an event to %s", self->events_path);
    free (text);
    json_decref (line);
}

size_t
xinf_journal_replay (xinf_journal_t *self, size_t limit, xinf_journal_event_fn *fn, void *arg)
{
    FILE *file = fopen (self->events_path, "r");
    if (!file)
        return 0;
    //  Count first, so that only the newest 'limit' are replayed
    size_t total = 0, skip, index = 0, replayed = 0;
    char *line = NULL;
    size_t capacity = 0;
    while (getline (&line, &capacity, file) > 0)
        total++;
    skip = total > limit ? total - limit : 0;
    rewind (file);
    while (getline (&line, &capacity, file) > 0) {
        if (index++ < skip)
            continue;
        json_error_t problem;
        json_t *event = json_loads (line, 0, &problem);
        json_int_t time_ms = 0;
        const char *kind = NULL, *node = NULL, *detail = NULL;
        if (!event || json_unpack (event, "{s:I, s:s, s:s, s:s}", "time_ms", &time_ms, "kind", &kind, "node", &node,
                                   "detail", &detail) || time_ms < 0)
            xinf_warn ("supervisor", "journal: line %zu of %s skipped: not an event", index, self->events_path);
        else {
            fn ((uint64_t) time_ms, kind, node, detail, arg);
            replayed++;
        }
        json_decref (event);
    }
    free (line);
    fclose (file);
    return replayed;
}

//  xinf values to JSON: maps, arrays, strings, integers, booleans (what
//  the models' launch parameters hold).
static json_t *
s_to_json (const xinf_value_t *value)
{
    switch (xinf_value_type (value)) {
        case XINF_MAP: {
            json_t *object = json_object ();
            for (size_t index = 0; index < xinf_value_count (value); index++)
                json_object_set_new (object, xinf_map_key_at (value, index), s_to_json (xinf_map_value_at (value, index)));
            return object;
        }
        case XINF_ARRAY: {
            json_t *array = json_array ();
            for (size_t index = 0; index < xinf_value_count (value); index++)
                json_array_append_new (array, s_to_json (xinf_array_at (value, index)));
            return array;
        }
        case XINF_STR:  return json_string (xinf_value_str (value));
        case XINF_UINT: return json_integer ((json_int_t) xinf_value_uint (value));
        case XINF_BOOL: return json_boolean (xinf_value_bool (value));
        default:        return json_null ();
    }
}

static xinf_value_t *
s_from_json (json_t *json)
{
    if (json_is_object (json)) {
        xinf_value_t *map = xinf_value_new_map ();
        const char *key;
        json_t *item;
        json_object_foreach (json, key, item)
            xinf_map_put (map, key, s_from_json (item));
        return map;
    }
    if (json_is_array (json)) {
        xinf_value_t *array = xinf_value_new_array ();
        size_t index;
        json_t *item;
        json_array_foreach (json, index, item)
            xinf_array_push (array, s_from_json (item));
        return array;
    }
    if (json_is_string (json))
        return xinf_value_new_str (json_string_value (json));
    if (json_is_integer (json) && json_integer_value (json) >= 0)
        return xinf_value_new_uint ((uint64_t) json_integer_value (json));
    if (json_is_boolean (json))
        return xinf_value_new_bool (json_is_true (json));
    return xinf_value_new_nil ();
}

int
xinf_journal_save_models (xinf_journal_t *self, const xinf_value_t *models)
{
    char temporary [4200];
    snprintf (temporary, sizeof temporary, "%s.new", self->models_path);
    json_t *json = s_to_json (models);
    int rc = json_dump_file (json, temporary, JSON_INDENT (1) | JSON_ENSURE_ASCII);
    json_decref (json);
    if (rc == 0)
        rc = rename (temporary, self->models_path);
    if (rc)
        xinf_warn ("supervisor", "journal: cannot save the models to %s: %s", self->models_path, strerror (errno));
    return rc ? -1 : 0;
}

xinf_value_t *
xinf_journal_load_models (xinf_journal_t *self)
{
    json_error_t problem;
    json_t *json = json_load_file (self->models_path, 0, &problem);
    if (!json) {
        if (access (self->models_path, F_OK) == 0)
            xinf_warn ("supervisor", "journal: %s skipped: %s (line %d)", self->models_path, problem.text, problem.line);
        return NULL;
    }
    xinf_value_t *models = json_is_array (json) ? s_from_json (json) : NULL;
    if (!models)
        xinf_warn ("supervisor", "journal: %s skipped: not an array of models", self->models_path);
    json_decref (json);
    return models;
}
