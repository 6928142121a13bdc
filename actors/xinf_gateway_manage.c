/*  xinf_gateway_manage: the cluster's management over HTTP, as Xinference
    offers it (role admin when the gateway has keys):

        POST   /v1/models                 LAUNCH (uid or model_uid, path, replicas, n_worker, ...)
        DELETE /v1/models/{uid}           TERMINATE
        GET    /v1/models/{uid}/progress  LAUNCH_PROGRESS
        GET    /v1/cluster                CLUSTER_INFO
        GET    /v1/cluster/workers        CLUSTER_INFO's workers
        GET    /v1/cluster/waits          WAITS
        GET    /v1/cluster/events         EVENTS (?since=N&limit=M)
        GET|POST /v1/cluster/doctor       DOCTOR (?timeout_ms=N or {"timeout_ms": N})

    The supervisor checks every field (client.md) and names a bad one: its
    BAD_REQUEST is a 400 with that message. Answers are the replies'
    bodies as JSON.
*/
#include "xinf_gateway_private.h"

#define XINF_GW_MANAGE_MS  15000      //  deadline of a management call (DOCTOR: from its timeout)

json_t *
xinf_gw_value_json (const xinf_value_t *value, int depth)
{
    if (depth <= 0)
        return json_null ();
    switch (xinf_value_type (value)) {
        case XINF_BOOL:  return json_boolean (xinf_value_bool (value));
        case XINF_UINT:  return json_integer ((json_int_t) xinf_value_uint (value));
        case XINF_INT:   return json_integer ((json_int_t) xinf_value_int (value));
        case XINF_FLOAT: return json_real (xinf_value_float (value));
        case XINF_STR: {
            size_t size = 0;
            const char *text = xinf_value_bytes (value, &size);
            return xinf_gw_json_text (text, size);
        }
        case XINF_BIN: {
            size_t size = 0;
            const unsigned char *bytes = (const unsigned char *) xinf_value_bytes (value, &size);
            char *hex = malloc (size * 2 + 1);
            assert (hex);
            for (size_t index = 0; index < size; index++)
                snprintf (hex + index * 2, 3, "%02x", bytes [index]);
            hex [size * 2] = 0;
            json_t *text = json_string (hex);
            free (hex);
            return text;
        }
        case XINF_ARRAY: {
            json_t *array = json_array ();
            for (size_t index = 0; index < xinf_value_count (value); index++)
                json_array_append_new (array, xinf_gw_value_json (xinf_array_at (value, index), depth - 1));
            return array;
        }
        case XINF_MAP: {
            json_t *object = json_object ();
            for (size_t index = 0; index < xinf_value_count (value); index++)
                json_object_set_new (object, xinf_map_key_at (value, index),
                                     xinf_gw_value_json (xinf_map_value_at (value, index), depth - 1));
            return object;
        }
        default:
            return json_null ();
    }
}

//  A JSON value as a message value; NULL when it nests deeper than 'depth'.
static xinf_value_t *
s_json_value (json_t *json, int depth)
{
    if (depth <= 0)
        return NULL;
    if (json_is_string (json))
        return xinf_value_new_strn (json_string_value (json), json_string_length (json));
    if (json_is_integer (json))
        return xinf_value_new_int ((int64_t) json_integer_value (json));
    if (json_is_real (json))
        return xinf_value_new_float (json_real_value (json));
    if (json_is_boolean (json))
        return xinf_value_new_bool (json_is_true (json));
    if (json_is_array (json)) {
        xinf_value_t *array = xinf_value_new_array ();
        for (size_t index = 0; index < json_array_size (json) && index < 1024; index++) {
            xinf_value_t *item = s_json_value (json_array_get (json, index), depth - 1);
            if (!item) {
                xinf_value_destroy (&array);
                return NULL;
            }
            xinf_array_push (array, item);
        }
        return array;
    }
    return json_is_null (json) ? xinf_value_new_nil () : NULL;
}

static const char *s_launch_keys [] = {
    "uid", "path", "worker", "workers", "replicas", "threads", "n_worker", "probe_timeout_ms",
    "rendezvous_timeout_ms", "stall_timeout_ms", "kv_cache_mb", "max_seqs", "step_tokens", "max_queued", "device",
    "disable_cuda_graph", "speculative_tokens", "prompt_lookup_min", "prompt_lookup_max", "kv_cache_dtype",
    "lora_modules", NULL
};

