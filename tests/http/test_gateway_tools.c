/*  test_gateway_tools: OpenAI function calling in the gateway, in-process.

    The tool call parser on model outputs as Qwen (Hermes), Llama 3.x,
    Mistral and GLM-4.5 (<arg_key>/<arg_value> pairs, values typed by the
    request's tools) write them: one call, several, text around them, arguments
    with nested objects, Unicode and numbers whose spelling must survive;
    every output fed whole, split at every byte boundary into two and three
    pieces and byte by byte gives the same content and calls, and the
    content streamed never holds a part of a call's tag. Malformed calls
    (bad JSON, no name, unterminated) come back as content; a huge call
    parses up to the limit and is content past it; random text with tags
    in it never crashes. Then the request checks of tools, tool_choice,
    parallel_tool_calls and tool messages, each refusal a 400 naming the
    field, and the fallback that describes tools in a system message.
*/
#define S_WATCHED { "<tool_c", "[TOOL_C", "<|python", NULL }
#include "test_toolcalls.h"
#include "xinf_gateway_tools.h"

//  Checks call 'index': its name and its arguments text.
static void
s_check_call (const s_result_t *result, size_t index, const char *name, const char *arguments)
{
    json_t *call = json_array_get (result->calls, index);
    CHECK (call != NULL);
    CHECK_STR (json_string_value (json_object_get (call, "type")), "function");
    const char *id = json_string_value (json_object_get (call, "id"));
    CHECK (id && ((strncmp (id, "call_", 5) == 0 && strlen (id) == 29) || strlen (id) == 9));
    json_t *function = json_object_get (call, "function");
    CHECK_STR (json_string_value (json_object_get (function, "name")), name);
    CHECK_STR (json_string_value (json_object_get (function, "arguments")), arguments);
}

static void
s_test_hermes (void)
{
    xinf_gw_tool_format_t hermes = XINF_GW_TOOLS_HERMES;
    const char *one = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>";
    s_result_t result = s_parse (hermes, one);
    CHECK_STR (result.content, "");
    CHECK_INT (json_array_size (result.calls), 1);
    s_check_call (&result, 0, "get_weather", "{\"city\": \"Paris\", \"days\": 2}");
    s_result_free (&result);
    s_check_splits (hermes, one);

    //  Qwen3: thinking, text, two calls; numbers and Unicode kept as written
    const char *two = "<think>\nThe user wants weather.\n</think>\n\nLet me check. "
                      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"S\xc3\xa3o Paulo \xe5\xa4\xa9\", "
                      "\"ratio\": 0.1, \"big\": 1e16, \"nested\": {\"a\": [1, {\"b\": \"}\"}]}}}\n</tool_call>\n"
                      "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>";
    result = s_parse (hermes, two);
    CHECK_STR (result.content, "<think>\nThe user wants weather.\n</think>\n\nLet me check. ");
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "get_weather", "{\"city\": \"S\xc3\xa3o Paulo \xe5\xa4\xa9\", \"ratio\": 0.1, "
                  "\"big\": 1e16, \"nested\": {\"a\": [1, {\"b\": \"}\"}]}}");
    s_check_call (&result, 1, "noop", "{}");
    s_result_free (&result);
    s_check_splits (hermes, two);

    //  parallel_tool_calls false: the first call only
    result = s_parse_cuts (hermes, two, strlen (two), NULL, 0, false, false);
    CHECK_INT (json_array_size (result.calls), 1);
    s_result_free (&result);

    //  Arguments as a string, "parameters", no arguments; text after the call
    result = s_parse (hermes, "<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>"
                      "<tool_call>{\"parameters\": {\"y\": true}, \"name\": \"b\"}</tool_call>"
                      "<tool_call>{\"name\": \"c\"}</tool_call> done");
    CHECK_INT (json_array_size (result.calls), 3);
    s_check_call (&result, 0, "a", "{\"x\": 1}");
    s_check_call (&result, 1, "b", "{\"y\": true}");
    s_check_call (&result, 2, "c", "{}");
    CHECK_STR (result.content, " done");
    s_result_free (&result);

    //  No call: all content, including a '<' that starts no tag
    result = s_parse (hermes, "a < b and <tool> and <tool_cal");
    CHECK_STR (result.content, "a < b and <tool> and <tool_cal");
    CHECK_INT (json_array_size (result.calls), 0);
    s_result_free (&result);
    s_check_splits (hermes, "a < b and <tool> and <tool_cal");

    //  An unterminated call: whole JSON is a call, a cut one is content
    result = s_parse (hermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"k\": 1}}\n");
    CHECK_INT (json_array_size (result.calls), 1);
    s_result_free (&result);
    result = s_parse (hermes, "Hi <tool_call>\n{\"name\": \"f\", \"argu");
    CHECK_STR (result.content, "Hi <tool_call>\n{\"name\": \"f\", \"argu");
    CHECK_INT (json_array_size (result.calls), 0);
    s_result_free (&result);
}

