/*  xinf_cli_show: tables for people from client-protocol replies.  */
#include "xinf_cli_show.h"
#include "xinf_probe.h"
#include "xinf_cli_table.h"
#include "xinf_client_msg.h"
#include "xinf_envelope_msg.h"

#include <time.h>

bool
xinf_cli_is_error (xinf_msg_t *reply)
{
    xinf_check_t check = XINF_CHECK_INIT;
    const char *type = xinf_msg_type (reply);
    if (xinf_client_msg_validate (type, xinf_msg_body (reply), &check) == -1
    ||  xinf_envelope_msg_validate (type, xinf_msg_body (reply), &check) == -1) {
        fprintf (stderr, "xinf-cli: BAD_REPLY: %s: %s\n", type, check.reason);
        return true;
    }
    if (!xinf_msg_is (reply, "ERROR"))
        return false;
    xinf_envelope_msg_error_t error;
    xinf_envelope_msg_error_decode (xinf_msg_body (reply), &error, &check);
    fprintf (stderr, "xinf-cli: ERROR %s: %s\n", error.code, error.message);
    return true;
}

static const char *
s_str (const xinf_value_t *map, const char *key)
{
    const char *text = xinf_value_str (xinf_map_get (map, key));
    return text && *text ? text : "-";
}

static uint64_t
s_uint (const xinf_value_t *map, const char *key)
{
    return xinf_value_uint (xinf_map_get (map, key));
}

//  "1.5 s", "250 ms"
static void
s_age (char *text, size_t size, uint64_t ms)
{
    if (ms >= 10000)
        snprintf (text, size, "%.0f s", (double) ms / 1000);
    else
    if (ms >= 1000)
        snprintf (text, size, "%.1f s", (double) ms / 1000);
    else
        snprintf (text, size, "%llu ms", (unsigned long long) ms);
}

//  "1 cpu", "1 cpu +2 gpu"
static void
s_devices (const xinf_value_t *devices, char *text, size_t size)
{
    size_t cpus = 0, gpus = 0;
    for (size_t index = 0; index < xinf_value_count (devices); index++) {
        const char *kind = xinf_value_str (xinf_map_get (xinf_array_at (devices, index), "kind")) ?: "";
        cpus += streq (kind, "cpu");
        gpus += streq (kind, "gpu");
    }
    size_t used = cpus ? (size_t) snprintf (text, size, "%zu cpu", cpus) : (size_t) snprintf (text, size, "-");
    if (gpus && used < size)
        snprintf (text + used, size - used, " +%zu gpu", gpus);
}

//  Whether a worker's build has NCCL: its version ("yes" when unknown),
//  "no", or "?" for a worker that does not say
static const char *
s_nccl (const xinf_value_t *worker)
{
    const xinf_value_t *nccl = xinf_map_get (worker, "nccl");
    if (!nccl)
        return "?";
    if (!xinf_value_bool (nccl))
        return "no";
    return *s_str (worker, "nccl_version") ? s_str (worker, "nccl_version") : "yes";
}

