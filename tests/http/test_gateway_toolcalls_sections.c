/*  test_gateway_toolcalls_sections: DeepSeek's and Kimi K2's tool calls in
    the gateway, in-process.

    The parser on outputs as DeepSeek R1/V3 (```json fences), V3.1 (JSON
    after <｜tool▁sep｜>) and Kimi K2 (functions.NAME:IDX) write them, and
    as llama.cpp's tests of those parsers give them: one call, two, text
    around them, Kimi's bare calls and its ids; every output fed whole,
    cut at every byte into two pieces, into three, and byte by byte gives
    the same content and calls, and the content streamed never holds a
    part of a marker. Bad calls (arguments that are no JSON object, bad
    names, no separator, unterminated sections) come back as content as
    written; random text with the markers never crashes and its pieces
    agree. The format chosen for the stock templates of tests/templates/
    data (argv[1]); the tools described for DeepSeek's templates, which
    render none, and such chats through the gateway's renderer (calls and
    results rendered by the template); Kimi K2's thought ended by a call
    begun inside it.
*/
#define S_WATCHED { "<\xef\xbd\x9c" "tool", "<|tool_call", NULL }
#include "test_toolcalls.h"
#include "xinf_gateway_tools.h"
#include "xinf_gateway_reasoning.h"
#include "xinf_gateway_chat.h"

#define BAR         "\xef\xbd\x9c"
#define LOW         "\xe2\x96\x81"
#define CALLS       "<" BAR "tool" LOW "calls" LOW "begin" BAR ">"
#define CALLS_END   "<" BAR "tool" LOW "calls" LOW "end" BAR ">"
#define CALL        "<" BAR "tool" LOW "call" LOW "begin" BAR ">"
#define CALL_END    "<" BAR "tool" LOW "call" LOW "end" BAR ">"
#define SEP         "<" BAR "tool" LOW "sep" BAR ">"
#define K_SECTION   "<|tool_calls_section_begin|>"
#define K_SECTION_END "<|tool_calls_section_end|>"
#define K_CALL      "<|tool_call_begin|>"
#define K_ARGS      "<|tool_call_argument_begin|>"
#define K_END       "<|tool_call_end|>"

static const xinf_gw_tool_format_t R1 = XINF_GW_TOOLS_DEEPSEEK_R1, V31 = XINF_GW_TOOLS_DEEPSEEK_V31,
                                   KIMI = XINF_GW_TOOLS_KIMI_K2;

//  Call 'index': its name, arguments and, unless NULL, its id.
static void
s_check_call (const s_result_t *result, size_t index, const char *name, const char *arguments, const char *id)
{
    json_t *call = json_array_get (result->calls, index);
    CHECK (call != NULL);
    CHECK_STR (json_string_value (json_object_get (call, "type")), "function");
    const char *given = json_string_value (json_object_get (call, "id"));
    if (id)
        CHECK_STR (given, id);
    else
        CHECK (given && strncmp (given, "call_", 5) == 0 && strlen (given) == 29);
    json_t *function = json_object_get (call, "function");
    CHECK_STR (json_string_value (json_object_get (function, "name")), name);
    CHECK_STR (json_string_value (json_object_get (function, "arguments")), arguments);
}