static void
s_test_malformed (void)
{
    const char *bad [] = {
        "<tool_call>{not json}</tool_call>",
        "<tool_call>{\"name\": 5, \"arguments\": {}}</tool_call>",
        "<tool_call>{\"name\": \"\", \"arguments\": {}}</tool_call>",
        "<tool_call>{\"name\": \"f\", \"arguments\": [1, 2]}</tool_call>",
        "<tool_call>[{\"name\": \"f\"}]</tool_call>",
        "<tool_call>{\"name\": \"f\"} trailing</tool_call>",
        "<tool_call></tool_call>",
        "<tool_call>{\"name\": \"f\\u0000\"}</tool_call>",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        s_result_t result = s_parse (XINF_GW_TOOLS_HERMES, bad [index]);
        CHECK_INT (json_array_size (result.calls), 0);
        CHECK_STR (result.content, bad [index]);      //  given back as it was written
        s_result_free (&result);
    }
    //  A bad call between good ones: the good ones are calls
    s_result_t result = s_parse (XINF_GW_TOOLS_HERMES, "<tool_call>{\"name\": \"a\"}</tool_call>"
                                 "<tool_call>{oops</tool_call><tool_call>{\"name\": \"b\"}</tool_call>");
    CHECK_INT (json_array_size (result.calls), 2);
    CHECK_STR (result.content, "<tool_call>{oops</tool_call>");
    s_result_free (&result);
    //  A huge call: 600 KB of arguments parse; past 1 MiB it is content
    for (size_t round = 0; round < 2; round++) {
        size_t filler = round == 0 ? 600 << 10 : (1 << 20) + 100;
        char *text = malloc (filler + 100);
        int head = sprintf (text, "<tool_call>{\"name\": \"big\", \"arguments\": {\"data\": \"");
        memset (text + head, 'x', filler);
        strcpy (text + head + filler, "\"}}</tool_call>");
        size_t cuts [3] = { 7, 5000, head + filler - 3 };
        result = s_parse_cuts (XINF_GW_TOOLS_HERMES, text, strlen (text), cuts, 3, true, false);
        CHECK_INT (json_array_size (result.calls), round == 0 ? 1 : 0);
        if (round == 1)
            CHECK_STR (result.content, text);
        s_result_free (&result);
        free (text);
    }
}

static void
s_test_llama3 (void)
{
    xinf_gw_tool_format_t llama = XINF_GW_TOOLS_LLAMA3;
    const char *one = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}";
    s_result_t result = s_parse (llama, one);
    CHECK_STR (result.content, "");
    s_check_call (&result, 0, "get_weather", "{\"city\": \"Paris\"}");
    s_result_free (&result);
    s_check_splits (llama, one);
    //  After <|python_tag|> (when its text is shown), two calls with ';'
    const char *two = "<|python_tag|>{\"type\": \"function\", \"name\": \"a\", \"parameters\": {\"x\": [1, 2]}}; "
                      "{\"name\": \"b\", \"parameters\": {}}";
    result = s_parse (llama, two);
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "a", "{\"x\": [1, 2]}");
    s_check_call (&result, 1, "b", "{}");
    s_result_free (&result);
    s_check_splits (llama, two);
    //  Text, and JSON that is no call, are content
    const char *plain [] = { "The weather is fine. {\"name\": \"x\", \"parameters\": {}}", "{\"answer\": 42}",
                             "  <|python_ta", "<b>bold</b>", "{\"name\": \"f\", \"parameters\": {}} and more" };
    for (size_t index = 0; index < sizeof plain / sizeof plain [0]; index++) {
        result = s_parse (llama, plain [index]);
        CHECK_STR (result.content, plain [index]);
        CHECK_INT (json_array_size (result.calls), 0);
        s_result_free (&result);
        s_check_splits (llama, plain [index]);
    }
}

