/*  replay_main: runs a fuzz harness over files and directories (a corpus)
    without libFuzzer: every file once, in name order, then, with
    --mutations N, N deterministic mutations of each (bit flips, byte
    overwrites with edge values, truncations, duplicated runs), so that
    every build, not only a clang one, fuzzes a little. Exit 0 when all
    were fed (a crash or a sanitizer report ends the process earlier).  */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long s_mutations;
static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
s_next (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

//  One mutation of 'data' into 'out' (room for size * 2 + 16); its size.
static size_t
s_mutate (const uint8_t *data, size_t size, uint8_t *out)
{
    static const uint8_t edges [] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0xc0, 0xc1, 0xdd, 0xdf, 0xcf };
    memcpy (out, data, size);
    size_t length = size;
    int kind = (int) (s_next () % 4);
    size_t at = length ? (size_t) (s_next () % length) : 0;
    if (kind == 0 && length)
        out [at] ^= (uint8_t) (1u << (s_next () % 8));
    else
    if (kind == 1 && length)
        for (size_t count = 1 + s_next () % 4; count-- && at < length; at++)
            out [at] = edges [s_next () % sizeof edges];
    else
    if (kind == 2)
        length = at;
    else {
        size_t run = length ? 1 + (size_t) (s_next () % (length - at < 16 ? length - at : 16)) : 0;
        memmove (out + at + run, out + at, length - at);
        length += run;
    }
    return length;
}

static int
s_feed_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    uint8_t *data = malloc (size > 0 ? (size_t) size : 1);
    size_t got = size > 0 ? fread (data, 1, (size_t) size, file) : 0;
    fclose (file);
    LLVMFuzzerTestOneInput (data, got);
    uint8_t *mutant = malloc (got * 2 + 16);
    for (unsigned long index = 0; index < s_mutations; index++) {
        size_t length = s_mutate (data, got, mutant);
        LLVMFuzzerTestOneInput (mutant, length);
    }
    free (mutant);
    free (data);
    return 0;
}

static int
s_by_name (const struct dirent **a, const struct dirent **b)
{
    return strcmp ((*a)->d_name, (*b)->d_name);
}

static int
s_feed (const char *path, size_t *count)
{
    struct stat info;
    if (stat (path, &info))
        return fprintf (stderr, "replay: no such path %s\n", path), -1;
    if (!S_ISDIR (info.st_mode)) {
        (*count)++;
        return s_feed_file (path);
    }
    struct dirent **entries;
    int total = scandir (path, &entries, NULL, s_by_name);
    int rc = total < 0 ? -1 : 0;
    for (int index = 0; index < total; index++) {
        if (entries [index]->d_name [0] != '.' && rc == 0) {
            char child [4096];
            snprintf (child, sizeof child, "%s/%s", path, entries [index]->d_name);
            rc = s_feed (child, count);
        }
        free (entries [index]);
    }
    free (entries);
    return rc;
}

int
main (int argc, char *argv [])
{
    size_t count = 0;
    int first = 1;
    if (argc > 2 && strcmp (argv [1], "--mutations") == 0) {
        s_mutations = strtoul (argv [2], NULL, 10);
        first = 3;
    }
    for (int index = first; index < argc; index++)
        if (s_feed (argv [index], &count))
            return 1;
    printf ("replayed %zu inputs, %lu mutations each\n", count, s_mutations);
    return count ? 0 : 1;
}
