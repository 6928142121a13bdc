/*  xinf_cli_show: tables for people from client-protocol replies.  */
#include "xinf_cli_show.h"
#include "xinf_probe.h"

#include <time.h>

bool
xinf_cli_is_error (xinf_msg_t *reply)
{
    if (!xinf_msg_is (reply, "ERROR"))
        return false;
    xinf_value_t *body = xinf_msg_body (reply);
    fprintf (stderr, "xinf-cli: ERROR %s: %s\n",
             xinf_value_str (xinf_map_get (body, "code")) ?: "?",
             xinf_value_str (xinf_map_get (body, "message")) ?: "?");
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

static void
s_devices (const xinf_value_t *devices, char *text, size_t size)
{
    size_t gpus = 0, used = 0;
    for (size_t index = 0; index < xinf_value_count (devices); index++)
        if (streq (s_str (xinf_array_at (devices, index), "kind"), "gpu"))
            gpus++;
    used = (size_t) snprintf (text, size, "cpu");
    if (gpus && used < size)
        snprintf (text + used, size - used, "+%zu gpu", gpus);
}

void
xinf_cli_show_workers (xinf_value_t *body, FILE *out)
{
    const xinf_value_t *supervisor = xinf_map_get (body, "supervisor");
    fprintf (out, "supervisor %s (xinf %s), heartbeat %llu ms x %llu\n", s_str (supervisor, "node"),
             s_str (supervisor, "version"), (unsigned long long) s_uint (body, "heartbeat_ms"),
             (unsigned long long) s_uint (body, "liveness"));
    const xinf_value_t *workers = xinf_map_get (body, "workers");
    fprintf (out, "%-16s %-6s %-9s %-16s %-16s %-10s %5s %9s %-8s %s\n", "NODE", "STATE", "SINCE",
             "HOST_IP", "OBSERVED", "HEARTBEAT", "CPUS", "MEM_GB", "DEVICES", "PORTS");
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        char since [32], beat [32], devices [32];
        s_age (since, sizeof since, s_uint (worker, "state_age_ms"));
        s_age (beat, sizeof beat, s_uint (worker, "last_heartbeat_ms"));
        s_devices (xinf_map_get (worker, "devices"), devices, sizeof devices);
        const xinf_value_t *ports = xinf_map_get (worker, "data_ports");
        fprintf (out, "%-16s %-6s %-9s %-16s %-16s %-10s %5llu %9.1f %-8s %llu-%llu\n", s_str (worker, "node"),
                 s_str (worker, "state"), since, s_str (worker, "host_ip"), s_str (worker, "observed_address"),
                 beat, (unsigned long long) s_uint (worker, "cpus"), (double) s_uint (worker, "memory_bytes") / 1e9,
                 devices, (unsigned long long) xinf_value_uint (xinf_array_at (ports, 0)),
                 (unsigned long long) xinf_value_uint (xinf_array_at (ports, 1)));
        const xinf_value_t *warnings = xinf_map_get (worker, "warnings");
        for (size_t at = 0; at < xinf_value_count (warnings); at++)
            fprintf (out, "  warning: %s\n", xinf_value_str (xinf_array_at (warnings, at)));
    }
    if (xinf_value_count (workers) == 0)
        fprintf (out, "(no workers registered)\n");
}

void
xinf_cli_show_waits (xinf_value_t *body, FILE *out)
{
    const xinf_value_t *waits = xinf_map_get (body, "waits");
    fprintf (out, "%-16s %-12s %-28s %-22s %9s %12s %9s %s\n", "NODE", "ACTOR", "WHAT", "PEER",
             "AGE", "PROGRESS", "IDLE", "STATE");
    for (size_t index = 0; index < xinf_value_count (waits); index++) {
        const xinf_value_t *wait = xinf_array_at (waits, index);
        char age [32], idle [32], stall [32];
        s_age (age, sizeof age, s_uint (wait, "age_ms"));
        s_age (idle, sizeof idle, s_uint (wait, "idle_ms"));
        s_age (stall, sizeof stall, s_uint (wait, "stall_ms"));
        bool stalled = xinf_value_bool (xinf_map_get (wait, "stalled"));
        fprintf (out, "%-16s %-12s %-28s %-22s %9s %12llu %9s %s%s\n", s_str (wait, "node"), s_str (wait, "actor"),
                 s_str (wait, "what"), s_str (wait, "peer"), age, (unsigned long long) s_uint (wait, "progress"),
                 idle, stalled ? "STALLED, limit " : "waiting, limit ", stall);
    }
    if (xinf_value_count (waits) == 0)
        fprintf (out, "(no waits)\n");
}

void
xinf_cli_show_events (xinf_value_t *body, FILE *out)
{
    const xinf_value_t *events = xinf_map_get (body, "events");
    for (size_t index = 0; index < xinf_value_count (events); index++) {
        const xinf_value_t *event = xinf_array_at (events, index);
        uint64_t time_ms = s_uint (event, "time_ms");
        time_t seconds = (time_t) (time_ms / 1000);
        struct tm tm;
        gmtime_r (&seconds, &tm);
        char stamp [32];
        strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf (out, "%s.%03lluZ %-9s %-16s %s\n", stamp, (unsigned long long) (time_ms % 1000),
                 s_str (event, "kind"), s_str (event, "node"), s_str (event, "detail"));
    }
    if (xinf_value_count (events) == 0)
        fprintf (out, "(no events)\n");
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
