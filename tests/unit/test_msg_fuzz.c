/*  test_msg_fuzz: random and mutated input through xinf_msg_decode and
    xinf_mpscan, with a deterministic seed.

        unit_msg_fuzz [SEED [ROUNDS]]      (defaults: 0x5eed2026, 1)

    Decode inputs are random frames, valid encoded messages (envelope
    versions 3 and 2: header arrays and maps) with byte flips, insertions,
    deletions, truncations, corrupted length fields, splices (across the
    versions too) and frame-level changes, and random frame counts. Each
    must either decode (in the version its signature names, and then
    re-encode and decode to the same message) or return NULL with a
    non-empty reason; under ASan nothing may crash or leak. mpscan gets its own inputs: whatever it accepts, msgpack-c must
    unpack completely, and xinf_value_read must come to the value that
    msgpack-c and xinf_value_from_object come to, or refuse when they do;
    read in one pass within the walk's limits (a budget), it accepts
    exactly what the walk and from_object together accept. A failure prints the seed, the case and its bytes.
*/
#include "test_unit.h"

#define FRAMES_CAP   80
#define SEEDS        8

typedef struct {
    unsigned char *data;
    size_t size;
} s_bytes_t;

typedef struct {
    size_t count;
    s_bytes_t frames [FRAMES_CAP];
} s_input_t;

static uint64_t s_state;
static uint64_t s_seed;
static const char *s_case = "";
static s_input_t *s_current;
static s_input_t s_seeds [SEEDS];

static uint64_t
s_rand (void)
{
    //  xorshift64*
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545F4914F6CDD1DULL;
}

static size_t s_below (size_t limit) { return limit ? (size_t) (s_rand () % limit) : 0; }
static bool s_chance (int percent) { return (int) s_below (100) < percent; }

static void
s_dump (void)
{
    fprintf (stderr, "FUZZ FAILURE seed=0x%llx case=%s (rerun: unit_msg_fuzz 0x%llx)\n",
             (unsigned long long) s_seed, s_case, (unsigned long long) s_seed);
    for (size_t index = 0; s_current && index < s_current->count; index++) {
        fprintf (stderr, "  frame %zu (%zu bytes):", index, s_current->frames [index].size);
        for (size_t at = 0; at < s_current->frames [index].size && at < 96; at++)
            fprintf (stderr, " %02x", s_current->frames [index].data [at]);
        fprintf (stderr, "\n");
    }
}

#define FUZZ_CHECK(expr) do { if (!(expr)) { s_dump (); CHECK (expr); } } while (0)

// ---- inputs --------------------------------------------------------------

static void
s_frame_set (s_bytes_t *frame, const void *data, size_t size)
{
    frame->data = malloc (size ? size : 1);
    CHECK (frame->data);
    if (size)
        memcpy (frame->data, data, size);
    frame->size = size;
}

static void
s_input_free (s_input_t *input)
{
    for (size_t index = 0; index < input->count; index++)
        free (input->frames [index].data);
    input->count = 0;
}

static void
s_input_copy (s_input_t *target, const s_input_t *source)
{
    target->count = source->count;
    for (size_t index = 0; index < source->count; index++)
        s_frame_set (&target->frames [index], source->frames [index].data, source->frames [index].size);
}

static void
s_input_from_zmsg (s_input_t *input, zmsg_t **zmsg_p)
{
    input->count = 0;
    for (zframe_t *frame = zmsg_first (*zmsg_p); frame; frame = zmsg_next (*zmsg_p)) {
        CHECK (input->count < FRAMES_CAP);
        s_frame_set (&input->frames [input->count++], zframe_data (frame), zframe_size (frame));
    }
    zmsg_destroy (zmsg_p);
}

static zmsg_t *
s_input_zmsg (const s_input_t *input)
{
    zmsg_t *zmsg = zmsg_new ();
    for (size_t index = 0; index < input->count; index++)
        zmsg_addmem (zmsg, input->frames [index].data, input->frames [index].size);
    return zmsg;
}