static void
s_test_deepseek_v31 (void)
{
    //  llama.cpp's test: one call, the whole section
    const char *one = CALLS CALL "get_time" SEP "{\"city\": \"XYZCITY\"}" CALL_END CALLS_END;
    s_result_t result = s_parse (V31, one);
    CHECK_STR (result.content, "");
    CHECK_INT (json_array_size (result.calls), 1);
    s_check_call (&result, 0, "get_time", "{\"city\": \"XYZCITY\"}", NULL);
    s_result_free (&result);
    s_check_splits (V31, one);
    //  Text before, two calls, nested values and Unicode kept as written, text after
    const char *two = "CONTENT" CALLS CALL "get_time" SEP "{\"city\": \"S\xc3\xa3o Paulo \xe5\xa4\xa9\", \"n\": 1e16}"
                      CALL_END CALL "get_weather" SEP " {\"q\": {\"a\": [1, \"}\"]}} " CALL_END CALLS_END " done";
    result = s_parse (V31, two);
    CHECK_STR (result.content, "CONTENT done");
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "get_time", "{\"city\": \"S\xc3\xa3o Paulo \xe5\xa4\xa9\", \"n\": 1e16}", NULL);
    s_check_call (&result, 1, "get_weather", "{\"q\": {\"a\": [1, \"}\"]}}", NULL);
    s_result_free (&result);
    s_check_splits (V31, two);
    result = s_parse_cuts (V31, two, strlen (two), NULL, 0, false, false);      //  parallel_tool_calls false
    CHECK_INT (json_array_size (result.calls), 1);
    s_result_free (&result);
    //  llama.cpp's optional pieces: no <｜tool▁call▁begin｜>, no last call end, no section end
    result = s_parse (V31, CALLS "noop" SEP "{}" CALL_END CALL "f" SEP "{\"a\": 1}");
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "noop", "{}", NULL);
    s_check_call (&result, 1, "f", "{\"a\": 1}", NULL);
    s_result_free (&result);
    //  A section opened by a spelling llama.cpp also takes
    result = s_parse (V31, "<" BAR "tool_calls_begin" BAR ">" CALL "f" SEP "{}" CALL_END CALLS_END);
    CHECK_INT (json_array_size (result.calls), 1);
    s_result_free (&result);
    //  No call at all: text with pieces of markers is content
    const char *plain = "a <" BAR "tool" LOW " and " CALL " and <" BAR "tool" LOW "calls";
    result = s_parse (V31, plain);
    CHECK_STR (result.content, plain);
    CHECK_INT (json_array_size (result.calls), 0);
    s_result_free (&result);
    s_check_splits (V31, plain);
}

static void
s_test_deepseek_r1 (void)
{
    //  R1's template: type, name, a fenced JSON object
    const char *one = CALLS CALL "function" SEP "get_weather\n```json\n{\"city\": \"Paris\"}\n```" CALL_END CALLS_END;
    s_result_t result = s_parse (R1, one);
    CHECK_STR (result.content, "");
    CHECK_INT (json_array_size (result.calls), 1);
    s_check_call (&result, 0, "get_weather", "{\"city\": \"Paris\"}", NULL);
    s_result_free (&result);
    s_check_splits (R1, one);
    //  llama.cpp's test (no newline before the closing fence), two calls
    //  as llama.cpp's R1 template joins them ("\n"), text before
    const char *two = "Let me see." CALLS CALL "function" SEP "special_function\n```json\n{\"arg1\": 1}```" CALL_END "\n"
                      CALL "function" SEP "noop \r\n```json\n{}\n```  \n" CALL_END CALLS_END;
    result = s_parse (R1, two);
    CHECK_STR (result.content, "Let me see.");
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "special_function", "{\"arg1\": 1}", NULL);
    s_check_call (&result, 1, "noop", "{}", NULL);
    s_result_free (&result);
    s_check_splits (R1, two);
    //  Either DeepSeek format reads the other's calls
    result = s_parse (R1, CALLS CALL "f" SEP "{\"x\": true}" CALL_END CALLS_END);
    s_check_call (&result, 0, "f", "{\"x\": true}", NULL);
    s_result_free (&result);
    result = s_parse (V31, one);
    s_check_call (&result, 0, "get_weather", "{\"city\": \"Paris\"}", NULL);
    s_result_free (&result);
}

