/*  xinf_pda_build: a recursive grammar's rules analysed once, when its
    pushdown automaton is built (xinf_pda.h): each state's calls and
    whether it takes text, byte classes common to every rule, the depth
    of calls each state needs to be completed, and left recursion.  */
#include "xinf_pda.h"
#include "xinf_pda_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TEXT_END  0xF5              //  bytes from here are no UTF-8 text

//  Whether 'state' of 'rule' (its calls known up to 'state') only ends
//  the rule: it may end there, and no byte or call goes on from it.
static bool
s_final (const xinf_pda_rule_t *rule, uint32_t state)
{
    if (!xinf_regex_accepts (rule->dfa, state))
        return false;
    for (unsigned byte = 0; byte < 256; byte++)
        if (xinf_regex_next (rule->dfa, state, (unsigned char) byte))
            return false;
    return true;
}

//  A state's calls, for each state of 'rule'; false when out of memory
//  or a call names no rule.
static bool
s_calls (xinf_pda_rule_t *rule, size_t rule_count)
{
    size_t states = rule->dfa->states, count = 0, room = 0;
    rule->call_at = calloc (states + 2, sizeof (uint32_t));
    rule->onward = calloc (states + 1, 1);
    rule->need = calloc (states + 1, 1);
    if (!rule->call_at || !rule->onward || !rule->need)
        return false;
    for (uint32_t state = 1; state <= states; state++) {
        rule->call_at [state] = (uint32_t) count;
        for (unsigned lead = XINF_PDA_CALL_LEAD; lead <= 0xFF; lead++) {
            uint32_t inside = xinf_regex_next (rule->dfa, state, (unsigned char) lead);
            for (unsigned low = 0; inside && low <= 0xFF; low++) {
                uint32_t back = xinf_regex_next (rule->dfa, inside, (unsigned char) low);
                uint32_t callee = ((lead & 7u) << 8) | low;
                if (!back)
                    continue;
                if (callee == 0 || callee >= rule_count)
                    return false;
                if (count == room) {
                    room = room ? room * 2 : 16;
                    xinf_pda_call_t *calls = realloc (rule->calls, room * sizeof *calls);
                    if (!calls)
                        return false;
                    rule->calls = calls;
                }
                rule->calls [count++] = (xinf_pda_call_t) { callee, back, false };
            }
        }
    }
    rule->call_at [states + 1] = (uint32_t) count;
    for (size_t at = 0; at < count; at++)
        rule->calls [at].tail = s_final (rule, rule->calls [at].back);
    return true;
}

//  Each state's least need after a byte of text (once the needs are
//  known): where that passes the depth left, the state takes no text.
static void
s_onward (xinf_pda_rule_t *rule)
{
    for (uint32_t state = 0; state <= rule->dfa->states; state++) {
        uint8_t least = XINF_PDA_NEVER;
        for (unsigned byte = 0; byte < S_TEXT_END && state > 0; byte++) {
            uint32_t next = xinf_regex_next (rule->dfa, state, (unsigned char) byte);
            if (next && rule->need [next] < least)
                least = rule->need [next];
        }
        rule->onward [state] = least;
    }
}

//  Byte classes common to every rule's automaton: bytes in one class
//  step every automaton alike; class 0 is the bytes no text has.
static void
s_classes (xinf_pda_t *self)
{
    uint8_t *class = self->byte_class;
    memset (class, 0, 256);
    for (unsigned byte = 0; byte < S_TEXT_END; byte++)
        class [byte] = 1;
    self->classes = 2;
    for (size_t index = 0; index < self->rule_count; index++) {
        const uint8_t *own = self->rules [index].dfa->byte_class;
        uint8_t refined [256] = { 0 };
        size_t classes = 1;
        for (unsigned byte = 0; byte < S_TEXT_END; byte++) {
            unsigned same = 0;
            while (same < byte && !(class [same] == class [byte] && own [same] == own [byte]))
                same++;
            refined [byte] = same < byte ? refined [same] : (uint8_t) classes++;
        }
        memcpy (class, refined, 256);
        self->classes = classes;
    }
}

