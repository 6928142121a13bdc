/*  xinf_gateway_choices: several choices of one completion or chat (n).

    As vLLM does, n choices are n generations of the same prompt: the HTTP
    request generates choice 0 and owns a child request for each other,
    which sends its own GENERATE (with a seed, seed + its index) and reads
    its own tokens, stop strings, tool calls and log-probabilities exactly
    as a request alone does. Children have no connection: their chunks go
    into the parent's stream, their choices into its answer, and a failure
    of any choice fails the whole request (the others are cancelled). The
    replica's prefix cache shares the prompt's blocks among them.
*/
#include "xinf_gateway_reasoning.h"
#include "xinf_gateway_private.h"
#include "xinf_gateway_toolcalls.h"

xinf_gw_request_t *
xinf_gw_choices_top (xinf_gw_request_t *request)
{
    return request->parent ? request->parent : request;
}

//  A child for choice 'index': the parent's parsed request, shared (its
//  strings stay the parent's), with its own generation state.
static xinf_gw_request_t *
s_child_new (xinf_gw_request_t *parent, size_t index)
{
    xinf_gw_request_t *child = calloc (1, sizeof *child);
    assert (child);
    child->gateway = parent->gateway;
    child->route = parent->route;
    child->parent = parent;
    child->choice = index;
    child->begun = parent->begun;
    child->oai = parent->oai;
    if (parent->oai.has_seed)
        child->oai.seed = parent->oai.seed + index;     //  vLLM's: each choice its own seed
    child->context_length = parent->context_length;
    memcpy (child->id, parent->id, sizeof child->id);
    child->created = parent->created;
    xinf_gw_text_init (&child->text, parent->oai.stops, parent->oai.stop_count);
    child->text.include_stop = parent->oai.include_stop;
    if (parent->reasoning) {
        child->reasoning = malloc (sizeof (xinf_gw_reasoning_t));
        assert (child->reasoning);
        xinf_gw_reasoning_init (child->reasoning, parent->reasoning_open,
                                ((xinf_gw_reasoning_t *) parent->reasoning)->harmony);
        xinf_gw_reasoning_set_breaks (child->reasoning, ((xinf_gw_reasoning_t *) parent->reasoning)->breaks);
        child->reasoning_open = parent->reasoning_open;
    }
    if (parent->tool_parsing) {
        child->toolcalls = malloc (sizeof (xinf_gw_toolcalls_t));
        assert (child->toolcalls);
        xinf_gw_toolcalls_init (child->toolcalls, (xinf_gw_tool_format_t) parent->tool_format,
                                parent->oai.parallel_tool_calls);
        xinf_gw_toolcalls_set_tools (child->toolcalls, parent->oai.tools);
        child->tool_calls = json_array ();
        child->tool_parsing = true;
        child->tool_format = parent->tool_format;
    }
    return child;
}

void
xinf_gw_choices_spawn (xinf_gw_request_t *parent)
{
    parent->open_choices = parent->oai.n;
    if (parent->oai.n <= 1 || parent->children)
        return;
    parent->children = calloc (parent->oai.n - 1, sizeof (xinf_gw_request_t *));
    assert (parent->children);
    for (size_t index = 1; index < parent->oai.n; index++)
        parent->children [parent->child_count++] = s_child_new (parent, index);
}

bool
xinf_gw_choices_generating (const xinf_gw_request_t *request)
{
    bool any = request->generating;
    for (size_t index = 0; index < request->child_count; index++)
        any = any || request->children [index]->generating;
    return any;
}

bool
xinf_gw_choices_done (xinf_gw_request_t *request, json_t *choice)
{
    xinf_gw_request_t *top = xinf_gw_choices_top (request);
    top->choice_tokens += request->completion_tokens;
    if (request->prompt_tokens > top->prompt_tokens)
        top->prompt_tokens = request->prompt_tokens;        //  the same prompt: whichever choice counted it
    if (choice) {
        if (!top->choices) {                                //  a place for each choice, in index order
            top->choices = json_array ();
            for (size_t index = 0; index < top->oai.n || index == 0; index++)
                json_array_append_new (top->choices, json_null ());
        }
        json_array_set_new (top->choices, request->choice, choice);
    }
    if (top->open_choices > 0)
        top->open_choices--;
    return top->open_choices == 0;
}

json_t *
xinf_gw_choices_take (xinf_gw_request_t *parent)
{
    json_t *choices = parent->choices ? parent->choices : json_array ();
    parent->choices = NULL;
    return choices;
}

void
xinf_gw_choices_cancel (xinf_gw_request_t *parent, const char *label, const char *outcome)
{
    for (size_t index = 0; index < parent->child_count; index++) {
        xinf_gw_request_t *child = parent->children [index];
        if (child->generating && !child->ended) {
            child->ended = true;
            xinf_gw_metrics_end (child->gateway->metrics, label, outcome, child->prompt_tokens,
                                 child->completion_tokens);
        }
        xinf_gw_cancel (child);
        xinf_gw_call_forget (child);
    }
}

void
xinf_gw_choices_free (xinf_gw_request_t *parent)
{
    xinf_gw_choices_cancel (parent, parent->oai.model, "cancelled");
    for (size_t index = 0; index < parent->child_count; index++) {
        xinf_gw_request_t *child = parent->children [index];
        xinf_gw_generate_clear (child);
        xinf_gw_text_clear (&child->text);
        xinf_gw_buf_free (&child->output);
        xinf_gw_buf_free (&child->sse);
        free (child);                   //  its oai is the parent's, cleared with it
    }
    free (parent->children);
    parent->children = NULL;
    parent->child_count = 0;
    json_decref (parent->choices);
    parent->choices = NULL;
}
