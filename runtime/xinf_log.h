/*  xinf_log: levelled, thread-safe log lines with key=value fields.

    One line per call, written with a single fprintf to stderr so lines from
    different threads never interleave:

        2026-11-24T16:20:00.123Z INFO  node: listening endpoint=tcp://0.0.0.0:9997

    By convention the message is a short event name followed by key=value
    fields, so that people and grep both read it.
*/
#ifndef XINF_LOG_H_INCLUDED
#define XINF_LOG_H_INCLUDED

#include <stdarg.h>
#include <stdint.h>

typedef enum {
    XINF_LOG_TRACE = 0,
    XINF_LOG_DEBUG,
    XINF_LOG_INFO,
    XINF_LOG_WARN,
    XINF_LOG_ERROR,
    XINF_LOG_OFF
} xinf_log_level_t;

//  Set / get the process-wide threshold; lines below it are dropped.
void xinf_log_set_level (xinf_log_level_t level);
xinf_log_level_t xinf_log_get_level (void);

//  Parse "trace|debug|info|warn|error|off"; returns -1 if not a level.
int xinf_log_level_parse (const char *text);
const char *xinf_log_level_name (xinf_log_level_t level);

//  Write one line. component names the module or actor ("node", "router").
void xinf_log (xinf_log_level_t level, const char *component, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
void xinf_log_v (xinf_log_level_t level, const char *component, const char *format, va_list args);

//  Number of WARN and ERROR events since start, whether or not the level let
//  them be written (for stats and tests).
uint64_t xinf_log_warnings (void);
uint64_t xinf_log_errors (void);

#define xinf_trace(c, ...) xinf_log (XINF_LOG_TRACE, (c), __VA_ARGS__)
#define xinf_debug(c, ...) xinf_log (XINF_LOG_DEBUG, (c), __VA_ARGS__)
#define xinf_info(c, ...)  xinf_log (XINF_LOG_INFO,  (c), __VA_ARGS__)
#define xinf_warn(c, ...)  xinf_log (XINF_LOG_WARN,  (c), __VA_ARGS__)
#define xinf_error(c, ...) xinf_log (XINF_LOG_ERROR, (c), __VA_ARGS__)

#endif
