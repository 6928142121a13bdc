/*  xinf_model_dirs: the directories a worker loads model files from.

    A worker loads only files under its model directories (xinf-node
    --model-dir, repeatable; default: the directory the node started in).
    A launch's path is resolved with realpath, so neither ".." nor a
    symbolic link can lead out of them, and must name a regular file. A
    path outside every directory and a path that does not exist get the
    same answer, so that a client cannot learn what is on the worker's
    disk from the errors.

        xinf_model_dirs_t *dirs = xinf_model_dirs_new ();
        if (xinf_model_dirs_add (dirs, "/srv/models", error, sizeof error))
            ... no such directory
        char resolved [PATH_MAX];
        if (xinf_model_dirs_resolve (dirs, path, resolved, sizeof resolved, error, sizeof error))
            ... refuse the launch with 'error'

    Read-only after setup: the worker's threads may share one.
*/
#ifndef XINF_MODEL_DIRS_H_INCLUDED
#define XINF_MODEL_DIRS_H_INCLUDED

#include <stddef.h>

typedef struct _xinf_model_dirs_t xinf_model_dirs_t;

xinf_model_dirs_t *xinf_model_dirs_new (void);
void xinf_model_dirs_destroy (xinf_model_dirs_t **self_p);

//  Adds a directory (resolved now); 0, or -1 with the reason when it is
//  not an existing directory.
int xinf_model_dirs_add (xinf_model_dirs_t *self, const char *directory, char *error, size_t error_size);
size_t xinf_model_dirs_count (xinf_model_dirs_t *self);
//  The resolved directory 'index', or NULL.
const char *xinf_model_dirs_at (xinf_model_dirs_t *self, size_t index);

//  The real path of 'path' when it is a regular file under one of the
//  directories (0); otherwise -1 and the one error "model file 'PATH' is
//  not a file in this worker's model directories" (missing, outside,
//  not a regular file: the same words).
int xinf_model_dirs_resolve (xinf_model_dirs_t *self, const char *path, char *resolved, size_t resolved_size,
                             char *error, size_t error_size);

#endif