//  A reversed edge: a state that reaches this one by a text byte
//  (callee 0) or by a call of 'callee' that returns here (a tail call:
//  no frame of its own).
typedef struct {
    uint32_t from, callee;
    bool tail;
} s_edge_t;

typedef struct {
    size_t *first;                    //  [rule]: its states' first node
    size_t nodes;
    size_t *edge_at;                  //  [node], [node + 1]: its reversed edges' range
    s_edge_t *edges;
    uint8_t *need;                    //  [node]
    uint32_t *queue;
} s_graph_t;

//  Calls 'visit' (self, graph, from, to, callee) on each edge of every
//  rule's automaton, as nodes.
static void
s_each_edge (xinf_pda_t *self, s_graph_t *graph, void (*visit) (s_graph_t *, size_t, size_t, const xinf_pda_call_t *))
{
    for (size_t index = 0; index < self->rule_count; index++) {
        const xinf_pda_rule_t *rule = &self->rules [index];
        const xinf_regex_t *dfa = rule->dfa;
        bool text [256] = { false };
        for (unsigned byte = 0; byte < S_TEXT_END; byte++)
            text [dfa->byte_class [byte]] = true;
        for (uint32_t state = 1; state <= dfa->states; state++) {
            size_t from = graph->first [index] + state;
            for (size_t class = 0; class < dfa->classes; class++) {
                uint32_t to = dfa->table [state * dfa->classes + class];
                if (to && text [class])
                    visit (graph, from, graph->first [index] + to, NULL);
            }
            for (uint32_t at = rule->call_at [state]; at < rule->call_at [state + 1]; at++)
                visit (graph, from, graph->first [index] + rule->calls [at].back, &rule->calls [at]);
        }
    }
}

static void
s_count_edge (s_graph_t *graph, size_t from, size_t to, const xinf_pda_call_t *call)
{
    (void) from, (void) call;
    graph->edge_at [to + 1]++;
}

static void
s_add_edge (s_graph_t *graph, size_t from, size_t to, const xinf_pda_call_t *call)
{
    graph->edges [graph->edge_at [to]++] = (s_edge_t) { (uint32_t) from, call ? call->callee : 0,
                                                        call && call->tail };
}

//  One pass of a round of the depth search: every node that completes
//  with calls nested at most 'depth' deep gets that need (those of
//  rounds before kept; a tail call nests its callee no deeper, so a pass
//  may find more after a callee's start got its need in it); how many
//  are new.
static size_t
s_need_round (s_graph_t *graph, uint8_t depth)
{
    size_t head = 0, tail = 0, added = 0;
    for (size_t node = 0; node < graph->nodes; node++)
        if (graph->need [node] <= depth)
            graph->queue [tail++] = (uint32_t) node;
    while (head < tail) {
        size_t node = graph->queue [head++];
        for (size_t at = graph->edge_at [node]; at < graph->edge_at [node + 1]; at++) {
            s_edge_t edge = graph->edges [at];
            if (graph->need [edge.from] <= depth)
                continue;
            if (edge.callee) {
                uint8_t callee = graph->need [graph->first [edge.callee] + XINF_REGEX_START];
                if (edge.tail ? callee > depth : depth == 0 || callee > depth - 1)
                    continue;
            }
            graph->need [edge.from] = depth;
            graph->queue [tail++] = edge.from;
            added++;
        }
    }
    return added;
}

