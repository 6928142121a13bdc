/*  test_log: xinf_log, levelled thread-safe log lines.

    Level names and parsing, the threshold, the WARN/ERROR counters (which
    count even lines below the threshold), and the line format, captured by
    pointing stderr at a file: one line per call, a UTC timestamp, the
    level tag, the component, control characters turned into spaces, and
    no interleaving between threads.
*/
#include "test_unit.h"

#include <ctype.h>
#include <pthread.h>
#include <unistd.h>

static void
test_levels (void)
{
    CHECK_INT (xinf_log_level_parse ("trace"), XINF_LOG_TRACE);
    CHECK_INT (xinf_log_level_parse ("debug"), XINF_LOG_DEBUG);
    CHECK_INT (xinf_log_level_parse ("info"), XINF_LOG_INFO);
    CHECK_INT (xinf_log_level_parse ("warn"), XINF_LOG_WARN);
    CHECK_INT (xinf_log_level_parse ("warning"), XINF_LOG_WARN);
    CHECK_INT (xinf_log_level_parse ("error"), XINF_LOG_ERROR);
    CHECK_INT (xinf_log_level_parse ("off"), XINF_LOG_OFF);
    CHECK_INT (xinf_log_level_parse ("INFO"), XINF_LOG_INFO);
    CHECK_INT (xinf_log_level_parse ("Error"), XINF_LOG_ERROR);
    CHECK_INT (xinf_log_level_parse ("verbose"), -1);
    CHECK_INT (xinf_log_level_parse (""), -1);
    CHECK_INT (xinf_log_level_parse ("info "), -1);
    CHECK_INT (xinf_log_level_parse (NULL), -1);
    for (int level = XINF_LOG_TRACE; level <= XINF_LOG_OFF; level++)
        CHECK_INT (xinf_log_level_parse (xinf_log_level_name ((xinf_log_level_t) level)), level);
    CHECK_STR (xinf_log_level_name (XINF_LOG_WARN), "warn");
    CHECK_STR (xinf_log_level_name ((xinf_log_level_t) 99), "?");

    CHECK_INT (xinf_log_get_level (), XINF_LOG_INFO);       //  the default
    xinf_log_set_level (XINF_LOG_ERROR);
    CHECK_INT (xinf_log_get_level (), XINF_LOG_ERROR);
    xinf_log_set_level ((xinf_log_level_t) 42);              //  ignored
    CHECK_INT (xinf_log_get_level (), XINF_LOG_ERROR);
    xinf_log_set_level (XINF_LOG_INFO);
}

// ---- capturing stderr ------------------------------------------------------

static int s_saved_stderr = -1;
static FILE *s_capture;

static void
s_capture_start (void)
{
    fflush (stderr);
    s_capture = tmpfile ();
    CHECK (s_capture);
    s_saved_stderr = dup (STDERR_FILENO);
    CHECK (s_saved_stderr >= 0);
    CHECK (dup2 (fileno (s_capture), STDERR_FILENO) >= 0);
}

//  Restores stderr and returns what was written (caller frees).
static char *
s_capture_end (void)
{
    fflush (stderr);
    CHECK (dup2 (s_saved_stderr, STDERR_FILENO) >= 0);
    close (s_saved_stderr);
    fseek (s_capture, 0, SEEK_END);
    long size = ftell (s_capture);
    rewind (s_capture);
    char *text = calloc (1, (size_t) size + 1);
    CHECK (text);
    CHECK (fread (text, 1, (size_t) size, s_capture) == (size_t) size);
    fclose (s_capture);
    return text;
}

static size_t
s_count_lines (const char *text)
{
    size_t lines = 0;
    for (; *text; text++)
        lines += *text == '\n';
    return lines;
}

//  "2026-11-24T16:20:00.123Z " at the start of 'line'
static bool
s_has_timestamp (const char *line)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t index = 0; shape [index]; index++) {
        if (shape [index] == 'd' ? !isdigit ((unsigned char) line [index]) : line [index] != shape [index])
            return false;
    }
    return true;
}