//  Valid messages the mutations start from.
static void
s_make_seeds (void)
{
    for (int index = 0; index < SEEDS; index++) {
        xinf_msg_t *msg = xinf_msg_new (index == 4 ? "ERROR" : "GENERATE");
        xinf_value_t *body = xinf_msg_body (msg);
        xinf_msg_set_corr (msg, (uint64_t) index * 0x10001 + (index == 6 ? UINT64_MAX / 2 : 0));
        xinf_msg_set_sender (msg, index == 6 ? "a-very-long-sender-name-for-the-length-checks" : "client");
        xinf_msg_set_deadline (msg, index == 6 ? 1ULL << 40 : 5000);
        if (index >= 1) {
            xinf_map_put_str (body, "prompt", "The quick brown fox");
            xinf_map_put_uint (body, "tokens", 300);
            xinf_map_put_int (body, "offset", -70000);
            xinf_map_put_float (body, "temperature", 0.7);
            xinf_map_put_bool (body, "stream", true);
            xinf_map_put (body, "none", xinf_value_new_nil ());
        }
        if (index == 2 || index == 7) {
            xinf_value_t *nest = xinf_value_new_uint (1);
            for (int level = 0; level < (index == 7 ? 14 : 5); level++) {
                xinf_value_t *array = xinf_value_new_array ();
                xinf_array_push (array, nest);
                xinf_array_push (array, xinf_value_new_bin ("\x01\x02\x03", 3));
                nest = array;
            }
            xinf_map_put (body, "nest", nest);
        }
        if (index == 3) {
            xinf_value_t *list = xinf_value_new_array ();
            for (int item = 0; item < 200; item++)
                xinf_array_push (list, xinf_value_new_uint ((uint64_t) item * item * item * 977));
            xinf_map_put (body, "list", list);
            char text [300];
            memset (text, 't', sizeof text);
            xinf_map_put (body, "str16", xinf_value_new_strn (text, sizeof text));
            xinf_map_put (body, "bin16", xinf_value_new_bin (text, sizeof text));
        }
        if (index == 4) {
            xinf_map_put_str (body, "code", "BAD_ENVELOPE");
            xinf_map_put_str (body, "message", "frame 0 does not start with the XINF signature");
        }
        if (index == 5)
            for (int key = 0; key < 20; key++) {
                char name [16];
                snprintf (name, sizeof name, "key%d", key);
                xinf_map_put_uint (body, name, (uint64_t) key << (key * 3));
            }
        for (int frame = 0; frame < index % 4; frame++)
            xinf_msg_add_bytes (msg, "tensor-bytes", 4 + (size_t) frame * 4);
        if (index % 3 == 1)
            xinf_msg_set_version (msg, 2);         //  three of the eight: header maps
        zmsg_t *zmsg = xinf_msg_encode (&msg);
        s_input_from_zmsg (&s_seeds [index], &zmsg);
    }
}

// ---- mutations -----------------------------------------------------------

static const unsigned char s_interesting [] = {
    0xdc, 0xdd, 0xde, 0xdf, 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6, 0x9f, 0x8f, 0xbf,
    0xc1, 0xd4, 0xc7, 0xc9, 0xcf, 0xcb, 0xc0, 0x00, 0x7f, 0x80, 0x90, 0xa0, 0xff
};

static bool
s_is_length_head (unsigned char byte)
{
    return (byte >= 0x80 && byte <= 0xbf) || (byte >= 0xd9 && byte <= 0xdf) || (byte >= 0xc4 && byte <= 0xc6);
}

//  Replaces frame contents with 'size' bytes of 'data' inserted/removed at 'at'.
static void
s_splice (s_bytes_t *frame, size_t at, size_t remove, const unsigned char *insert, size_t insert_size)
{
    size_t size = frame->size - remove + insert_size;
    unsigned char *data = malloc (size ? size : 1);
    CHECK (data);
    memcpy (data, frame->data, at);
    if (insert_size)
        memcpy (data + at, insert, insert_size);
    memcpy (data + at + insert_size, frame->data + at + remove, frame->size - at - remove);
    free (frame->data);
    frame->data = data;
    frame->size = size;
}