//  LoRA adapters in the forms clients send, as lora_modules' NAME=PATH
//  strings: vLLM's objects {"name", "path"} (strings pass as they are),
//  or Xinference's peft_model_config {"lora_list": [{"lora_name",
//  "local_path"}]}. 0, or -1 with the error set.
static int
s_lora_modules (json_t *root, xinf_gw_error_t *error)
{
    json_t *list = json_object_get (root, "lora_modules"), *peft = json_object_get (root, "peft_model_config");
    const char *keys [2] = { "name", "path" };
    if (!list && json_is_object (peft)) {
        list = json_object_get (peft, "lora_list");
        keys [0] = "lora_name";
        keys [1] = "local_path";
    }
    if (!list || json_is_null (list))
        return 0;
    json_t *specs = json_array ();
    for (size_t index = 0; json_is_array (list) && index < json_array_size (list); index++) {
        json_t *item = json_array_get (list, index);
        const char *name = json_string_value (json_object_get (item, keys [0]));
        const char *path = json_string_value (json_object_get (item, keys [1]));
        if (json_is_string (item))
            json_array_append (specs, item);
        else
        if (name && path && !strchr (name, '='))
            json_array_append_new (specs, json_sprintf ("%s=%s", name, path));
    }
    if (!json_is_array (list) || json_array_size (specs) != json_array_size (list)) {
        json_decref (specs);
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", "lora_modules", "'lora_modules' "
                           "must be an array of \"NAME=PATH\" strings or {\"%s\": NAME, \"%s\": PATH} objects",
                           keys [0], keys [1]);
        return -1;
    }
    json_object_set_new (root, "lora_modules", specs);
    return 0;
}

//  vLLM's speculative_config {"method": "ngram", "num_speculative_tokens",
//  "prompt_lookup_max", "prompt_lookup_min"} as LAUNCH's fields; as in
//  vLLM, num_speculative_tokens is required and a bound given alone is
//  both. Another method or key, or a value out of range, is refused by
//  its name. 0, or -1 with the error set.
static int
s_speculative_config (json_t *config, xinf_msg_t *msg, xinf_gw_error_t *error)
{
    static const char *keys [][2] = { { "num_speculative_tokens", "speculative_tokens" },
                                      { "prompt_lookup_max", "prompt_lookup_max" },
                                      { "prompt_lookup_min", "prompt_lookup_min" } };
    const char *method = json_string_value (json_object_get (config, "method"));
    if (!json_is_object (config) || !method || strcmp (method, "ngram")) {
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", "speculative_config.method",
                           "'speculative_config.method' must be \"ngram\" (speculative decoding by prompt lookup), "
                           "in a 'speculative_config' object; xinf has no draft-model, EAGLE or MTP speculation");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach (config, key, value) {
        size_t known = 0;
        while (known < 3 && strcmp (key, keys [known][0]))
            known++;
        if (!strcmp (key, "method") || (known < 3 && json_is_null (value)))
            continue;                 //  null: not given (vLLM's default)
        char name [96];
        snprintf (name, sizeof name, "speculative_config.%s", key);
        if (known == 3) {
            xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", name, "'%s' is not known: "
                               "ngram speculation takes num_speculative_tokens, prompt_lookup_max and "
                               "prompt_lookup_min", name);
            return -1;
        }
        if (!json_is_integer (value) || json_integer_value (value) < 1 || json_integer_value (value) > 16) {
            xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", name, "'%s' must be an integer "
                               "from 1 to 16", name);
            return -1;
        }
        xinf_map_put_uint (xinf_msg_body (msg), keys [known][1], (uint64_t) json_integer_value (value));
    }
    json_t *lookup_max = json_object_get (config, "prompt_lookup_max");
    json_t *lookup_min = json_object_get (config, "prompt_lookup_min");
    lookup_max = json_is_null (lookup_max) ? NULL : lookup_max;
    lookup_min = json_is_null (lookup_min) ? NULL : lookup_min;
    json_t *drafts = json_object_get (config, "num_speculative_tokens");
    if (!drafts || json_is_null (drafts)) {
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value",
                           "speculative_config.num_speculative_tokens", "'speculative_config.num_speculative_tokens' "
                           "is required: the drafts a step may carry, 1 to 16");
        return -1;
    }
    //  A bound given alone is both, unless the body gave the other at its top
    if (lookup_max && !lookup_min && !xinf_map_get (xinf_msg_body (msg), "prompt_lookup_min"))
        xinf_map_put_uint (xinf_msg_body (msg), "prompt_lookup_min", (uint64_t) json_integer_value (lookup_max));
    if (lookup_min && !lookup_max && !xinf_map_get (xinf_msg_body (msg), "prompt_lookup_max"))
        xinf_map_put_uint (xinf_msg_body (msg), "prompt_lookup_max", (uint64_t) json_integer_value (lookup_min));
    return 0;
}

//  LAUNCH from the body: the known fields, converted; 'model_uid' (Xinference's name) for uid.
static xinf_msg_t *
s_launch (xinf_gw_request_t *request, xinf_gw_error_t *error)
{
    json_t *root = xinf_gw_json_parse (request->body.data, request->body.size, error);
    if (!root)
        return NULL;
    if (!json_object_get (root, "uid") && json_object_get (root, "model_uid"))
        json_object_set (root, "uid", json_object_get (root, "model_uid"));
    if (s_lora_modules (root, error)) {
        json_decref (root);
        return NULL;
    }
    xinf_msg_t *msg = xinf_msg_new ("LAUNCH");
    for (size_t index = 0; s_launch_keys [index]; index++) {
        json_t *field = json_object_get (root, s_launch_keys [index]);
        if (!field)
            continue;
        xinf_value_t *value = s_json_value (field, 3);
        if (!value || xinf_value_type (value) == XINF_NIL) {
            xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", s_launch_keys [index],
                               "'%s' must be a string, number, boolean or array of strings", s_launch_keys [index]);
            xinf_value_destroy (&value);
            xinf_msg_destroy (&msg);
            break;
        }
        xinf_map_put (xinf_msg_body (msg), s_launch_keys [index], value);
    }
    json_t *speculative = json_object_get (root, "speculative_config");
    if (msg && speculative && s_speculative_config (speculative, msg, error))
        xinf_msg_destroy (&msg);
    json_decref (root);
    return msg;
}