static void
s_test_mistral (void)
{
    xinf_gw_tool_format_t mistral = XINF_GW_TOOLS_MISTRAL;
    const char *visible = "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, "
                          "{\"name\": \"noop\", \"arguments\": {}}]";
    s_result_t result = s_parse (mistral, visible);
    CHECK_STR (result.content, "");
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "get_weather", "{\"city\": \"Paris\"}");
    s_check_call (&result, 1, "noop", "{}");
    //  Mistral's templates take back only ids of 9 letters or digits
    CHECK_INT (strlen (json_string_value (json_object_get (json_array_get (result.calls, 0), "id"))), 9);
    s_result_free (&result);
    s_check_splits (mistral, visible);
    //  [TOOL_CALLS] is a control token the worker renders as nothing
    result = s_parse (mistral, visible + strlen ("[TOOL_CALLS]"));
    CHECK_INT (json_array_size (result.calls), 2);
    s_result_free (&result);
    //  Text first, then the calls
    const char *after = "Sure, checking. [TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"a\": \"]\"}}]";
    result = s_parse (mistral, after);
    CHECK_STR (result.content, "Sure, checking. ");
    s_check_call (&result, 0, "f", "{\"a\": \"]\"}");
    s_result_free (&result);
    s_check_splits (mistral, after);
    //  Mistral Small 3.2: name[ARGS]{...}
    const char *small = "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]noop[ARGS]{}";
    result = s_parse (mistral, small);
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "get_weather", "{\"city\": \"Paris\"}");
    s_check_call (&result, 1, "noop", "{}");
    s_result_free (&result);
    s_check_splits (mistral, small);
    //  Brackets that are no calls
    const char *plain [] = { "[1] first point", "[TOOL_CALLS] not json", "[]", "see [TOOL_CALLS]x[ARGS]{bad" };
    for (size_t index = 0; index < sizeof plain / sizeof plain [0]; index++) {
        result = s_parse (mistral, plain [index]);
        CHECK_STR (result.content, plain [index]);
        CHECK_INT (json_array_size (result.calls), 0);
        s_result_free (&result);
    }
}

//  The GLM-4.5 call's parse, as a parser with the request's tools sees it.
static s_result_t
s_parse_glm (const char *text, const json_t *tools)
{
    return s_parse_tools (XINF_GW_TOOLS_GLM45, tools, text, strlen (text), NULL, 0, true, false);
}

