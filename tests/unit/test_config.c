/*  test_config: xinf_config, configuration from flags, then XINF_*
    environment variables, then defaults.

    Covers --name=value, --name value, -p value, -pVALUE, boolean flags,
    environment fallback and precedence (flag > env > default), the source
    of each value, and every rejection: unknown options, integers that are
    not integers or out of range, choices, missing values, --help and
    positionals around "--".
*/
#include "test_unit.h"

#include <sys/wait.h>
#include <unistd.h>

static const xinf_option_t s_options [] = {
    { "port", 'p', "XINF_UTEST_PORT", XINF_OPT_INT, "9997", 0, 65535, NULL,
      "PORT", "TCP port to bind" },
    { "name", 'n', "XINF_UTEST_NAME", XINF_OPT_STR, "node", 0, 0, NULL,
      "NAME", "node name" },
    { "role", 'r', "XINF_UTEST_ROLE", XINF_OPT_STR, "worker", 0, 0, "supervisor|worker",
      "ROLE", "what this node does" },
    { "verbose", 'v', "XINF_UTEST_VERBOSE", XINF_OPT_FLAG, NULL, 0, 0, NULL,
      NULL, "log more" },
    { "offset", 0, NULL, XINF_OPT_INT, "-5", -10, 10, NULL,
      "N", "signed value" },
    { "host", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL,
      "HOST", "advertised host" },
    { .name = NULL }
};

static void
s_clear_env (void)
{
    unsetenv ("XINF_UTEST_PORT");
    unsetenv ("XINF_UTEST_NAME");
    unsetenv ("XINF_UTEST_ROLE");
    unsetenv ("XINF_UTEST_VERBOSE");
}

//  Parses a NULL-terminated argument list (argv [0] is added); the list
//  must outlive the config since values point into it.
static int
s_parse (xinf_config_t *config, const char **args)
{
    const char *argv [32] = { "prog" };
    int argc = 1;
    while (args [argc - 1]) {
        CHECK (argc < 31);
        argv [argc] = args [argc - 1];
        argc++;
    }
    return xinf_config_parse (config, argc, (char **) argv);
}

static xinf_config_t *
s_new (void)
{
    xinf_config_t *config = xinf_config_new ("prog", "[OPTIONS] FILE...", s_options);
    CHECK (config);
    return config;
}

static void
test_defaults (void)
{
    s_clear_env ();
    xinf_config_t *config = s_new ();
    static const char *args [] = { NULL };
    CHECK_INT (s_parse (config, args), 0);
    CHECK_INT (xinf_config_int (config, "port"), 9997);
    CHECK_STR (xinf_config_source (config, "port"), "default");
    CHECK_STR (xinf_config_str (config, "name"), "node");
    CHECK_STR (xinf_config_str (config, "role"), "worker");
    CHECK (!xinf_config_flag (config, "verbose"));
    CHECK_INT (xinf_config_int (config, "offset"), -5);
    CHECK (xinf_config_str (config, "host") == NULL);
    CHECK_STR (xinf_config_source (config, "host"), "default");
    CHECK_INT (xinf_config_positionals (config), 0);
    CHECK (xinf_config_positional (config, 0) == NULL);
    xinf_config_destroy (&config);
    CHECK (config == NULL);
}