static void
s_test_kimi (void)
{
    //  llama.cpp's tests: one call, its id the model's
    const char *one = K_SECTION K_CALL "functions.special_function:0" K_ARGS "{\"arg1\": 1}" K_END K_SECTION_END;
    s_result_t result = s_parse (KIMI, one);
    CHECK_STR (result.content, "");
    CHECK_INT (json_array_size (result.calls), 1);
    s_check_call (&result, 0, "special_function", "{\"arg1\": 1}", "functions.special_function:0");
    s_result_free (&result);
    s_check_splits (KIMI, one);
    //  Text first, three calls, the third with markup in a string
    const char *three = "Hello, world!\nWhat's up?" K_SECTION
                        K_CALL "functions.special_function:0" K_ARGS "{\"arg1\": 1}" K_END
                        K_CALL "functions.python:1" K_ARGS "{\"code\": \"def hello():\\n    print(\\\"hi\\\")\"}" K_END
                        K_CALL "functions.html:2" K_ARGS "{\"markup\": \"<p>test</p>\"}" K_END K_SECTION_END;
    result = s_parse (KIMI, three);
    CHECK_STR (result.content, "Hello, world!\nWhat's up?");
    CHECK_INT (json_array_size (result.calls), 3);
    s_check_call (&result, 0, "special_function", "{\"arg1\": 1}", "functions.special_function:0");
    s_check_call (&result, 1, "python", "{\"code\": \"def hello():\\n    print(\\\"hi\\\")\"}", "functions.python:1");
    s_check_call (&result, 2, "html", "{\"markup\": \"<p>test</p>\"}", "functions.html:2");
    s_result_free (&result);
    s_check_splits (KIMI, three);
    //  Bare calls, no section and no ends (llama.cpp's "real life" test)
    const char *bare = K_CALL "functions.execute_command:0" K_ARGS "{\"command\": \"ls -lah\", \"timeout\": 10}"
                       K_CALL "functions.python:1" K_ARGS "{\"code\": \"print('hey')\"}";
    result = s_parse (KIMI, bare);
    CHECK_STR (result.content, "");
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "execute_command", "{\"command\": \"ls -lah\", \"timeout\": 10}",
                  "functions.execute_command:0");
    s_check_call (&result, 1, "python", "{\"code\": \"print('hey')\"}", "functions.python:1");
    s_result_free (&result);
    s_check_splits (KIMI, bare);
    //  An id without "functions." or the index names the call but is not
    //  kept; a repeated id gets a new one
    result = s_parse (KIMI, K_SECTION K_CALL "get_weather" K_ARGS "{}" K_CALL " functions.f:3 " K_ARGS "{}" K_END
                      K_CALL "functions.f:3" K_ARGS "{}" K_SECTION_END);
    CHECK_INT (json_array_size (result.calls), 3);
    s_check_call (&result, 0, "get_weather", "{}", NULL);
    s_check_call (&result, 1, "f", "{}", "functions.f:3");
    s_check_call (&result, 2, "f", "{}", NULL);
    s_result_free (&result);
}

//  Bad calls: the section (or what is left of it) comes back as written.
static void
s_test_bad (void)
{
    static const struct { xinf_gw_tool_format_t format; const char *text; } bad [] = {
        { V31, CALLS CALL "f" SEP "{not json}" CALL_END CALLS_END },
        { V31, CALLS CALL "f" SEP "[1, 2]" CALL_END CALLS_END },
        { V31, CALLS CALL "bad name" SEP "{}" CALL_END CALLS_END },
        { V31, CALLS CALL "" SEP "{}" CALL_END CALLS_END },
        { V31, CALLS CALL "f" "{}" CALL_END CALLS_END },                        //  no separator
        { V31, CALLS CALL "f" SEP "{} trailing" CALL_END CALLS_END },
        { V31, CALLS CALL "f" SEP "{}" CALL "g" SEP "{}" CALL_END CALLS_END },  //  a call end missing between
        { V31, CALLS CALLS_END },                                               //  an empty section
        { V31, CALLS CALL "f" SEP "{\"a\": " },                                 //  cut off
        { V31, CALLS CALL "f\xc3" SEP "{}" CALLS_END },
        { R1, CALLS CALL "function" SEP "f\n{\"a\": 1}" CALL_END CALLS_END },  //  no fence
        { R1, CALLS CALL "function" SEP "f\n```json\n{\"a\": 1}\n" CALL_END CALLS_END },
        { R1, CALLS CALL "tool" SEP "f\n```json\n{}\n```" CALL_END CALLS_END }, //  a type but "function"
        { R1, CALLS CALL "function" SEP "f" CALL_END CALLS_END },
        { KIMI, K_SECTION K_CALL "functions.f:0" K_ARGS "{oops}" K_END K_SECTION_END },
        { KIMI, K_SECTION K_CALL "functions.:0" K_ARGS "{}" K_END K_SECTION_END },
        { KIMI, K_SECTION K_CALL "functions.f:0" "{}" K_END K_SECTION_END },   //  no argument marker
        { KIMI, K_SECTION "functions.f:0" K_ARGS "{}" K_END K_SECTION_END },   //  no call marker
        { KIMI, K_SECTION K_CALL "functions.f:0" K_ARGS "\"text\"" K_END K_SECTION_END },
        { KIMI, K_CALL "functions.f:0" K_ARGS "{} and then text" },
        { KIMI, K_SECTION K_SECTION_END },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        s_result_t result = s_parse (bad [index].format, bad [index].text);
        if (json_array_size (result.calls) || strcmp (result.content, bad [index].text))
            printf ("bad call %zu parsed: '%s', %zu calls\n", index, result.content, json_array_size (result.calls));
        CHECK_INT (json_array_size (result.calls), 0);
        CHECK_STR (result.content, bad [index].text);
        s_result_free (&result);
    }
    //  A bad section between good ones: those are calls
    s_result_t result = s_parse (KIMI, K_SECTION K_CALL "functions.a:0" K_ARGS "{}" K_SECTION_END "x"
                                 K_SECTION K_CALL "functions.b:1" K_ARGS "{" K_SECTION_END
                                 K_SECTION K_CALL "functions.c:2" K_ARGS "{}" K_SECTION_END);
    CHECK_INT (json_array_size (result.calls), 2);
    CHECK_STR (result.content, "x" K_SECTION K_CALL "functions.b:1" K_ARGS "{" K_SECTION_END);
    s_result_free (&result);
    //  Over 1 MiB in a section: content from its marker on
    size_t filler = (1 << 20) + 100;
    char *text = malloc (filler + 200);
    int head = sprintf (text, CALLS CALL "big" SEP "{\"data\": \"");
    memset (text + head, 'x', filler);
    strcpy (text + head + filler, "\"}" CALL_END CALLS_END);
    size_t cuts [3] = { 9, 5000, head + filler - 3 };
    result = s_parse_cuts (V31, text, strlen (text), cuts, 3, true, false);
    CHECK_INT (json_array_size (result.calls), 0);
    CHECK_STR (result.content, text);
    s_result_free (&result);
    free (text);
}