//  Corrupts the length field of a container/str/bin header.
static void
s_corrupt_length (s_bytes_t *frame)
{
    size_t heads [512];
    size_t count = 0;
    for (size_t at = 0; at < frame->size && count < 512; at++)
        if (s_is_length_head (frame->data [at]))
            heads [count++] = at;
    if (count == 0)
        return;
    size_t at = heads [s_below (count)];
    unsigned char byte = frame->data [at];
    if (byte <= 0xbf) {                       //  fix types: the count is in the byte
        frame->data [at] = byte >= 0xa0 ? (unsigned char) (0xa0 | s_below (32))
                                        : (unsigned char) ((byte & 0xf0) | s_below (16));
        return;
    }
    size_t width = (byte == 0xd9 || byte == 0xc4) ? 1 : (byte == 0xda || byte == 0xc5 || byte == 0xdc || byte == 0xde) ? 2 : 4;
    for (size_t index = 1; index <= width && at + index < frame->size; index++) {
        unsigned char *field = &frame->data [at + index];
        switch (s_below (4)) {
            case 0:  *field = 0xff; break;
            case 1:  *field = (unsigned char) s_rand (); break;
            case 2:  *field = (unsigned char) (*field + 1); break;
            default: *field = (unsigned char) (*field - 1); break;
        }
    }
}

static void
s_mutate_bytes (s_bytes_t *frame)
{
    size_t size = frame->size;
    switch (s_below (9)) {
        case 0:                                 //  bit flips
            for (size_t flips = 1 + s_below (8); flips && size; flips--)
                frame->data [s_below (size)] ^= (unsigned char) (1u << s_below (8));
            break;
        case 1:                                 //  random bytes
            for (size_t sets = 1 + s_below (4); sets && size; sets--)
                frame->data [s_below (size)] = (unsigned char) s_rand ();
            break;
        case 2:                                 //  interesting bytes
            if (size)
                frame->data [s_below (size)] = s_interesting [s_below (sizeof s_interesting)];
            break;
        case 3: {                               //  insertion
            unsigned char insert [16];
            size_t count = 1 + s_below (sizeof insert);
            for (size_t index = 0; index < count; index++)
                insert [index] = s_chance (50) ? (unsigned char) s_rand () : s_interesting [s_below (sizeof s_interesting)];
            s_splice (frame, s_below (size + 1), 0, insert, count);
            break;
        }
        case 4: {                               //  deletion
            if (!size)
                break;
            size_t at = s_below (size);
            s_splice (frame, at, 1 + s_below (size - at), NULL, 0);
            break;
        }
        case 5:                                 //  truncation
            frame->size = s_below (size + 1);
            break;
        case 6:                                 //  a lying header with ff ff ff ff
        {
            static const unsigned char heads [] = { 0xdd, 0xdf, 0xdb, 0xc6, 0xdc, 0xde, 0xda, 0xc5 };
            unsigned char lie [5] = { heads [s_below (sizeof heads)], 0xff, 0xff, 0xff, 0xff };
            size_t at = s_below (size + 1);
            size_t remove = s_chance (50) && at + 5 <= size ? 5 : 0;
            s_splice (frame, at, remove, lie, 5);
            break;
        }
        case 7: {                               //  splice from a seed's frame 0
            const s_bytes_t *other = &s_seeds [s_below (SEEDS)].frames [0];
            size_t from = s_below (other->size);
            size_t count = 1 + s_below (other->size - from);
            size_t at = s_below (size + 1);
            size_t remove = s_below (size - at + 1);
            s_splice (frame, at, remove, other->data + from, count);
            break;
        }
        default:
            s_corrupt_length (frame);
            break;
    }
}

static void
s_mutate_frames (s_input_t *input)
{
    switch (s_below (5)) {
        case 0:                                 //  drop one
            if (input->count) {
                size_t at = s_below (input->count);
                free (input->frames [at].data);
                memmove (&input->frames [at], &input->frames [at + 1], (input->count - at - 1) * sizeof (s_bytes_t));
                input->count--;
            }
            break;
        case 1:                                 //  duplicate one
            if (input->count && input->count < FRAMES_CAP) {
                size_t at = s_below (input->count);
                s_frame_set (&input->frames [input->count], input->frames [at].data, input->frames [at].size);
                input->count++;
            }
            break;
        case 2:                                 //  swap two
            if (input->count >= 2) {
                size_t one = s_below (input->count), two = s_below (input->count);
                s_bytes_t keep = input->frames [one];
                input->frames [one] = input->frames [two];
                input->frames [two] = keep;
            }
            break;
        case 3:                                 //  version byte
            if (input->count && input->frames [0].size >= XINF_SIGNATURE_SIZE)
                input->frames [0].data [4] = (unsigned char) s_below (5);
            break;
        default:                                //  many extra frames
            while (input->count < FRAMES_CAP && s_chance (97))
                s_frame_set (&input->frames [input->count++], "x", s_below (2));
            break;
    }
}