void
xinf_cli_show_workers (xinf_value_t *body, FILE *out)
{
    const xinf_value_t *supervisor = xinf_map_get (body, "supervisor");
    fprintf (out, "supervisor %s (xinf %s), heartbeat %llu ms x %llu\n", s_str (supervisor, "node"),
             s_str (supervisor, "version"), (unsigned long long) s_uint (body, "heartbeat_ms"),
             (unsigned long long) s_uint (body, "liveness"));
    const xinf_value_t *workers = xinf_map_get (body, "workers");
    const char *headers [] = { "NODE", "STATE", "SINCE", "HOST_IP", "OBSERVED", "HEARTBEAT", "CPUS", "MEMORY",
                               "DEVICES", "NCCL", "PORTS", "WARNINGS" };
    xinf_cli_table_t *table = xinf_cli_table_new (headers, sizeof headers / sizeof headers [0]);
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        char since [32], beat [32], devices [32];
        s_age (since, sizeof since, s_uint (worker, "state_age_ms"));
        s_age (beat, sizeof beat, s_uint (worker, "last_heartbeat_ms"));
        s_devices (xinf_map_get (worker, "devices"), devices, sizeof devices);
        const xinf_value_t *ports = xinf_map_get (worker, "data_ports");
        xinf_cli_table_cell (table, "%s", s_str (worker, "node"));
        xinf_cli_table_cell (table, "%s", s_str (worker, "state"));
        xinf_cli_table_cell (table, "%s", since);
        xinf_cli_table_cell (table, "%s", s_str (worker, "host_ip"));
        xinf_cli_table_cell (table, "%s", s_str (worker, "observed_address"));
        xinf_cli_table_cell (table, "%s", beat);
        xinf_cli_table_cell (table, "%llu", (unsigned long long) s_uint (worker, "cpus"));
        xinf_cli_table_cell (table, "%.1f GB", (double) s_uint (worker, "memory_bytes") / 1e9);
        xinf_cli_table_cell (table, "%s", devices);
        xinf_cli_table_cell (table, "%s", s_nccl (worker));
        xinf_cli_table_cell (table, "%llu-%llu", (unsigned long long) xinf_value_uint (xinf_array_at (ports, 0)),
                             (unsigned long long) xinf_value_uint (xinf_array_at (ports, 1)));
        xinf_cli_table_cell (table, "%zu", xinf_value_count (xinf_map_get (worker, "warnings")));
    }
    xinf_cli_table_print (table, out);
    xinf_cli_table_destroy (&table);
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        const xinf_value_t *warnings = xinf_map_get (worker, "warnings");
        for (size_t at = 0; at < xinf_value_count (warnings); at++)
            fprintf (out, "warning: %s: %s\n", s_str (worker, "node"), xinf_value_str (xinf_array_at (warnings, at)));
    }
    if (xinf_value_count (workers) == 0)
        fprintf (out, "(no workers registered)\n");
}

void
xinf_cli_show_waits (xinf_value_t *body, uint64_t older_than_ms, FILE *out)
{
    const xinf_value_t *waits = xinf_map_get (body, "waits");
    const char *headers [] = { "NODE", "ACTOR", "WHAT", "PEER", "AGE", "PROGRESS", "IDLE", "STATE" };
    xinf_cli_table_t *table = xinf_cli_table_new (headers, sizeof headers / sizeof headers [0]);
    for (size_t index = 0; index < xinf_value_count (waits); index++) {
        const xinf_value_t *wait = xinf_array_at (waits, index);
        if (s_uint (wait, "age_ms") < older_than_ms)
            continue;
        char age [32], idle [32], stall [32];
        s_age (age, sizeof age, s_uint (wait, "age_ms"));
        s_age (idle, sizeof idle, s_uint (wait, "idle_ms"));
        s_age (stall, sizeof stall, s_uint (wait, "stall_ms"));
        bool stalled = xinf_value_bool (xinf_map_get (wait, "stalled"));
        xinf_cli_table_cell (table, "%s", s_str (wait, "node"));
        xinf_cli_table_cell (table, "%s", s_str (wait, "actor"));
        xinf_cli_table_cell (table, "%s", s_str (wait, "what"));
        xinf_cli_table_cell (table, "%s", s_str (wait, "peer"));
        xinf_cli_table_cell (table, "%s", age);
        xinf_cli_table_cell (table, "%llu", (unsigned long long) s_uint (wait, "progress"));
        xinf_cli_table_cell (table, "%s", idle);
        xinf_cli_table_cell (table, "%s, limit %s", stalled ? "STALLED" : "waiting", stall);
    }
    if (xinf_cli_table_rows (table) == 0)
        fprintf (out, "(no waits)\n");
    xinf_cli_table_print (table, out);
    xinf_cli_table_destroy (&table);
}

void
xinf_cli_show_events (xinf_value_t *body, FILE *out)
{
    const xinf_value_t *events = xinf_map_get (body, "events");
    const char *headers [] = { "TIME", "KIND", "NODE", "DETAIL" };
    xinf_cli_table_t *table = xinf_cli_table_new (headers, 4);
    for (size_t index = 0; index < xinf_value_count (events); index++) {
        const xinf_value_t *event = xinf_array_at (events, index);
        uint64_t time_ms = s_uint (event, "time_ms");
        time_t seconds = (time_t) (time_ms / 1000);
        struct tm tm;
        gmtime_r (&seconds, &tm);
        char stamp [32];
        strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        xinf_cli_table_cell (table, "%s.%03lluZ", stamp, (unsigned long long) (time_ms % 1000));
        xinf_cli_table_cell (table, "%s", s_str (event, "kind"));
        xinf_cli_table_cell (table, "%s", s_str (event, "node"));
        xinf_cli_table_cell (table, "%s", s_str (event, "detail"));
    }
    if (xinf_value_count (events) == 0)
        fprintf (out, "(no events)\n");
    xinf_cli_table_print (table, out);
    xinf_cli_table_destroy (&table);
}