static void
test_flag_forms (void)
{
    s_clear_env ();
    xinf_config_t *config = s_new ();
    static const char *args [] = { "--port=1234", "--name", "alpha", "-r", "supervisor",
                                   "-v", "--offset=-10", "--host=10.0.0.7", NULL };
    CHECK_INT (s_parse (config, args), 0);
    CHECK_INT (xinf_config_int (config, "port"), 1234);
    CHECK_STR (xinf_config_source (config, "port"), "flag");
    CHECK_STR (xinf_config_str (config, "name"), "alpha");
    CHECK_STR (xinf_config_source (config, "name"), "flag");
    CHECK_STR (xinf_config_str (config, "role"), "supervisor");
    CHECK (xinf_config_flag (config, "verbose"));
    CHECK_STR (xinf_config_source (config, "verbose"), "flag");
    CHECK_INT (xinf_config_int (config, "offset"), -10);
    CHECK_STR (xinf_config_str (config, "host"), "10.0.0.7");
    xinf_config_destroy (&config);

    config = s_new ();
    static const char *glued [] = { "-p42", "-nbeta", "--verbose", NULL };
    CHECK_INT (s_parse (config, glued), 0);
    CHECK_INT (xinf_config_int (config, "port"), 42);
    CHECK_STR (xinf_config_str (config, "name"), "beta");
    CHECK (xinf_config_flag (config, "verbose"));
    xinf_config_destroy (&config);

    //  Boolean spellings after '=', and the last occurrence wins
    config = s_new ();
    static const char *spelled [] = { "--verbose=yes", "--verbose=off", "-p", "1", "--port", "2", NULL };
    CHECK_INT (s_parse (config, spelled), 0);
    CHECK (!xinf_config_flag (config, "verbose"));
    CHECK_STR (xinf_config_source (config, "verbose"), "flag");
    CHECK_INT (xinf_config_int (config, "port"), 2);
    xinf_config_destroy (&config);

    //  Every value of a repeated option, in order; the default when none
    config = s_new ();
    static const char *repeated [] = { "--host", "a", "-p", "1", "--host=b", "--host", "c", NULL };
    CHECK_INT (s_parse (config, repeated), 0);
    const char *hosts [4] = { NULL };
    CHECK_INT (xinf_config_all (config, "host", hosts, 2), 3);
    CHECK_STR (hosts [0], "a");
    CHECK_STR (hosts [1], "b");
    CHECK (hosts [2] == NULL);
    CHECK_INT (xinf_config_all (config, "host", hosts, 4), 3);
    CHECK_STR (hosts [2], "c");
    CHECK_STR (xinf_config_str (config, "host"), "c");
    CHECK_INT (xinf_config_all (config, "name", hosts, 4), 1);
    CHECK_STR (hosts [0], "node");
    xinf_config_destroy (&config);
    config = s_new ();
    static const char *none [] = { NULL };
    CHECK_INT (s_parse (config, none), 0);
    CHECK_INT (xinf_config_all (config, "host", hosts, 4), 0);
    xinf_config_destroy (&config);

    //  An empty string is a value for a string option
    config = s_new ();
    static const char *empty [] = { "--name=", NULL };
    CHECK_INT (s_parse (config, empty), 0);
    CHECK_STR (xinf_config_str (config, "name"), "");
    xinf_config_destroy (&config);
}

static void
test_environment (void)
{
    s_clear_env ();
    setenv ("XINF_UTEST_PORT", "5555", 1);
    setenv ("XINF_UTEST_NAME", "from-env", 1);
    setenv ("XINF_UTEST_VERBOSE", "true", 1);
    setenv ("XINF_UTEST_ROLE", "", 1);          //  empty: ignored
    xinf_config_t *config = s_new ();
    static const char *args [] = { "--name", "from-flag", NULL };
    CHECK_INT (s_parse (config, args), 0);
    CHECK_INT (xinf_config_int (config, "port"), 5555);
    CHECK_STR (xinf_config_source (config, "port"), "env");
    CHECK_STR (xinf_config_str (config, "name"), "from-flag");
    CHECK_STR (xinf_config_source (config, "name"), "flag");
    CHECK (xinf_config_flag (config, "verbose"));
    CHECK_STR (xinf_config_source (config, "verbose"), "env");
    CHECK_STR (xinf_config_str (config, "role"), "worker");
    CHECK_STR (xinf_config_source (config, "role"), "default");
    xinf_config_destroy (&config);

    //  A bad environment value is an error naming the variable
    s_clear_env ();
    setenv ("XINF_UTEST_PORT", "abc", 1);
    config = s_new ();
    static const char *none [] = { NULL };
    CHECK_INT (s_parse (config, none), -1);
    CHECK_HAS (xinf_config_error (config), "XINF_UTEST_PORT");
    CHECK_HAS (xinf_config_error (config), "'abc' is not an integer");
    xinf_config_destroy (&config);

    //  ... unless a flag set the option, then the environment is not read
    config = s_new ();
    static const char *flag [] = { "-p", "7", NULL };
    CHECK_INT (s_parse (config, flag), 0);
    CHECK_INT (xinf_config_int (config, "port"), 7);
    xinf_config_destroy (&config);

    s_clear_env ();
    setenv ("XINF_UTEST_ROLE", "boss", 1);
    config = s_new ();
    CHECK_INT (s_parse (config, none), -1);
    CHECK_HAS (xinf_config_error (config), "XINF_UTEST_ROLE: 'boss' is not one of supervisor|worker");
    xinf_config_destroy (&config);
    s_clear_env ();
}

//  Parses 'args', expects -1 and an error containing 'needle'.
static void
s_expect_error (const char **args, const char *needle)
{
    xinf_config_t *config = s_new ();
    CHECK_INT (s_parse (config, args), -1);
    CHECK_HAS (xinf_config_error (config), needle);
    xinf_config_destroy (&config);
}