//  GLM-4.5's calls: a name and <arg_key>/<arg_value> pairs, several calls,
//  text around them; a value typed by the tool's schema (a "string"
//  parameter stays a string even where it reads as a number), else by
//  whether it parses as JSON; calls without a name, with a repeated or
//  unclosed key, come back as content.
static void
s_test_glm45 (void)
{
    xinf_gw_tool_format_t glm = XINF_GW_TOOLS_GLM45;
    const char *one = "Let me look.<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
                      "<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>";
    s_result_t result = s_parse (glm, one);
    CHECK_STR (result.content, "Let me look.");
    CHECK_INT (json_array_size (result.calls), 1);
    s_check_call (&result, 0, "get_weather", "{\"city\":\"Paris\",\"days\":2}");
    s_result_free (&result);
    s_check_splits (glm, one);
    const char *two = "<tool_call>noop\n</tool_call>\n<tool_call>search\n<arg_key>filters</arg_key>"
                      "<arg_value>{\"lang\": \"fr\", \"n\": [1, 2]}</arg_value><arg_key>exact</arg_key>"
                      "<arg_value>true</arg_value></tool_call>";
    result = s_parse (glm, two);
    CHECK_STR (result.content, "");
    CHECK_INT (json_array_size (result.calls), 2);
    s_check_call (&result, 0, "noop", "{}");
    s_check_call (&result, 1, "search", "{\"filters\":{\"lang\": \"fr\", \"n\": [1, 2]},\"exact\":true}");
    s_result_free (&result);
    s_check_splits (glm, two);
    //  The tool says "zip" is a string: "75001" stays one; "count" an integer
    json_error_t error;
    json_t *tools = json_loads ("[{\"type\": \"function\", \"function\": {\"name\": \"mail\", \"parameters\": "
                                "{\"type\": \"object\", \"properties\": {\"zip\": {\"type\": \"string\"}, "
                                "\"code\": {\"type\": [\"string\", \"null\"]}, "
                                "\"count\": {\"type\": \"integer\"}}}}}]", 0, &error);
    CHECK (tools != NULL);
    const char *typed = "<tool_call>mail<arg_key>zip</arg_key><arg_value>75001</arg_value><arg_key>count</arg_key>"
                        "<arg_value>3</arg_value><arg_key>note</arg_key><arg_value>hi \"there\"</arg_value></tool_call>";
    result = s_parse_glm (typed, tools);
    s_check_call (&result, 0, "mail", "{\"zip\":\"75001\",\"count\":3,\"note\":\"hi \\\"there\\\"\"}");
    s_result_free (&result);
    result = s_parse_glm (typed, NULL);                    //  without the schema, 75001 reads as a number
    s_check_call (&result, 0, "mail", "{\"zip\":75001,\"count\":3,\"note\":\"hi \\\"there\\\"\"}");
    s_result_free (&result);
    //  A type list with "string" keeps a string; numbers keep the model's spelling
    result = s_parse_glm ("<tool_call>mail<arg_key>code</arg_key><arg_value>007</arg_value><arg_key>price</arg_key>"
                          "<arg_value> 0.1 </arg_value><arg_key>big</arg_key><arg_value>1e16</arg_value>"
                          "<arg_key>huge</arg_key><arg_value>123456789012345678901234</arg_value></tool_call>", tools);
    s_check_call (&result, 0, "mail", "{\"code\":\"007\",\"price\":0.1,\"big\":1e16,"
                                      "\"huge\":\"123456789012345678901234\"}");
    s_result_free (&result);
    json_decref (tools);
    const char *bad [] = { "<tool_call>\n<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>",
                           "<tool_call>f<arg_key>a</arg_key><arg_value>1</arg_value><arg_key>a</arg_key>"
                           "<arg_value>2</arg_value></tool_call>",
                           "<tool_call>f<arg_key>a</arg_key>1</tool_call>",
                           "<tool_call>f<arg_key></arg_key><arg_value>1</arg_value></tool_call>",
                           "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>",     //  Hermes's form
                           "<tool_call>f<arg_key>a</arg_key><arg_value>\xff\xfe</arg_value></tool_call>",  //  no UTF-8
                           "<tool_call>f<arg_key>\xc3</arg_key><arg_value>1</arg_value></tool_call>" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        result = s_parse (glm, bad [index]);
        CHECK_STR (result.content, bad [index]);
        CHECK_INT (json_array_size (result.calls), 0);
        s_result_free (&result);
    }
    static const char nul [] = "<tool_call>f\0g<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>";
    result = s_parse_cuts (glm, nul, sizeof nul - 1, NULL, 0, true, false);       //  a NUL in the name: no call
    CHECK_INT (json_array_size (result.calls), 0);
    s_result_free (&result);
}