static void
test_format (void)
{
    s_capture_start ();
    xinf_info ("node", "listening endpoint=%s port=%d", "tcp://0.0.0.0:9997", 9997);
    xinf_error ("router", "two\nlines\tand a tab");
    xinf_log (XINF_LOG_WARN, NULL, "no component");
    char *text = s_capture_end ();
    CHECK_INT (s_count_lines (text), 3);
    char *second = strchr (text, '\n') + 1;
    char *third = strchr (second, '\n') + 1;
    CHECK (s_has_timestamp (text));
    CHECK (s_has_timestamp (second));
    CHECK (s_has_timestamp (third));
    CHECK (strncmp (text + 25, "INFO  node: listening endpoint=tcp://0.0.0.0:9997 port=9997\n", 60) == 0);
    CHECK (strncmp (second + 25, "ERROR router: two lines and a tab\n", 34) == 0);
    CHECK (strncmp (third + 25, "WARN  -: no component\n", 22) == 0);
    free (text);
}

static void
test_threshold_and_counters (void)
{
    uint64_t warnings = xinf_log_warnings ();
    uint64_t errors = xinf_log_errors ();
    s_capture_start ();
    xinf_log_set_level (XINF_LOG_WARN);
    xinf_debug ("test", "dropped debug");
    xinf_info ("test", "dropped info");
    xinf_warn ("test", "kept warn");
    xinf_error ("test", "kept error");
    xinf_log_set_level (XINF_LOG_OFF);
    xinf_warn ("test", "silent warn");
    xinf_error ("test", "silent error");
    xinf_log (XINF_LOG_OFF, "test", "never a line");
    xinf_log_set_level (XINF_LOG_TRACE);
    xinf_trace ("test", "kept trace");
    xinf_log_set_level (XINF_LOG_INFO);
    char *text = s_capture_end ();
    CHECK_INT (s_count_lines (text), 3);
    CHECK_HAS (text, "WARN  test: kept warn");
    CHECK_HAS (text, "ERROR test: kept error");
    CHECK_HAS (text, "TRACE test: kept trace");
    CHECK (!strstr (text, "dropped"));
    CHECK (!strstr (text, "silent"));
    CHECK (!strstr (text, "never"));
    free (text);
    //  Counted whether written or not
    CHECK_INT (xinf_log_warnings () - warnings, 2);
    CHECK_INT (xinf_log_errors () - errors, 2);

    //  A very long message is cut, still one line
    char long_text [5000];
    memset (long_text, 'x', sizeof long_text - 1);
    long_text [sizeof long_text - 1] = 0;
    s_capture_start ();
    xinf_info ("test", "%s", long_text);
    text = s_capture_end ();
    CHECK_INT (s_count_lines (text), 1);
    CHECK (strlen (text) < 2200);
    free (text);
}

#define THREADS 4
#define LINES   300

static void *
s_logger (void *arg)
{
    int index = (int) (intptr_t) arg;
    for (int line = 0; line < LINES; line++)
        xinf_warn ("thread", "index=%d line=%d padding=%s", index, line,
                   "................................................................");
    return NULL;
}

static void
test_threads (void)
{
    uint64_t warnings = xinf_log_warnings ();
    s_capture_start ();
    pthread_t threads [THREADS];
    for (int index = 0; index < THREADS; index++)
        CHECK (pthread_create (&threads [index], NULL, s_logger, (void *) (intptr_t) index) == 0);
    for (int index = 0; index < THREADS; index++)
        pthread_join (threads [index], NULL);
    char *text = s_capture_end ();
    CHECK_INT (xinf_log_warnings () - warnings, THREADS * LINES);
    CHECK_INT (s_count_lines (text), THREADS * LINES);
    //  Every line whole: a timestamp, the tag, the fields, the padding
    int seen [THREADS] = { 0 };
    for (char *line = text; *line; line = strchr (line, '\n') + 1) {
        CHECK (s_has_timestamp (line));
        int index, number;
        char padding [80];
        CHECK_INT (sscanf (line + 25, "WARN  thread: index=%d line=%d padding=%79s", &index, &number, padding), 3);
        CHECK (index >= 0 && index < THREADS);
        CHECK_INT (number, seen [index]);           //  in order per thread
        seen [index]++;
        CHECK_INT (strlen (padding), 64);
    }
    for (int index = 0; index < THREADS; index++)
        CHECK_INT (seen [index], LINES);
    free (text);
}

int
main (void)
{
    fprintf (stderr, "test_log\n");
    RUN (test_levels);
    RUN (test_format);
    RUN (test_threshold_and_counters);
    RUN (test_threads);
    return 0;
}