//  Random text of markers and JSON pieces: no crash, pieces agree.
static void
s_test_garbage (void)
{
    const char *parts [] = { CALLS, CALLS_END, CALL, CALL_END, SEP, K_SECTION, K_SECTION_END, K_CALL, K_ARGS, K_END,
                             "functions.", "f", ":0", "function", "\n```json\n", "```", "{", "}", "{}", "\"a\": 1",
                             "{\"x\": [1, \"}\"]}", " ", "\n", "<", "<" BAR, "<|tool_", "\xc3\xa9", "\"", ",", "x",
                             CALLS CALL "f" SEP "{}" CALL_END, CALL "function" SEP "g\n```json\n{\"a\": 1}\n```" CALL_END,
                             K_SECTION K_CALL "functions.f:0" K_ARGS "{}" K_END, K_CALL "functions.g:1" K_ARGS "{\"b\": 2}" };
    size_t calls = 0;
    for (int round = 0; round < 3000; round++) {
        char text [1024] = "";
        size_t count = (size_t) randof (18);
        for (size_t index = 0; index < count; index++)
            strcat (text, parts [randof (sizeof parts / sizeof parts [0])]);
        xinf_gw_tool_format_t format = round % 3 == 0 ? R1 : round % 3 == 1 ? V31 : KIMI;
        s_result_t whole = s_parse (format, text);
        size_t size = strlen (text), cuts [3] = { 0, 0, 0 };
        for (size_t index = 0; index < 3 && size > 1; index++)
            cuts [index] = (size_t) randof ((int) size);
        for (size_t a = 0; a < 3; a++)
            for (size_t b = a + 1; b < 3; b++)
                if (cuts [b] < cuts [a]) {
                    size_t swap = cuts [a];
                    cuts [a] = cuts [b];
                    cuts [b] = swap;
                }
        s_result_t split = s_parse_cuts (format, text, size, cuts, size > 1 ? 3 : 0, true, false);
        CHECK (s_same (&whole, &split));
        calls += json_array_size (whole.calls);
        s_result_free (&whole);
        s_result_free (&split);
    }
    printf ("garbage: 3000 random texts, %zu calls among them, pieces agree with the whole\n", calls);
}

static char *
s_read (const char *directory, const char *name)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/%s", directory, name);
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "cannot read %s\n", path);
        exit (1);
    }
    char *text = calloc (1, 1 << 20);
    size_t size = fread (text, 1, (1 << 20) - 1, file);
    fclose (file);
    text [size] = 0;
    return text;
}