//  Random text with tags and JSON pieces: never a crash, and pieces
//  agree with the whole.
static void
s_test_garbage (void)
{
    const char *parts [] = { "<tool_call>", "</tool_call>", "{", "}", "[", "]", "\"", "\"name\"", ":", ",",
                             "\"arguments\"", "[TOOL_CALLS]", "[ARGS]", "<|python_tag|>", " ", "\n", "x",
                             "\\", "\xc3\xa9", "\"f\"", "<", "<tool_", ";", "1e999", "null",
                             "{\"name\": \"f\", \"arguments\": {\"a\": 1}}", "[{\"name\": \"g\"}]",
                             "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "f\n" };
    size_t calls = 0;
    for (int round = 0; round < 3000; round++) {
        char text [512] = "";
        size_t count = (size_t) randof (16);
        for (size_t index = 0; index < count; index++)
            strcat (text, parts [randof (sizeof parts / sizeof parts [0])]);
        xinf_gw_tool_format_t format = (xinf_gw_tool_format_t) (1 + round % 4);
        s_result_t whole = s_parse (format, text);
        size_t size = strlen (text);
        size_t cuts [3] = { 0, 0, 0 };
        for (size_t index = 0; index < 3 && size > 1; index++)
            cuts [index] = (size_t) randof ((int) size);
        //  sorted
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

static void
s_test_format_of (void)
{
    bool supports;
    CHECK (xinf_gw_tool_format_of ("{% if tools %}<tool_call>{% endif %}", &supports) == XINF_GW_TOOLS_HERMES && supports);
    CHECK (xinf_gw_tool_format_of ("{% for tool in tools %}[TOOL_CALLS]{% endfor %}", &supports) == XINF_GW_TOOLS_MISTRAL);
    CHECK (xinf_gw_tool_format_of ("<|start_header_id|>{% if tools %}{% endif %}", &supports) == XINF_GW_TOOLS_LLAMA3);
    CHECK (xinf_gw_tool_format_of ("<|im_start|>{{ m }}", &supports) == XINF_GW_TOOLS_HERMES && !supports);
    CHECK (xinf_gw_tool_format_of ("{% if tools %}<tool_call>{{ n }}<arg_key>{{ k }}</arg_key>{% endif %}", &supports)
           == XINF_GW_TOOLS_GLM45 && supports);
    CHECK (xinf_gw_tool_format_of (NULL, &supports) == XINF_GW_TOOLS_HERMES && !supports);
}

// ---- requests ---------------------------------------------------------------

//  Parses a chat body; on refusal checks a 400 naming 'param'.
static int
s_request (const char *body, const char *param, xinf_gw_oai_t *oai)
{
    xinf_gw_error_t error;
    memset (&error, 0, sizeof error);
    json_t *root = xinf_gw_json_parse (body, strlen (body), &error);
    CHECK (root != NULL);
    int rc = xinf_gw_oai_parse (root, true, oai, &error);
    json_decref (root);
    if (param) {
        if (rc == 0 || error.status != 400 || strcmp (error.param, param) != 0) {
            fprintf (stderr, "body %s: want a 400 on %s, got rc %d status %u param '%s': %s\n", body, param, rc,
                     error.status, error.param, error.message);
            exit (1);
        }
    }
    else
    if (rc) {
        fprintf (stderr, "body %s refused: %s\n", body, error.message);
        exit (1);
    }
    return rc;
}

#define MSGS "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define TOOL(name) "{\"type\":\"function\",\"function\":{\"name\":\"" name "\",\"parameters\":{\"type\":\"object\"}}}"

static void
s_test_requests (void)
{
    static const struct { const char *body, *param; } refused [] = {
        { "{" MSGS ",\"tools\":{}}", "tools" },
        { "{" MSGS ",\"tools\":[" TOOL ("a") ",5]}", "tools[1]" },
        { "{" MSGS ",\"tools\":[{\"type\":\"code\",\"function\":{\"name\":\"a\"}}]}", "tools[0]" },
        { "{" MSGS ",\"tools\":[{\"type\":\"function\"}]}", "tools[0].function" },
        { "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]}", "tools[0].function.name" },
        { "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"\"}}]}", "tools[0].function.name" },
        { "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
          "\"a123456789012345678901234567890123456789012345678901234567890123456789\"}}]}", "tools[0].function.name" },
        { "{" MSGS ",\"tools\":[" TOOL ("a") "," TOOL ("a") "]}", "tools[1].function.name" },
        { "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"description\":7}}]}",
          "tools[0].function.description" },
        { "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"parameters\":\"x\"}}]}",
          "tools[0].function.parameters" },
        { "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"strict\":1}}]}",
          "tools[0].function.strict" },
        { "{" MSGS ",\"tools\":[" TOOL ("a") "],\"tool_choice\":\"always\"}", "tool_choice" },
        { "{" MSGS ",\"tools\":[" TOOL ("a") "],\"tool_choice\":5}", "tool_choice" },
        { "{" MSGS ",\"tools\":[" TOOL ("a") "],\"tool_choice\":{\"type\":\"function\"}}", "tool_choice" },
        { "{" MSGS ",\"tools\":[" TOOL ("a") "],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"b\"}}}",
          "tool_choice.function.name" },
        { "{" MSGS ",\"tool_choice\":\"required\"}", "tool_choice" },
        { "{" MSGS ",\"tools\":[" TOOL ("a") "],\"parallel_tool_calls\":\"yes\"}", "parallel_tool_calls" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}", "messages[0].tool_calls" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"tool_calls\":[]}]}",
          "messages[0].tool_calls" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[5]}]}", "messages[0].tool_calls[0]" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":1,\"function\":{\"name\":\"f\"}}]}]}",
          "messages[0].tool_calls[0]" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"\"}}]}]}",
          "messages[0].tool_calls[0]" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"x\",\"function\":{\"name\":\"f\"}}]}]}",
          "messages[0].tool_calls[0]" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":3}}]}]}",
          "messages[0].tool_calls[0]" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":[],\"content\":\"r\"}]}",
          "messages[0].tool_call_id" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\"}]}", "messages" },
    };
    for (size_t index = 0; index < sizeof refused / sizeof refused [0]; index++) {
        xinf_gw_oai_t oai;
        s_request (refused [index].body, refused [index].param, &oai);
        xinf_gw_oai_clear (&oai);
    }
    //  Too many tools
    xinf_gw_buf_t body = { 0 };
    xinf_gw_buf_add_str (&body, "{" MSGS ",\"tools\":[");
    for (int index = 0; index <= XINF_GW_TOOLS_MAX; index++) {
        char tool [128];
        snprintf (tool, sizeof tool, "%s" TOOL ("f%d"), index ? "," : "", index);
        xinf_gw_buf_add_str (&body, tool);
    }
    xinf_gw_buf_add_str (&body, "]}");
    xinf_gw_oai_t oai;
    s_request (body.data, "tools", &oai);
    xinf_gw_oai_clear (&oai);
    xinf_gw_buf_free (&body);

    //  A whole exchange is accepted; arguments become an object for the template
    s_request ("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
               "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
               "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},"
               "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":[{\"type\":\"text\",\"text\":\"sunny\"}]}],"
               "\"tools\":[" TOOL ("get_weather") "," TOOL ("noop") "],\"tool_choice\":{\"type\":\"function\","
               "\"function\":{\"name\":\"noop\"}},\"parallel_tool_calls\":false,\"functions\":\"ignored\"}", NULL, &oai);
    CHECK_INT (json_array_size (oai.tools), 2);
    CHECK (oai.tool_choice == XINF_GW_TOOL_CHOICE_FUNCTION && streq (oai.tool_choice_name, "noop"));
    CHECK (!oai.parallel_tool_calls);
    json_t *arguments = json_object_get (json_object_get (json_array_get (json_object_get (
        json_array_get (oai.messages, 1), "tool_calls"), 0), "function"), "arguments");
    CHECK (json_is_object (arguments) && streq (json_string_value (json_object_get (arguments, "city")), "Paris"));
    CHECK_STR (json_string_value (json_object_get (json_array_get (oai.messages, 2), "content")), "sunny");

    //  The fallback: tools in the system message, calls and results as text
    json_t *messages = xinf_gw_tools_fallback (oai.messages, oai.tools);
    CHECK_INT (json_array_size (messages), 4);
    const char *system = json_string_value (json_object_get (json_array_get (messages, 0), "content"));
    CHECK (strstr (system, "<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"") != NULL);
    CHECK (strstr (system, "<tool_call></tool_call> XML tags") != NULL);
    CHECK_STR (json_string_value (json_object_get (json_array_get (messages, 2), "content")),
               "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>");
    CHECK_STR (json_string_value (json_object_get (json_array_get (messages, 3), "role")), "user");
    CHECK_STR (json_string_value (json_object_get (json_array_get (messages, 3), "content")),
               "<tool_response>\nsunny\n</tool_response>");
    json_decref (messages);
    xinf_gw_oai_clear (&oai);

    //  No tools: tool_choice none; "none" with tools keeps them out of parsing
    s_request ("{" MSGS "}", NULL, &oai);
    CHECK (oai.tools == NULL && oai.tool_choice == XINF_GW_TOOL_CHOICE_NONE);
    xinf_gw_oai_clear (&oai);
    s_request ("{" MSGS ",\"tools\":[" TOOL ("a") "],\"tool_choice\":\"none\"}", NULL, &oai);
    CHECK (oai.tools != NULL && oai.tool_choice == XINF_GW_TOOL_CHOICE_NONE);
    xinf_gw_oai_clear (&oai);
    s_request ("{" MSGS ",\"tools\":[],\"tool_choice\":\"auto\"}", NULL, &oai);
    CHECK (oai.tools == NULL);
    xinf_gw_oai_clear (&oai);
}

int
main (void)
{
    zsys_init ();
    srandom (11);
    s_test_format_of ();
    s_test_hermes ();
    s_test_malformed ();
    s_test_llama3 ();
    s_test_mistral ();
    s_test_glm45 ();
    s_test_garbage ();
    s_test_requests ();
    printf ("PASS: tool calls: Hermes, Llama 3, Mistral, splits, garbage, requests, fallback\n");
    return 0;
}
