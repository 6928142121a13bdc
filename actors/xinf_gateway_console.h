/*  xinf_gateway_console: the web console's files, served by the gateway.

    The files of web/ are compiled into the binary (web/xinf_web_embed.cmake
    makes a C array of each at build time), so an installed xinf-node needs
    no data directory and the page works without a network: nothing is
    loaded from elsewhere. Only the paths in the table are served ("/" and
    "/console/NAME"), so no URL can reach another file. They need no API
    key: the page asks for one and sends it with its API calls.
*/
#ifndef XINF_GATEWAY_CONSOLE_H_INCLUDED
#define XINF_GATEWAY_CONSOLE_H_INCLUDED

#include <stddef.h>

typedef struct {
    const char *path;                 //  "/" or "/console/NAME"
    const char *content_type;
    const char *etag;                 //  quoted, from the content's hash
    const unsigned char *data;
    size_t size;
} xinf_web_file_t;

//  The generated table, ended by a row whose path is NULL.
extern const xinf_web_file_t xinf_web_files [];

//  The file served at 'path' (exactly), or NULL.
const xinf_web_file_t *xinf_web_file_find (const char *path);

#endif
