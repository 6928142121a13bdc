/*  xinf_gateway_llama: llama-server's own endpoints for generating, POST
    /completion and POST /infill (protocols/http.md), over the
    completions' GENERATE: the body read as llama-server reads it, its
    answer in llama-server's shape. Private to the gateway.
*/
#ifndef XINF_GATEWAY_LLAMA_H_INCLUDED
#define XINF_GATEWAY_LLAMA_H_INCLUDED

#include "xinf_gateway_private.h"

//  llama-server's sampling defaults (also GET /props').
#define XINF_GW_LLAMA_TEMPERATURE  0.8
#define XINF_GW_LLAMA_TOP_K        40
#define XINF_GW_LLAMA_TOP_P        0.95
#define XINF_GW_LLAMA_MIN_P        0.05

//  Reads a /completion or /infill body into request->oai and sets the
//  request's shape; -1 with the 400 in 'error'.
int xinf_gw_llama_parse (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error);

extern const xinf_gw_shape_t xinf_gw_llama_shape;

#endif