//  The format and whether tools render, chosen from the stock templates.
static void
s_test_format_of (const char *directory)
{
    static const struct { const char *file; xinf_gw_tool_format_t format; bool supports; } expected [] = {
        { "deepseek-ai-DeepSeek-V3.1.jinja", XINF_GW_TOOLS_DEEPSEEK_V31, false },
        { "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", XINF_GW_TOOLS_DEEPSEEK_R1, false },
        { "llama-cpp-deepseek-r1.jinja", XINF_GW_TOOLS_DEEPSEEK_R1, true },
        { "moonshotai-Kimi-K2.jinja", XINF_GW_TOOLS_KIMI_K2, true },
        { "Kimi-K2-Thinking.jinja", XINF_GW_TOOLS_KIMI_K2, true },
        { "zai-org-GLM-4.6.jinja", XINF_GW_TOOLS_GLM45, true },
        { "GLM-4.7-Flash.jinja", XINF_GW_TOOLS_GLM45, true },
        { "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", XINF_GW_TOOLS_DEEPSEEK_R1, false },
        { "Qwen-Qwen3-0.6B.jinja", XINF_GW_TOOLS_HERMES, true },
    };
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++) {
        char *source = s_read (directory, expected [index].file);
        bool supports;
        xinf_gw_tool_format_t format = xinf_gw_tool_format_of (source, &supports);
        if (format != expected [index].format || supports != expected [index].supports)
            printf ("%s: format %s, supports %d\n", expected [index].file, xinf_gw_tool_format_name (format), supports);
        CHECK (format == expected [index].format && supports == expected [index].supports);
        free (source);
    }
    CHECK_STR (xinf_gw_tool_format_name (R1), "deepseek_r1");
    CHECK_STR (xinf_gw_tool_format_name (V31), "deepseek_v3_1");
    CHECK_STR (xinf_gw_tool_format_name (KIMI), "kimi_k2");
    CHECK (xinf_gw_tools_describes (R1) && xinf_gw_tools_describes (V31) && !xinf_gw_tools_describes (KIMI)
           && !xinf_gw_tools_describes (XINF_GW_TOOLS_HERMES));
}

//  DeepSeek's templates get the tools in the system message in their
//  format; calls keep their place; arguments as text for R1's.
static void
s_test_described (void)
{
    json_error_t error;
    json_t *tools = json_loads ("[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
                                "\"Weather \xc3\xa9\", \"parameters\": {\"type\": \"object\", \"properties\": "
                                "{\"city\": {\"type\": \"string\"}}}}}, {\"type\": \"function\", \"function\": "
                                "{\"name\": \"noop\"}}]", 0, &error);
    json_t *messages = json_loads ("[{\"role\": \"system\", \"content\": \"Be terse.\"}, {\"role\": \"user\", "
                                   "\"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": "
                                   "[{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
                                   "\"arguments\": {\"city\": \"Paris\"}}}]}]", 0, &error);
    CHECK (tools && messages);
    json_t *v31 = xinf_gw_tools_described (messages, tools, V31);
    CHECK_INT (json_array_size (v31), 3);
    const char *system = json_string_value (json_object_get (json_array_get (v31, 0), "content"));
    const char *v31_head = "Be terse.\n\n## Tools\nYou have access to the following tools:\n\n### get_weather\n"
                           "Description: Weather \xc3\xa9\n\nParameters: {\"type\": \"object\", \"properties\": "
                           "{\"city\": {\"type\": \"string\"}}}\n\n### noop\nDescription: \n\nParameters: {}\n\n"
                           "IMPORTANT:";
    CHECK (strncmp (system, v31_head, strlen (v31_head)) == 0);
    CHECK (strstr (system, CALLS CALL "tool_call_name" SEP "tool_call_arguments" CALL_END) != NULL);
    CHECK (json_equal (json_array_get (v31, 2), json_array_get (messages, 2)));
    json_t *user_only = json_pack ("[O]", json_array_get (messages, 1));          //  no system message
    json_t *r1 = xinf_gw_tools_described (user_only, tools, R1);
    json_decref (user_only);
    CHECK_INT (json_array_size (r1), 2);
    system = json_string_value (json_object_get (json_array_get (r1, 0), "content"));
    const char *r1_head = "You can call any of the following function tools to satisfy the user's requests: [\n"
                          "  {\n    \"name\": \"get_weather\",";
    CHECK (strncmp (system, r1_head, strlen (r1_head)) == 0);
    CHECK (strstr (system, "Example function tool call syntax:\n\n" CALLS CALL "function" SEP "example_function_name\n"
                   "```json\n{\n  \"arg1\": \"some_value\"\n  ...\n}\n```\n" CALL_END CALLS_END) != NULL);
    CHECK_STR (json_string_value (json_object_get (json_array_get (r1, 1), "role")), "user");
    json_t *strings = xinf_gw_tools_string_arguments (messages);
    json_t *arguments = json_object_get (json_object_get (json_array_get (json_object_get (
        json_array_get (strings, 2), "tool_calls"), 0), "function"), "arguments");
    CHECK_STR (json_string_value (arguments), "{\"city\": \"Paris\"}");
    CHECK (json_is_object (json_object_get (json_object_get (json_array_get (json_object_get (
        json_array_get (messages, 2), "tool_calls"), 0), "function"), "arguments")));      //  the original kept
    json_decref (strings);
    json_t *nulls = xinf_gw_tools_null_content (messages);           //  R1's template wants a null content
    CHECK (json_is_null (json_object_get (json_array_get (nulls, 2), "content")));
    CHECK_STR (json_string_value (json_object_get (json_array_get (messages, 2), "content")), "");
    CHECK_STR (json_string_value (json_object_get (json_array_get (nulls, 0), "content")), "Be terse.");
    json_decref (nulls);
    json_decref (r1);
    json_decref (v31);
    json_decref (messages);
    json_decref (tools);
}

