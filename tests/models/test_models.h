/*  test_models.h: helpers shared by the models/ tests: a scratch
    directory, whole-file reads and a 64-bit FNV-1a hash.
*/
#ifndef TEST_MODELS_H_INCLUDED
#define TEST_MODELS_H_INCLUDED

#include "test_unit.h"
#include <sys/wait.h>
#include <unistd.h>

static char s_scratch [256];

//  A fresh directory under TMPDIR (or /tmp), removed by test_scratch_end.
static inline const char *
test_scratch_begin (void)
{
    const char *base = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (s_scratch, sizeof s_scratch, "%s/xinf-models-XXXXXX", base);
    CHECK (mkdtemp (s_scratch) != NULL);
    return s_scratch;
}

static inline void
test_scratch_end (void)
{
    char command [400];
    snprintf (command, sizeof command, "rm -rf '%s'", s_scratch);
    CHECK (system (command) == 0);
}

//  The path of 'name' in the scratch directory (a static buffer per call site).
static inline void
test_path (char *buffer, size_t size, const char *name)
{
    snprintf (buffer, size, "%s/%s", s_scratch, name);
}

//  Runs 'tool' (xinf-make-model) with 'arguments', writing 'name' in the
//  scratch directory (its path into 'path'); fails the test if it fails.
static inline void
test_make_with (const char *tool, const char *name, const char *arguments, char *path, size_t size)
{
    char command [1500];
    test_path (path, size, name);
    snprintf (command, sizeof command, "'%s' %s -o '%s' > /dev/null", tool, arguments, path);
    int status = system (command);
    CHECK (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static inline uint8_t *
test_read_file (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    CHECK (file != NULL);
    CHECK (fseek (file, 0, SEEK_END) == 0);
    long length = ftell (file);
    CHECK (length >= 0);
    rewind (file);
    uint8_t *data = malloc ((size_t) length + 1);
    CHECK (data != NULL);
    CHECK (fread (data, 1, (size_t) length, file) == (size_t) length);
    fclose (file);
    *size = (size_t) length;
    return data;
}

static inline void
test_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    CHECK (file != NULL);
    CHECK (fwrite (data, 1, size, file) == size);
    CHECK (fclose (file) == 0);
}

static inline uint64_t
test_hash (const uint8_t *data, size_t size)
{
    uint64_t hash = 14695981039346656037ull;
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ data [index]) * 1099511628211ull;
    return hash;
}

#endif
