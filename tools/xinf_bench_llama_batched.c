/*  xinf_bench_llama_batched: llama.cpp's llama-batched-bench from a native
    build, run on the same file and threads as xinf's serving benchmarks,
    its JSON lines read into rows.
*/
#include "xinf_bench_llama_batched.h"

#include <limits.h>

//  The directory holding llama-batched-bench, or false when there is none.
bool
xinf_llama_batched_dir (xinf_config_t *config, const char *own_dir, char *dir, size_t size)
{
    const char *given = xinf_config_str (config, "llamacpp");
    if (given && streq (given, "off"))
        return false;
    char base [PATH_MAX + 64];
    snprintf (base, sizeof base, "%s", given ? given : "");
    if (!given)
        snprintf (base, sizeof base, "%s/../../tools/llamacpp/native", own_dir);
    const char *tails [] = { "", "/bin", "/build/bin" };
    for (size_t index = 0; index < 3; index++) {
        char program [PATH_MAX + 128];
        snprintf (program, sizeof program, "%s%s/llama-batched-bench", base, tails [index]);
        if (access (program, X_OK) == 0)
            return snprintf (dir, size, "%s%s", base, tails [index]) < (int) size;
    }
    if (given)
        fprintf (stderr, "xinf-bench-serve: no llama-batched-bench under %s (build it: sh tools/llamacpp/build-native.sh)\n", given);
    return false;
}

//  The number after "key": in a JSON line, or 0.
static double
s_json_number (const char *line, const char *key)
{
    char quoted [64];
    snprintf (quoted, sizeof quoted, "\"%s\":", key);
    const char *at = strstr (line, quoted);
    return at ? strtod (at + strlen (quoted), NULL) : 0;
}

//  Runs llama-batched-bench over the client counts; the rows it printed.
size_t
xinf_llama_batched_run (const char *dir, const char *model, const char *extra, int64_t threads, size_t prompt_length,
             size_t max_tokens, const size_t *counts, size_t count, xinf_llama_row_t *rows)
{
    char list [512] = "";
    size_t most = 1;
    for (size_t index = 0; index < count; index++) {
        size_t used = strlen (list);
        snprintf (list + used, sizeof list - used, "%s%zu", index ? "," : "", counts [index]);
        most = counts [index] > most ? counts [index] : most;
    }
    char command [PATH_MAX * 2 + 1024];
    size_t context = most * (prompt_length + max_tokens) + 16;
    snprintf (command, sizeof command, "'%s/llama-batched-bench' -m '%s' -t %lld -tb %lld -c %zu -b 2048 -ub 512 "
              "-npp %zu -ntg %zu -npl %s --output-format jsonl %s 2>&1", dir, model, (long long) threads,
              (long long) threads, context, prompt_length, max_tokens, list, extra ? extra : "");
    fprintf (stderr, "xinf-bench-serve: %s\n", command);
    FILE *pipe = popen (command, "r");
    size_t found = 0;
    char line [4096];
    while (pipe && fgets (line, sizeof line, pipe))
        if (line [0] == '{' && strstr (line, "\"speed_tg\"") && found < count) {
            xinf_llama_row_t *row = &rows [found++];
            row->clients = s_json_number (line, "pl");
            row->t_pp = s_json_number (line, "t_pp");
            row->t_tg = s_json_number (line, "t_tg");
            row->speed_pp = s_json_number (line, "speed_pp");
            row->speed_tg = s_json_number (line, "speed_tg");
            double total = row->t_pp + row->t_tg;
            row->gen_tok_s = total > 0 ? row->clients * (double) max_tokens / total : 0;
        }
        else
        if (strstr (line, "error") || strstr (line, "failed"))
            fprintf (stderr, "llama-batched-bench: %s", line);
    if (pipe && pclose (pipe) != 0)
        fprintf (stderr, "xinf-bench-serve: llama-batched-bench did not exit cleanly\n");
    return found;
}

