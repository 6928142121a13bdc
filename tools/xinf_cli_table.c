/*  xinf_cli_table: aligned text tables.  */
#include "xinf_cli_table.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct _xinf_cli_table_t {
    size_t columns;
    char **cells;                 //  headers first, then rows, row by row
    size_t count, capacity;
};

static void
s_push (xinf_cli_table_t *self, char *cell)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 64;
        self->cells = realloc (self->cells, self->capacity * sizeof (char *));
        assert (self->cells);
    }
    self->cells [self->count++] = cell;
}

xinf_cli_table_t *
xinf_cli_table_new (const char *const *headers, size_t columns)
{
    xinf_cli_table_t *self = calloc (1, sizeof *self);
    assert (self);
    self->columns = columns;
    for (size_t index = 0; index < columns; index++)
        s_push (self, strdup (headers [index]));
    return self;
}

void
xinf_cli_table_destroy (xinf_cli_table_t **self_p)
{
    if (self_p && *self_p) {
        xinf_cli_table_t *self = *self_p;
        for (size_t index = 0; index < self->count; index++)
            free (self->cells [index]);
        free (self->cells);
        free (self);
        *self_p = NULL;
    }
}

void
xinf_cli_table_cell (xinf_cli_table_t *self, const char *format, ...)
{
    char *cell = NULL;
    va_list args;
    va_start (args, format);
    if (vasprintf (&cell, format, args) < 0)
        cell = strdup ("?");
    va_end (args);
    s_push (self, cell);
}

size_t
xinf_cli_table_rows (xinf_cli_table_t *self)
{
    return self->count / self->columns - 1;
}

void
xinf_cli_table_print (xinf_cli_table_t *self, FILE *out)
{
    if (xinf_cli_table_rows (self) == 0)
        return;
    size_t *widths = calloc (self->columns, sizeof (size_t));
    assert (widths);
    for (size_t index = 0; index < self->count; index++) {
        size_t length = strlen (self->cells [index]);
        if (length > widths [index % self->columns])
            widths [index % self->columns] = length;
    }
    size_t rows = self->count / self->columns;
    for (size_t row = 0; row < rows; row++) {
        //  The last cells of a row that are empty print nothing, not padding
        size_t last = self->columns;
        while (last > 1 && !*self->cells [row * self->columns + last - 1])
            last--;
        for (size_t column = 0; column < last; column++) {
            const char *cell = self->cells [row * self->columns + column];
            if (column + 1 < last)
                fprintf (out, "%-*s  ", (int) widths [column], cell);
            else
                fputs (cell, out);
        }
        fputc ('\n', out);
    }
    free (widths);
}
