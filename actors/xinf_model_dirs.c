/*  xinf_model_dirs: where a worker may load model files from.  */
#include "xinf_model_dirs.h"
#include "xinf_check.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct _xinf_model_dirs_t {
    char **dirs;                       //  resolved, without a trailing '/' (except "/")
    size_t count;
};

xinf_model_dirs_t *
xinf_model_dirs_new (void)
{
    return calloc (1, sizeof (xinf_model_dirs_t));
}

void
xinf_model_dirs_destroy (xinf_model_dirs_t **self_p)
{
    if (self_p && *self_p) {
        xinf_model_dirs_t *self = *self_p;
        for (size_t index = 0; index < self->count; index++)
            free (self->dirs [index]);
        free (self->dirs);
        free (self);
        *self_p = NULL;
    }
}

int
xinf_model_dirs_add (xinf_model_dirs_t *self, const char *directory, char *error, size_t error_size)
{
    struct stat info;
    char *resolved = directory && *directory ? realpath (directory, NULL) : NULL;
    if (!resolved || stat (resolved, &info) || !S_ISDIR (info.st_mode)) {
        snprintf (error, error_size, "model directory '%s' is not an existing directory", directory ? directory : "");
        free (resolved);
        return -1;
    }
    char **dirs = realloc (self->dirs, (self->count + 1) * sizeof (char *));
    if (!dirs) {
        snprintf (error, error_size, "out of memory");
        free (resolved);
        return -1;
    }
    self->dirs = dirs;
    self->dirs [self->count++] = resolved;
    return 0;
}

size_t
xinf_model_dirs_count (xinf_model_dirs_t *self)
{
    return self->count;
}

const char *
xinf_model_dirs_at (xinf_model_dirs_t *self, size_t index)
{
    return index < self->count ? self->dirs [index] : NULL;
}

//  'file' (resolved) lies under 'dir' (resolved).
static bool
s_under (const char *dir, const char *file)
{
    size_t length = strlen (dir);
    if (length == 1 && dir [0] == '/')
        return file [0] == '/';
    return strncmp (dir, file, length) == 0 && file [length] == '/';
}

int
xinf_model_dirs_resolve (xinf_model_dirs_t *self, const char *path, char *resolved, size_t resolved_size,
                         char *error, size_t error_size)
{
    char *real = path && *path ? realpath (path, NULL) : NULL;
    struct stat info;
    bool allowed = real && stat (real, &info) == 0 && S_ISREG (info.st_mode) && strlen (real) < resolved_size;
    for (size_t index = 0; allowed && index < self->count; index++)
        if (s_under (self->dirs [index], real)) {
            snprintf (resolved, resolved_size, "%s", real);
            free (real);
            return 0;
        }
    free (real);
    xinf_textf (error, error_size, "model file '%.1024s' is not a file in this worker's model directories", path ? path : "");
    return -1;
}