void
xinf_cli_show_doctor (xinf_value_t *body, FILE *out)
{
    const xinf_value_t *mesh = xinf_map_get (body, "mesh");
    fprintf (out, "connectivity (each worker dials every other one's data port):\n");
    fprintf (out, "  %-16s %-16s %-28s %-12s %7s  %s\n", "FROM", "TO", "ENDPOINT", "STATUS", "MS", "DETAIL");
    for (size_t index = 0; index < xinf_value_count (mesh); index++) {
        const xinf_value_t *pair = xinf_array_at (mesh, index);
        fprintf (out, "  %-16s %-16s %-28s %-12s %7llu  %s\n", s_str (pair, "from"), s_str (pair, "to"),
                 s_str (pair, "endpoint"), s_str (pair, "status"), (unsigned long long) s_uint (pair, "ms"),
                 s_str (pair, "detail"));
    }
    if (xinf_value_count (mesh) == 0)
        fprintf (out, "  (fewer than two workers to probe)\n");
    const xinf_value_t *workers = xinf_map_get (body, "workers");
    fprintf (out, "workers:\n  %-16s %-6s %-16s %-16s %s\n", "NODE", "STATE", "HOST_IP", "OBSERVED", "HEARTBEAT");
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        char beat [32];
        s_age (beat, sizeof beat, s_uint (worker, "last_heartbeat_ms"));
        fprintf (out, "  %-16s %-6s %-16s %-16s %s ago\n", s_str (worker, "node"), s_str (worker, "state"),
                 s_str (worker, "host_ip"), s_str (worker, "observed_address"), beat);
    }
    const xinf_value_t *versions = xinf_map_get (body, "versions");
    fprintf (out, "versions:\n  %-16s %-7s %-7s %-7s %-8s %-8s %-8s %s\n", "NODE", "XINF", "ZMQ", "CZMQ", "DRIVER",
             "CUDA", "NCCL", "GPUS");
    for (size_t index = 0; index < xinf_value_count (versions); index++) {
        const xinf_value_t *row = xinf_array_at (versions, index);
        fprintf (out, "  %-16s %-7s %-7s %-7s %-8s %-8s %-8s %s\n", s_str (row, "node"), s_str (row, "xinf"),
                 s_str (row, "zmq"), s_str (row, "czmq"), s_str (row, "cuda_driver"), s_str (row, "cuda_runtime"),
                 s_str (row, "nccl"), s_str (row, "gpus"));
    }
    fprintf (out, "cuda graphs: %s\n", s_str (body, "cuda_graphs"));
    const xinf_value_t *warnings = xinf_map_get (body, "warnings");
    for (size_t index = 0; index < xinf_value_count (warnings); index++)
        fprintf (out, "warning: %s\n", xinf_value_str (xinf_array_at (warnings, index)));
    const xinf_value_t *problems = xinf_map_get (body, "problems");
    if (xinf_value_count (problems) == 0)
        fprintf (out, "OK: no problem found\n");
    else {
        fprintf (out, "%zu problem(s):\n", xinf_value_count (problems));
        for (size_t index = 0; index < xinf_value_count (problems); index++)
            fprintf (out, "  - %s\n", xinf_value_str (xinf_array_at (problems, index)));
    }
}

void
xinf_cli_no_reply (xinf_dealer_t *dealer, const char *error)
{
    //  A refused or mismatched CURVE handshake: that is the whole story
    if (strstr (error, "refused our key")) {
        fprintf (stderr, "xinf-cli: the supervisor refused our key: %s\n", error);
        return;
    }
    fprintf (stderr, "xinf-cli: %s\n", error);
    if (strstr (error, "CURVE"))
        return;
    const char *endpoint = xinf_dealer_endpoint (dealer);
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return;
    char text [600];
    if (xinf_probe_diagnose ("xinf-cli", endpoint, "supervisor", 2000, text, sizeof text) == 0)
        fprintf (stderr, "xinf-cli: %s, so it is up but slow to answer: see its log, or raise --timeout\n", text);
    else
        fprintf (stderr, "xinf-cli: %s\n", text);
}