static void
test_rejections (void)
{
    s_clear_env ();
    static const char *unknown_long [] = { "--bogus=1", NULL };
    s_expect_error (unknown_long, "unknown option '--bogus'");
    static const char *unknown_bare [] = { "--colour", NULL };
    s_expect_error (unknown_bare, "unknown option '--colour'");
    static const char *unknown_short [] = { "-x", NULL };
    s_expect_error (unknown_short, "unknown option '-x'");
    static const char *prefix [] = { "--por=1", NULL };
    s_expect_error (prefix, "unknown option '--por'");

    static const char *high [] = { "--port=65536", NULL };
    s_expect_error (high, "--port: 65536 is out of range [0, 65535]");
    static const char *low [] = { "-p", "-1", NULL };
    s_expect_error (low, "-p: -1 is out of range [0, 65535]");
    static const char *negative [] = { "--offset", "-11", NULL };
    s_expect_error (negative, "--offset: -11 is out of range [-10, 10]");
    static const char *word [] = { "--port", "http", NULL };
    s_expect_error (word, "--port: 'http' is not an integer");
    static const char *suffix [] = { "--port=80x", NULL };
    s_expect_error (suffix, "'80x' is not an integer");
    static const char *blank [] = { "--port=", NULL };
    s_expect_error (blank, "is not an integer");
    static const char *huge [] = { "--port=99999999999999999999999", NULL };
    s_expect_error (huge, "is not an integer");

    static const char *choice [] = { "--role=boss", NULL };
    s_expect_error (choice, "--role: 'boss' is not one of supervisor|worker");
    static const char *choice_prefix [] = { "--role=super", NULL };
    s_expect_error (choice_prefix, "'super' is not one of");

    static const char *no_value [] = { "--port", NULL };
    s_expect_error (no_value, "--port needs a value");
    static const char *no_short_value [] = { "-n", NULL };
    s_expect_error (no_short_value, "-n needs a value");
    static const char *flag_value [] = { "-vx", NULL };
    s_expect_error (flag_value, "-v takes no value");
    static const char *flag_word [] = { "--verbose=maybe", NULL };
    s_expect_error (flag_word, "'maybe' is not a boolean");
}

static void
test_positionals (void)
{
    s_clear_env ();
    xinf_config_t *config = s_new ();
    static const char *args [] = { "model.gguf", "--port", "1", "-", "second",
                                   "--", "--name", "-p", NULL };
    CHECK_INT (s_parse (config, args), 0);
    CHECK_INT (xinf_config_int (config, "port"), 1);
    CHECK_STR (xinf_config_str (config, "name"), "node");
    CHECK_INT (xinf_config_positionals (config), 5);
    CHECK_STR (xinf_config_positional (config, 0), "model.gguf");
    CHECK_STR (xinf_config_positional (config, 1), "-");
    CHECK_STR (xinf_config_positional (config, 2), "second");
    CHECK_STR (xinf_config_positional (config, 3), "--name");
    CHECK_STR (xinf_config_positional (config, 4), "-p");
    CHECK (xinf_config_positional (config, 5) == NULL);
    xinf_config_destroy (&config);
}

static void
test_help (void)
{
    s_clear_env ();
    //  --help prints to stdout and returns 1, even after other options
    xinf_config_t *config = s_new ();
    static const char *args [] = { "-p", "5", "--help", "--bogus", NULL };
    CHECK_INT (s_parse (config, args), 1);
    xinf_config_destroy (&config);
    config = s_new ();
    static const char *short_help [] = { "-h", NULL };
    CHECK_INT (s_parse (config, short_help), 1);

    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    CHECK (stream);
    xinf_config_print_help (config, stream);
    fclose (stream);
    CHECK_HAS (text, "Usage: prog [OPTIONS] FILE...");
    CHECK_HAS (text, "-p, --port PORT");
    CHECK_HAS (text, "TCP port to bind");
    CHECK_HAS (text, "[default: 9997]");
    CHECK_HAS (text, "[env: XINF_UTEST_PORT]");
    CHECK_HAS (text, "(supervisor|worker)");
    CHECK_HAS (text, "    --host HOST");
    CHECK_HAS (text, "-h, --help");
    CHECK (strstr (text, "--verbose VALUE") == NULL);   //  a flag takes no value
    free (text);
    xinf_config_destroy (&config);
}

//  Asking for an option that is not in the table aborts.
static void
test_unknown_name_aborts (void)
{
    fflush (stdout);
    fflush (stderr);
    pid_t child = fork ();
    CHECK (child >= 0);
    if (child == 0) {
        xinf_config_t *config = s_new ();
        xinf_config_str (config, "nonexistent");
        _exit (0);                  //  not reached when it aborts
    }
    int status = 0;
    CHECK (waitpid (child, &status, 0) == child);
    CHECK (WIFSIGNALED (status));
    CHECK_INT (WTERMSIG (status), SIGABRT);
}

int
main (void)
{
    fprintf (stderr, "test_config\n");
    RUN (test_defaults);
    RUN (test_flag_forms);
    RUN (test_environment);
    RUN (test_rejections);
    RUN (test_positionals);
    RUN (test_help);
    RUN (test_unknown_name_aborts);
    return 0;
}