// ---- decoding ------------------------------------------------------------

static size_t s_decoded, s_refused;
static size_t s_decoded_in [2];        //  versions 2 and 3

//  A decoded message must re-encode and decode to the same message.
static void
s_check_decoded (xinf_msg_t **msg_p)
{
    xinf_msg_t *msg = *msg_p;
    const char *type = xinf_msg_type (msg);
    FUZZ_CHECK (xinf_msg_type_valid (type, strlen (type)));
    FUZZ_CHECK (strlen (xinf_msg_sender (msg)) <= XINF_SENDER_MAX);
    FUZZ_CHECK (xinf_value_type (xinf_msg_body (msg)) == XINF_MAP);
    FUZZ_CHECK (xinf_msg_frame_count (msg) <= XINF_FRAMES_MAX);
    char saved_type [XINF_TYPE_MAX + 1], saved_sender [XINF_SENDER_MAX + 1];
    snprintf (saved_type, sizeof saved_type, "%s", type);
    snprintf (saved_sender, sizeof saved_sender, "%s", xinf_msg_sender (msg));
    uint64_t corr = xinf_msg_corr (msg), deadline = xinf_msg_deadline (msg);
    size_t frames = xinf_msg_frame_count (msg);
    xinf_value_t *body = xinf_value_dup (xinf_msg_body (msg));
    zmsg_t *zmsg = xinf_msg_encode (msg_p);
    char error [256] = "";
    xinf_msg_t *again = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    if (!again)
        fprintf (stderr, "re-decode failed: %s\n", error);
    FUZZ_CHECK (again);
    FUZZ_CHECK (streq (xinf_msg_type (again), saved_type));
    FUZZ_CHECK (streq (xinf_msg_sender (again), saved_sender));
    FUZZ_CHECK (xinf_msg_corr (again) == corr && xinf_msg_deadline (again) == deadline);
    FUZZ_CHECK (xinf_msg_frame_count (again) == frames);
    FUZZ_CHECK (test_value_equal (xinf_msg_body (again), body));
    xinf_value_destroy (&body);
    xinf_msg_destroy (&again);
}

//  Decodes the input (and frees it); true if it decoded.
static bool
s_decode (s_input_t *input)
{
    s_current = input;
    zmsg_t *zmsg = s_input_zmsg (input);
    char error [256];
    memset (error, 0, sizeof error);
    size_t error_size = s_chance (10) ? 2 + s_below (16) : sizeof error;
    uint64_t hint = 99;
    int version = input->count && input->frames [0].size >= XINF_SIGNATURE_SIZE ? input->frames [0].data [4] : -1;
    xinf_msg_t *msg = xinf_msg_decode (&zmsg, error, error_size, &hint);
    FUZZ_CHECK (zmsg == NULL);
    bool decoded = msg != NULL;
    if (msg) {
        s_decoded++;
        FUZZ_CHECK (hint == xinf_msg_corr (msg));
        FUZZ_CHECK (xinf_msg_version (msg) == version);
        s_decoded_in [version == 2 ? 0 : 1]++;
        s_check_decoded (&msg);
    }
    else {
        s_refused++;
        FUZZ_CHECK (error [0] != 0);
        FUZZ_CHECK (strlen (error) < error_size);
    }
    s_input_free (input);
    s_current = NULL;
    return decoded;
}

static void
s_random_frame (s_bytes_t *frame, size_t max)
{
    unsigned char data [256];
    size_t size = s_below (max + 1);
    for (size_t index = 0; index < size; index++)
        data [index] = s_chance (20) ? s_interesting [s_below (sizeof s_interesting)] : (unsigned char) s_rand ();
    s_frame_set (frame, data, size);
}