//  A chat through the gateway's renderer with template 'file'; NULL when
//  refused (then a 400).
static char *
s_render (const char *directory, const char *file, const char *body, bool *fallback)
{
    char *source = s_read (directory, file);
    xinf_gw_chat_model_t model = { .uid = "m", .state = "ready", .chat_template = source,
                                   .bos_token = "<" BAR "begin" LOW "of" LOW "sentence" BAR ">",
                                   .eos_token = "<" BAR "end" LOW "of" LOW "sentence" BAR ">" };
    xinf_gw_error_t error;
    memset (&error, 0, sizeof error);
    json_t *root = xinf_gw_json_parse (body, strlen (body), &error);
    CHECK (root != NULL);
    xinf_gw_oai_t oai;
    CHECK (xinf_gw_oai_parse (root, true, &oai, &error) == 0);
    zhashx_t *warned = zhashx_new ();
    memset (&error, 0, sizeof error);
    char *prompt = xinf_gw_chat_render (warned, &model, &oai, true, fallback, &error);
    CHECK (prompt || error.status == 400);
    zhashx_destroy (&warned);
    xinf_gw_oai_clear (&oai);
    json_decref (root);
    free (source);
    return prompt;
}

#define ASK      "\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]"
#define HISTORY  "\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},{\"role\":\"assistant\"," \
                 "\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":" \
                 "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]}," \
                 "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]"
#define TOOLS    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":" \
                 "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]"

