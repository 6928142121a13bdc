/*  xinf_cli_table: aligned text tables, laid out as tools/xinf_client.py's
    _table does (each column as wide as its widest cell, two spaces
    between columns, no trailing spaces), so both clients print the same.  */
#ifndef XINF_CLI_TABLE_H_INCLUDED
#define XINF_CLI_TABLE_H_INCLUDED

#include <stdio.h>
#include <stddef.h>

typedef struct _xinf_cli_table_t xinf_cli_table_t;

//  A table with 'columns' headers (the strings are copied).
xinf_cli_table_t *xinf_cli_table_new (const char *const *headers, size_t columns);
void xinf_cli_table_destroy (xinf_cli_table_t **self_p);

//  Appends a row: one printf-formatted cell at a time; a row is complete
//  after 'columns' cells.
void xinf_cli_table_cell (xinf_cli_table_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Prints the headers and rows; nothing when there are no rows.
void xinf_cli_table_print (xinf_cli_table_t *self, FILE *out);
size_t xinf_cli_table_rows (xinf_cli_table_t *self);

#endif