static size_t
fuzz_random_frames (size_t rounds)
{
    s_case = "random frames";
    s_input_t input;
    for (size_t round = 0; round < rounds; round++) {
        input.count = s_below (6);
        for (size_t index = 0; index < input.count; index++)
            s_random_frame (&input.frames [index], 64);
        const char *signature = s_chance (50) ? "XINF\x03" : "XINF\x02";
        if (input.count && s_chance (60))
            memcpy (input.frames [0].data, signature, input.frames [0].size < 5 ? input.frames [0].size : 5);
        if (input.count && s_chance (10)) {
            free (input.frames [0].data);
            s_frame_set (&input.frames [0], signature, 5);
        }
        //  A map or an array head (version 3's header of five, mostly)
        if (input.count && input.frames [0].size > XINF_SIGNATURE_SIZE && s_chance (40))
            input.frames [0].data [XINF_SIGNATURE_SIZE] = s_chance (50) ? (unsigned char) (0x80 | s_below (16))
                                                        : s_chance (70) ? 0x95 : (unsigned char) (0x90 | s_below (16));
        s_decode (&input);
    }
    return rounds;
}

static size_t
fuzz_mutations (size_t rounds)
{
    s_case = "mutated message";
    s_input_t input;
    for (size_t round = 0; round < rounds; round++) {
        s_input_copy (&input, &s_seeds [s_below (SEEDS)]);
        for (size_t steps = 1 + s_below (4); steps; steps--) {
            if (s_chance (15))
                s_mutate_frames (&input);
            else
            if (input.count) {
                size_t which = s_chance (80) ? 0 : s_below (input.count);
                s_mutate_bytes (&input.frames [which]);
            }
        }
        s_decode (&input);
    }
    return rounds;
}

static size_t
fuzz_frame_counts (size_t rounds)
{
    s_case = "frame counts";
    s_input_t input;
    for (size_t round = 0; round < rounds; round++) {
        s_input_copy (&input, &s_seeds [s_below (SEEDS)]);
        size_t want = s_below (FRAMES_CAP + 1);
        while (input.count < want)
            s_random_frame (&input.frames [input.count++], 8);
        bool too_many = input.count > 1 + XINF_FRAMES_MAX;
        bool decoded = s_decode (&input);
        CHECK (!(too_many && decoded));
    }
    return rounds;
}

// ---- mpscan --------------------------------------------------------------

static size_t s_scan_accepted;

static void
s_scan (const unsigned char *data, size_t size)
{
    static const xinf_mpscan_limits_t limits = { 8, 4096, 64 };
    //  Read in one pass within the same limits: accepted only when the walk
    //  and from_object both accept (checked below)
    xinf_mp_budget_t budget = { limits.max_objects, limits.max_depth, limits.max_map_entries };
    xinf_mpread_t budgeted = { data, size, 0, &budget };
    char error [128] = "";
    xinf_value_t *one_pass = xinf_value_read (&budgeted, NULL, error, sizeof error);
    bool one_pass_ok = one_pass && budgeted.at == size;
    CHECK (one_pass || error [0]);
    CHECK (budgeted.at <= size);
    error [0] = 0;
    if (xinf_mpscan (data, size, &limits, error, sizeof error)) {
        if (!error [0] || one_pass_ok)
            s_dump ();
        CHECK (error [0] != 0);
        CHECK (!one_pass_ok);
        xinf_value_destroy (&one_pass);
        return;
    }
    s_scan_accepted++;
    //  What the walk accepts, msgpack-c unpacks completely
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    int rc = msgpack_unpack_next (&unpacked, (const char *) data, size, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size) {
        fprintf (stderr, "mpscan accepted what msgpack-c refused: rc=%d offset=%zu size=%zu\n", rc, offset, size);
        s_dump ();
    }
    CHECK (rc == MSGPACK_UNPACK_SUCCESS && offset == size);
    xinf_value_t *value = xinf_value_from_object (&unpacked.data, error, sizeof error);
    CHECK (value || error [0]);
    //  The envelope's own reader comes to the same value, or refuses too
    //  (with several problems in one input it may name another first)
    char reason [128] = "";
    xinf_mpread_t reader = { data, size, 0, NULL };
    xinf_value_t *read = xinf_value_read (&reader, NULL, reason, sizeof reason);
    if (one_pass_ok != (value != NULL) || (value && !test_value_equal (value, one_pass)))
        s_dump ();
    CHECK (one_pass_ok == (value != NULL));
    CHECK (!value || test_value_equal (value, one_pass));
    xinf_value_destroy (&one_pass);
    if ((read == NULL) != (value == NULL) || (value && !test_value_equal (value, read)) || (!value && !reason [0])) {
        fprintf (stderr, "from_object: %s\nxinf_value_read: %s\n", value ? "(value)" : error, read ? "(value)" : reason);
        s_dump ();
    }
    CHECK ((read == NULL) == (value == NULL));
    CHECK (!value || test_value_equal (value, read));
    CHECK (value || reason [0]);
    xinf_value_destroy (&read);
    xinf_value_destroy (&value);
    msgpack_unpacked_destroy (&unpacked);
}