//  DeepSeek's templates through the gateway's renderer: tools described
//  in their format, not the Hermes fallback; calls rendered by the
//  template (R1's own with a null content and string arguments);
//  llama.cpp's R1 template, whose tools section fails in jinja2, gets
//  the description; Kimi's refuses a history of calls (list.append).
static void
s_test_render (const char *directory)
{
    bool fallback;
    char *prompt = s_render (directory, "deepseek-ai-DeepSeek-V3.1.jinja", "{\"model\":\"m\"," ASK "," TOOLS "}", &fallback);
    CHECK (prompt && !fallback && strstr (prompt, "## Tools\nYou have access to the following tools:\n\n### get_weather")
           && strstr (prompt, "<" BAR "User" BAR ">Weather in Paris?<" BAR "Assistant" BAR "><think></think>"));
    free (prompt);
    prompt = s_render (directory, "deepseek-ai-DeepSeek-V3.1.jinja", "{\"model\":\"m\"," ASK "," TOOLS
                       ",\"tool_choice\":\"none\"}", &fallback);
    CHECK (prompt && !fallback && !strstr (prompt, "get_weather"));
    free (prompt);
    prompt = s_render (directory, "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "{\"model\":\"m\"," HISTORY ","
                       TOOLS "}", &fallback);
    CHECK (prompt && !fallback && strstr (prompt, "You can call any of the following function tools")
           && strstr (prompt, "<" BAR "Assistant" BAR ">" CALLS CALL "function" SEP "get_weather\n```json\n"
                      "{\"city\": \"Paris\"}\n```" CALL_END)
           && strstr (prompt, "<" BAR "tool" LOW "output" LOW "begin" BAR ">sunny"));
    free (prompt);
    prompt = s_render (directory, "llama-cpp-deepseek-r1.jinja", "{\"model\":\"m\"," ASK "," TOOLS "}", &fallback);
    const char *described = prompt ? strstr (prompt, "You can call any of the following function tools") : NULL;
    CHECK (described && !fallback && !strstr (described + 1, "You can call any")
           && strstr (prompt, "<" BAR "Assistant" BAR "><think>\n"));
    free (prompt);
    prompt = s_render (directory, "Kimi-K2-Thinking.jinja", "{\"model\":\"m\"," ASK "," TOOLS "}", &fallback);
    CHECK (prompt && !fallback && strstr (prompt, "<|im_system|>tool_declare<|im_middle|>[{\"type\": \"function\""));
    free (prompt);
    prompt = s_render (directory, "Kimi-K2-Thinking.jinja", "{\"model\":\"m\"," HISTORY "," TOOLS "}", &fallback);
    CHECK (prompt == NULL);
}

//  Kimi K2's thought, ended by </think> or by a call begun inside it;
//  every cut gives the same parts.
static void
s_test_kimi_thought (void)
{
    const char *texts [] = {
        "<think>I need to call two functions" K_SECTION K_CALL "functions.f:0" K_ARGS "{}" K_END K_SECTION_END,
        "<think>I need" K_CALL "functions.f:0" K_ARGS "{}",
        "<think>plain</think>\n\nHello " K_SECTION,
        "<think>a <|tool_cal b</think>c",
    };
    const char *thoughts [] = { "I need to call two functions", "I need", "plain", "a <|tool_cal b" };
    const char *contents [] = { K_SECTION K_CALL "functions.f:0" K_ARGS "{}" K_END K_SECTION_END,
                                K_CALL "functions.f:0" K_ARGS "{}", "Hello " K_SECTION, "c" };
    for (size_t index = 0; index < sizeof texts / sizeof texts [0]; index++) {
        size_t size = strlen (texts [index]);
        for (size_t cut = 0; cut < size; cut++) {
            xinf_gw_reasoning_t reasoning;
            xinf_gw_reasoning_init (&reasoning, false, false);
            xinf_gw_reasoning_set_breaks (&reasoning, xinf_gw_tool_openers (KIMI));
            xinf_gw_buf_t thought = { 0 }, content = { 0 };
            xinf_gw_reasoning_feed (&reasoning, texts [index], cut, &thought, &content);
            xinf_gw_reasoning_feed (&reasoning, texts [index] + cut, size - cut, &thought, &content);
            xinf_gw_reasoning_flush (&reasoning, &thought, &content);
            xinf_gw_buf_add (&thought, "", 1);
            xinf_gw_buf_add (&content, "", 1);
            CHECK_STR (thought.data, thoughts [index]);
            CHECK_STR (content.data, contents [index]);
            xinf_gw_buf_free (&thought);
            xinf_gw_buf_free (&content);
            xinf_gw_reasoning_clear (&reasoning);
        }
    }
    //  The content then parses as Kimi's calls
    s_result_t result = s_parse (KIMI, contents [0]);
    s_check_call (&result, 0, "f", "{}", "functions.f:0");
    s_result_free (&result);
}

int
main (int argc, char *argv [])
{
    zsys_init ();
    srandom (17);
    if (argc < 2) {
        fprintf (stderr, "usage: test_gateway_toolcalls_sections TEMPLATES_DIR\n");
        return 2;
    }
    s_test_format_of (argv [1]);
    s_test_deepseek_v31 ();
    s_test_deepseek_r1 ();
    s_test_kimi ();
    s_test_bad ();
    s_test_garbage ();
    s_test_described ();
    s_test_render (argv [1]);
    s_test_kimi_thought ();
    printf ("PASS: tool calls: DeepSeek R1 and V3.1, Kimi K2, splits, bad calls, garbage, formats, descriptions, renders\n");
    return 0;
}