//  Each state's need: the fewest calls nested below it with which the
//  text can be completed (a bottleneck search, one round per depth).
static bool
s_needs (xinf_pda_t *self)
{
    s_graph_t graph = { .first = calloc (self->rule_count + 1, sizeof (size_t)) };
    for (size_t index = 0; graph.first && index < self->rule_count; index++)
        graph.first [index + 1] = graph.first [index] + self->rules [index].dfa->states + 1;
    graph.nodes = graph.first ? graph.first [self->rule_count] : 0;
    graph.edge_at = calloc (graph.nodes + 2, sizeof (size_t));
    graph.need = malloc (graph.nodes + 1);
    graph.queue = malloc ((graph.nodes + 1) * sizeof (uint32_t));
    bool good = graph.first && graph.edge_at && graph.need && graph.queue;
    if (good) {
        s_each_edge (self, &graph, s_count_edge);
        for (size_t node = 0; node < graph.nodes; node++)
            graph.edge_at [node + 1] += graph.edge_at [node];
        good = (graph.edges = malloc ((graph.edge_at [graph.nodes] + 1) * sizeof (s_edge_t))) != NULL;
    }
    if (good) {
        s_each_edge (self, &graph, s_add_edge);
        for (size_t node = graph.nodes; node > 0; node--)
            graph.edge_at [node] = graph.edge_at [node - 1];
        graph.edge_at [0] = 0;
        memset (graph.need, XINF_PDA_NEVER, graph.nodes);
        for (size_t index = 0; index < self->rule_count; index++)
            for (uint32_t state = 1; state <= self->rules [index].dfa->states; state++)
                if (xinf_regex_accepts (self->rules [index].dfa, state))
                    graph.need [graph.first [index] + state] = 0;
        for (uint8_t depth = 0; depth <= XINF_PDA_DEPTH_MAX; depth++) {
            size_t added = 0, pass;
            while ((pass = s_need_round (&graph, depth)) > 0)
                added += pass;
            if (added == 0 && depth > 0)
                break;
        }
        for (size_t index = 0; index < self->rule_count; index++)
            memcpy (self->rules [index].need, graph.need + graph.first [index],
                    self->rules [index].dfa->states + 1);
    }
    free (graph.first);
    free (graph.edge_at);
    free (graph.edges);
    free (graph.need);
    free (graph.queue);
    return good;
}

//  The states of 'rule' reached from its start with no byte (through
//  calls of rules that may match no text) into 'seen'; whether one may
//  end the rule. Each call met there marks calls [rule * count + callee].
static bool
s_empty_walk (const xinf_pda_t *self, size_t index, const bool *nullable, uint8_t *seen, uint32_t *stack,
              bool *calls)
{
    const xinf_pda_rule_t *rule = &self->rules [index];
    memset (seen, 0, rule->dfa->states + 1);
    size_t depth = 0;
    bool ends = false;
    stack [depth++] = XINF_REGEX_START;
    seen [XINF_REGEX_START] = 1;
    while (depth > 0) {
        uint32_t state = stack [--depth];
        ends = ends || xinf_regex_accepts (rule->dfa, state);
        for (uint32_t at = rule->call_at [state]; at < rule->call_at [state + 1]; at++) {
            xinf_pda_call_t call = rule->calls [at];
            if (calls)
                calls [index * self->rule_count + call.callee] = true;
            if (nullable [call.callee] && !seen [call.back]) {
                seen [call.back] = 1;
                stack [depth++] = call.back;
            }
        }
    }
    return ends;
}

//  Whether rule 'index' reaches itself on 'calls' (0 unseen, 1 on the
//  path, 2 done in 'mark'): the reason names it and the rule it calls.
static bool
s_left_cycle (const xinf_pda_t *self, const bool *calls, uint8_t *mark, size_t index, const char *const *names,
              char *error, size_t error_size)
{
    mark [index] = 1;
    for (size_t callee = 1; callee < self->rule_count; callee++) {
        if (!calls [index * self->rule_count + callee])
            continue;
        if (mark [callee] == 1 && callee == index)
            snprintf (error, error_size, "grammar: rule '%s' calls itself before any text: left recursion is not "
                      "supported (write it as a repetition, with * or +)", names [callee]);
        else
        if (mark [callee] == 1)
            snprintf (error, error_size, "grammar: rule '%s' can call itself before any text (through '%s'): left "
                      "recursion is not supported (write it as a repetition, with * or +)", names [callee],
                      names [index]);
        if (mark [callee] == 1)
            return true;
        if (mark [callee] == 0 && s_left_cycle (self, calls, mark, callee, names, error, error_size))
            return true;
    }
    mark [index] = 2;
    return false;
}