static size_t
fuzz_mpscan (size_t rounds)
{
    s_case = "mpscan";
    s_input_t input;
    for (size_t round = 0; round < rounds; round++) {
        input.count = 1;
        if (s_chance (40))
            s_random_frame (&input.frames [0], 48);
        else {
            const s_bytes_t *seed = &s_seeds [s_below (SEEDS)].frames [0];
            s_frame_set (&input.frames [0], seed->data + XINF_SIGNATURE_SIZE, seed->size - XINF_SIGNATURE_SIZE);
            for (size_t steps = 1 + s_below (3); steps; steps--)
                s_mutate_bytes (&input.frames [0]);
        }
        s_current = &input;
        s_scan (input.frames [0].data, input.frames [0].size);
        s_input_free (&input);
        s_current = NULL;
    }
    return rounds;
}

int
main (int argc, char *argv [])
{
    s_seed = argc > 1 ? strtoull (argv [1], NULL, 0) : 0x5eed2026ULL;
    size_t scale = argc > 2 ? (size_t) strtoull (argv [2], NULL, 0) : 1;
    s_state = s_seed ? s_seed : 1;
    fprintf (stderr, "test_msg_fuzz seed=0x%llx scale=%zu\n", (unsigned long long) s_seed, scale);
    s_make_seeds ();
    for (int index = 0; index < SEEDS; index++) {
        s_input_t copy;
        s_input_copy (&copy, &s_seeds [index]);
        s_decode (&copy);                       //  the seeds themselves decode
        CHECK_INT (s_decoded, index + 1);
    }
    int64_t start = zclock_mono ();
    size_t inputs = 0;
    inputs += fuzz_random_frames (30000 * scale);
    inputs += fuzz_mutations (80000 * scale);
    inputs += fuzz_frame_counts (5000 * scale);
    int64_t decode_ms = zclock_mono () - start;
    fprintf (stderr, "  decode: %zu inputs, %zu decoded, %zu refused, %lld ms\n",
             inputs, s_decoded, s_refused, (long long) decode_ms);
    CHECK (inputs >= 100000);
    CHECK_INT (s_decoded + s_refused, inputs + SEEDS);
    //  The mutations must reach both outcomes in both versions, or the fuzzer is blind
    fprintf (stderr, "  decoded: %zu in version 2, %zu in version 3\n", s_decoded_in [0], s_decoded_in [1]);
    CHECK (s_decoded > SEEDS + 100 && s_refused > inputs / 2);
    CHECK (s_decoded_in [0] > 100 && s_decoded_in [1] > 100);

    start = zclock_mono ();
    size_t scans = fuzz_mpscan (100000 * scale);
    fprintf (stderr, "  mpscan: %zu inputs, %zu accepted, %lld ms\n",
             scans, s_scan_accepted, (long long) (zclock_mono () - start));
    CHECK (s_scan_accepted > 100 && s_scan_accepted < scans);
    for (int index = 0; index < SEEDS; index++)
        s_input_free (&s_seeds [index]);
    return 0;
}
