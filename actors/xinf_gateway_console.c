/*  xinf_gateway_console: serves the web console's embedded files.

    GET or HEAD of a path in the table: 200 with the file, its
    Content-Type, an ETag and "Cache-Control: no-cache" (the browser keeps
    the file and asks each time whether it changed: a new binary's console
    is seen at once, an unchanged one costs a 304), or 304 when
    If-None-Match names the ETag. The headers forbid sniffing, framing and
    any script, style or connection that is not from this gateway.
*/
#include "xinf_gateway_private.h"
#include "xinf_gateway_console.h"

#define XINF_GW_CONSOLE_POLICY \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const xinf_web_file_t *
xinf_web_file_find (const char *path)
{
    for (const xinf_web_file_t *file = xinf_web_files; path && file->path; file++)
        if (streq (file->path, path))
            return file;
    return NULL;
}

//  True when the request's If-None-Match lists the file's ETag (or is *).
static bool
s_not_modified (xinf_gw_request_t *request, const xinf_web_file_t *file)
{
    const char *match = MHD_lookup_connection_value (request->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_IF_NONE_MATCH);
    return match && (streq (match, "*") || strstr (match, file->etag));
}

void
xinf_gw_console_respond (xinf_gw_request_t *request, const char *path)
{
    const xinf_web_file_t *file = xinf_web_file_find (path);
    assert (file);                    //  routed only when it is in the table
    bool same = s_not_modified (request, file);
    struct MHD_Response *response = MHD_create_response_from_buffer (same ? 0 : file->size, (void *) file->data,
                                                                     MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, file->content_type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_ETAG, file->etag);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "X-Frame-Options", "DENY");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header (response, "Content-Security-Policy", XINF_GW_CONSOLE_POLICY);
    xinf_gw_respond_response (request, same ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, response);
}