//  No rule calls itself before a byte of text.
static bool
s_no_left_recursion (xinf_pda_t *self, const char *const *names, char *error, size_t error_size)
{
    size_t count = self->rule_count, states = 0;
    for (size_t index = 0; index < count; index++)
        states = states > self->rules [index].dfa->states ? states : self->rules [index].dfa->states;
    bool *nullable = calloc (count, sizeof (bool));
    bool *calls = calloc (count * count, sizeof (bool));
    uint8_t *seen = malloc (states + 1), *mark = calloc (count, 1);
    uint32_t *stack = malloc ((states + 1) * sizeof (uint32_t));
    bool good = nullable && calls && seen && mark && stack;
    if (!good)
        snprintf (error, error_size, "grammar: out of memory");
    for (bool changed = good; changed; ) {
        changed = false;
        for (size_t index = 0; index < count; index++)
            if (!nullable [index] && s_empty_walk (self, index, nullable, seen, stack, NULL))
                nullable [index] = changed = true;
    }
    for (size_t index = 0; good && index < count; index++)
        s_empty_walk (self, index, nullable, seen, stack, calls);
    for (size_t index = 0; good && index < count; index++)
        if (mark [index] == 0 && s_left_cycle (self, calls, mark, index, names, error, error_size))
            good = false;
    free (nullable);
    free (calls);
    free (seen);
    free (mark);
    free (stack);
    return good;
}

xinf_pda_t *
xinf_pda_new (xinf_regex_t **rules, const char *const *names, size_t count, char *error, size_t error_size)
{
    xinf_pda_t *self = count > 0 && count <= XINF_PDA_RULES_MAX ? calloc (1, sizeof *self) : NULL;
    if (self)
        self->rules = calloc (count, sizeof *self->rules);
    if (self && self->rules) {
        self->rule_count = count;
        for (size_t index = 0; index < count; index++) {
            self->rules [index].dfa = rules [index];
            rules [index] = NULL;
        }
    }
    for (size_t index = 0; index < count; index++)
        xinf_regex_destroy (&rules [index]);
    snprintf (error, error_size, "grammar: out of memory");
    bool good = self && self->rules;
    for (size_t index = 0; good && index < count; index++) {
        xinf_pda_rule_t *rule = &self->rules [index];
        good = s_calls (rule, count);
        size_t states = rule->dfa->states;
        self->rule_bytes += xinf_regex_bytes (rule->dfa) + (states + 2) * sizeof (uint32_t) + 2 * (states + 1)
                          + (good ? rule->call_at [states + 1] * sizeof (xinf_pda_call_t) : 0);
    }
    if (good) {
        s_classes (self);
        self->frames = xinf_pda_grow (self, NULL, &self->frame_room, 64, sizeof *self->frames);
        self->sets = xinf_pda_grow (self, NULL, &self->set_room, 64, sizeof *self->sets);
        self->work = malloc (XINF_PDA_CONFIGS_MAX * sizeof *self->work);
        good = self->frames && self->sets && self->work && s_needs (self);
    }
    for (size_t index = 0; good && index < count; index++)
        s_onward (&self->rules [index]);
    good = good && s_no_left_recursion (self, names, error, error_size);
    if (good && self->rules [0].need [XINF_REGEX_START] > XINF_PDA_DEPTH_MAX) {
        snprintf (error, error_size, "grammar: the root rule has no text whose rules nest at most %d calls deep "
                  "(a recursion with no way out?)", XINF_PDA_DEPTH_MAX);
        good = false;
    }
    if (good) {
        self->frames [0] = (xinf_pda_frame_t) { 0 };
        self->sets [0] = (xinf_pda_set_t) { 0 };
        self->start = xinf_pda_first (self);
        if (self->start != XINF_REGEX_START) {
            snprintf (error, error_size, "grammar: its first position has more than %d parses",
                      XINF_PDA_CONFIGS_MAX);
            good = false;
        }
    }
    if (!good)
        xinf_pda_destroy (&self);
    return self;
}