//  A query argument as a uint, or 'otherwise'; -1 when it is not a number.
static int
s_query_uint (xinf_gw_request_t *request, const char *key, uint64_t *value)
{
    const char *text = MHD_lookup_connection_value (request->connection, MHD_GET_ARGUMENT_KIND, key);
    if (!text)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (!*text || *end || errno || *text == '-')
        return -1;
    *value = number;
    return 0;
}

//  The call for a management route; NULL with the error.
static xinf_msg_t *
s_message (xinf_gw_request_t *request, xinf_gw_error_t *error, int64_t *deadline_ms)
{
    *deadline_ms = XINF_GW_MANAGE_MS;
    uint64_t since = 0, limit = 1000, timeout_ms = 3000;
    xinf_msg_t *msg = NULL;
    switch (request->route) {
        case XINF_GW_ROUTE_LAUNCH:
            return s_launch (request, error);
        case XINF_GW_ROUTE_TERMINATE:
        case XINF_GW_ROUTE_PROGRESS:
            msg = xinf_msg_new (request->route == XINF_GW_ROUTE_TERMINATE ? "TERMINATE" : "LAUNCH_PROGRESS");
            xinf_map_put_str (xinf_msg_body (msg), "uid", request->path_model);
            return msg;
        case XINF_GW_ROUTE_WAITS:
            return xinf_msg_new ("WAITS");
        case XINF_GW_ROUTE_EVENTS:
            if (s_query_uint (request, "since", &since) || s_query_uint (request, "limit", &limit)) {
                xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", "since",
                                   "'since' and 'limit' must be non-negative integers");
                return NULL;
            }
            msg = xinf_msg_new ("EVENTS");
            xinf_map_put_uint (xinf_msg_body (msg), "since", since);
            xinf_map_put_uint (xinf_msg_body (msg), "limit", limit);
            return msg;
        case XINF_GW_ROUTE_DOCTOR: {
            json_t *root = request->body.size ? xinf_gw_json_parse (request->body.data, request->body.size, error) : NULL;
            if (request->body.size && !root)
                return NULL;
            json_t *field = json_object_get (root, "timeout_ms");
            if (field && json_is_integer (field) && json_integer_value (field) >= 0)
                timeout_ms = (uint64_t) json_integer_value (field);
            json_decref (root);
            if (s_query_uint (request, "timeout_ms", &timeout_ms) || timeout_ms > 60000) {
                xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_value", "timeout_ms",
                                   "'timeout_ms' must be an integer from 100 to 60000");
                return NULL;
            }
            msg = xinf_msg_new ("DOCTOR");
            xinf_map_put_uint (xinf_msg_body (msg), "timeout_ms", timeout_ms);
            *deadline_ms = (int64_t) timeout_ms * 2 + 5000;
            return msg;
        }
        default:
            return xinf_msg_new ("CLUSTER_INFO");
    }
}

void
xinf_gw_manage_start (xinf_gw_request_t *request)
{
    xinf_gw_error_t error;
    int64_t deadline_ms;
    xinf_msg_t *msg = s_message (request, &error, &deadline_ms);
    if (!msg) {
        xinf_gw_respond_error (request, &error);
        return;
    }
    if (xinf_gw_call (request, &msg, deadline_ms, &error))
        xinf_gw_respond_error (request, &error);
}

void
xinf_gw_manage_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_call_forget (request);
    xinf_value_t *body = xinf_msg_body (msg);
    if (xinf_msg_is (msg, "ERROR")) {
        const char *code = xinf_value_str (xinf_map_get (body, "code"));
        const char *message = xinf_value_str (xinf_map_get (body, "message"));
        xinf_gw_error_t error;
        xinf_gw_error_from_code (&error, code ? code : "INTERNAL", message ? message : "", 0);
        xinf_gw_respond_error (request, &error);
        return;
    }
    if (request->route == XINF_GW_ROUTE_LAUNCH)
        xinf_info ("gateway", "launch over HTTP uid=%s", xinf_value_str (xinf_map_get (body, "uid")) ?: "?");
    if (request->route == XINF_GW_ROUTE_WORKERS) {
        json_t *object = json_object ();
        json_object_set_new (object, "object", json_string ("list"));
        json_object_set_new (object, "data", xinf_gw_value_json (xinf_map_get (body, "workers"), 16));
        xinf_gw_respond_json (request, 200, object);
        return;
    }
    xinf_gw_respond_json (request, request->route == XINF_GW_ROUTE_LAUNCH ? 201 : 200, xinf_gw_value_json (body, 16));
}
