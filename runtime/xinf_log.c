/*  xinf_log: levelled, thread-safe log lines with key=value fields.  */
#include "xinf_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static _Atomic int s_level = XINF_LOG_INFO;
static _Atomic uint64_t s_warnings;
static _Atomic uint64_t s_errors;

static const char *s_names [] = { "trace", "debug", "info", "warn", "error", "off" };
static const char *s_tags [] = { "TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "OFF  " };

void
xinf_log_set_level (xinf_log_level_t level)
{
    if (level >= XINF_LOG_TRACE && level <= XINF_LOG_OFF)
        atomic_store (&s_level, level);
}

xinf_log_level_t
xinf_log_get_level (void)
{
    return (xinf_log_level_t) atomic_load (&s_level);
}

int
xinf_log_level_parse (const char *text)
{
    if (!text)
        return -1;
    for (int level = XINF_LOG_TRACE; level <= XINF_LOG_OFF; level++)
        if (strcasecmp (text, s_names [level]) == 0)
            return level;
    if (strcasecmp (text, "warning") == 0)
        return XINF_LOG_WARN;
    return -1;
}

const char *
xinf_log_level_name (xinf_log_level_t level)
{
    if (level < XINF_LOG_TRACE || level > XINF_LOG_OFF)
        return "?";
    return s_names [level];
}

static void
s_timestamp (char *buffer, size_t size)
{
    struct timeval now;
    gettimeofday (&now, NULL);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    size_t used = strftime (buffer, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buffer + used, size - used, ".%03dZ", (int) (now.tv_usec / 1000));
}

void
xinf_log_v (xinf_log_level_t level, const char *component, const char *format, va_list args)
{
    if (level == XINF_LOG_WARN)
        atomic_fetch_add (&s_warnings, 1);
    if (level == XINF_LOG_ERROR)
        atomic_fetch_add (&s_errors, 1);
    if ((int) level < atomic_load (&s_level) || level >= XINF_LOG_OFF)
        return;

    char stamp [40];
    s_timestamp (stamp, sizeof stamp);
    char text [2048];
    vsnprintf (text, sizeof text, format, args);
    //  Keep one event on one line: control characters become spaces
    for (char *c = text; *c; c++)
        if ((unsigned char) *c < 0x20)
            *c = ' ';
    fprintf (stderr, "%s %s %s: %s\n", stamp, s_tags [level],
             component ? component : "-", text);
}

void
xinf_log (xinf_log_level_t level, const char *component, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    xinf_log_v (level, component, format, args);
    va_end (args);
}

uint64_t
xinf_log_warnings (void)
{
    return atomic_load (&s_warnings);
}

uint64_t
xinf_log_errors (void)
{
    return atomic_load (&s_errors);
}
