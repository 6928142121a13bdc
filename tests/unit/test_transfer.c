/*  test_transfer: what both sides of a model file transfer share
    (actors/xinf_transfer): SHA-256 against the FIPS 180-2 / NIST example
    vectors (empty, "abc", the 448-bit message, a million 'a'), the same
    digest fed in pieces and peeked on the way, a file's digest with its
    prefix's in one pass (and a file shorter than said), digests remembered
    by file identity, and the names a fetched file may land under.  */
#include "test_unit.h"
#include "xinf_transfer.h"

#include <fcntl.h>
#include <unistd.h>

static void
s_digest (const void *data, size_t size, const char *expected)
{
    xinf_sha256_t *sum = xinf_sha256_new ();
    CHECK (sum);
    xinf_sha256_update (sum, data, size);
    char hex [XINF_SHA256_HEX];
    xinf_sha256_peek (sum, hex);
    CHECK_STR (hex, expected);
    CHECK (xinf_sha256_hex_valid (hex));
    xinf_sha256_destroy (&sum);
    CHECK (sum == NULL);
}

static void
s_vectors (void)
{
    s_digest ("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    s_digest ("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *long_message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    s_digest (long_message, strlen (long_message), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    //  A million 'a', in uneven pieces, peeked on the way: peeking does not
    //  end the digest
    xinf_sha256_t *sum = xinf_sha256_new ();
    char piece [997], hex [XINF_SHA256_HEX];
    memset (piece, 'a', sizeof piece);
    size_t done = 0;
    while (done < 1000000) {
        size_t size = 1000000 - done < sizeof piece ? 1000000 - done : sizeof piece;
        xinf_sha256_update (sum, piece, size);
        done += size;
        if (done == 3 * sizeof piece) {
            xinf_sha256_peek (sum, hex);
            CHECK (xinf_sha256_hex_valid (hex));
        }
    }
    xinf_sha256_peek (sum, hex);
    CHECK_STR (hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    xinf_sha256_peek (sum, hex);       //  twice: the same
    CHECK_STR (hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    xinf_sha256_destroy (&sum);
}

static int
s_count (uint64_t done, uint64_t total, void *arg)
{
    (*(int *) arg)++;
    return done > total;               //  never: a progress that goes past the end stops it
}

static void
s_file (void)
{
    char path [] = "/tmp/xinf-test-transfer-XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    //  3 MiB + 5 of 'a': the digest of the first 1000000 bytes on the way
    char *data = malloc (3 * 1048576 + 5);
    memset (data, 'a', 3 * 1048576 + 5);
    CHECK_INT (write (fd, data, 3 * 1048576 + 5), 3 * 1048576 + 5);
    xinf_sha256_t *sum = xinf_sha256_new ();
    char prefix [XINF_SHA256_HEX] = "", hex [XINF_SHA256_HEX], error [256];
    int calls = 0;
    CHECK_INT (xinf_sha256_file (fd, 3 * 1048576 + 5, sum, 1000000, prefix, s_count, &calls, error, sizeof error), 0);
    CHECK_STR (prefix, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CHECK (calls >= 4);
    xinf_sha256_peek (sum, hex);
    xinf_sha256_t *whole = xinf_sha256_new ();
    xinf_sha256_update (whole, data, 3 * 1048576 + 5);
    char expected [XINF_SHA256_HEX];
    xinf_sha256_peek (whole, expected);
    CHECK_STR (hex, expected);
    xinf_sha256_destroy (&whole);
    xinf_sha256_destroy (&sum);
    //  A file shorter than said: an error naming where it ends
    sum = xinf_sha256_new ();
    CHECK_INT (xinf_sha256_file (fd, 3 * 1048576 + 6, sum, 0, NULL, NULL, NULL, error, sizeof error), -1);
    CHECK_HAS (error, "ends at byte 3145733");
    xinf_sha256_destroy (&sum);
    close (fd);
    unlink (path);
    free (data);
}

//  Digests remembered by file identity: found while the file is the same,
//  not once it changed, the oldest forgotten first.
static void
s_sums (void)
{
    char one [] = "/tmp/xinf-test-sums-XXXXXX", two [] = "/tmp/xinf-test-sums-XXXXXX";
    int fd_one = mkstemp (one), fd_two = mkstemp (two);
    CHECK (fd_one >= 0 && fd_two >= 0);
    CHECK_INT (write (fd_one, "abc", 3), 3);
    struct stat info_one, info_two;
    CHECK (fstat (fd_one, &info_one) == 0 && fstat (fd_two, &info_two) == 0);
    xinf_sums_t *sums = xinf_sums_new (2);
    CHECK (xinf_sums_find (sums, &info_one) == NULL);
    xinf_sums_remember (sums, &info_one, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_STR (xinf_sums_find (sums, &info_one), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK (xinf_sums_find (sums, &info_two) == NULL);
    //  The same file, written since: another size and mtime, not found
    CHECK_INT (write (fd_one, "d", 1), 1);
    struct stat changed;
    CHECK (fstat (fd_one, &changed) == 0);
    CHECK (!xinf_stat_same (&changed, &info_one));
    CHECK (xinf_sums_find (sums, &changed) == NULL);
    //  Remembered again: replaced in place; then a third file evicts the oldest
    xinf_sums_remember (sums, &info_one, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR (xinf_sums_find (sums, &info_one), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    xinf_sums_remember (sums, &info_two, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    xinf_sums_remember (sums, &changed, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CHECK (xinf_sums_find (sums, &info_one) == NULL);
    CHECK (xinf_sums_find (sums, &info_two) != NULL && xinf_sums_find (sums, &changed) != NULL);
    xinf_sums_destroy (&sums);
    CHECK (sums == NULL);
    close (fd_one);
    close (fd_two);
    unlink (one);
    unlink (two);
}

static void
s_names (void)
{
    CHECK_STR (xinf_transfer_basename ("/srv/models/qwen.gguf"), "qwen.gguf");
    CHECK_STR (xinf_transfer_basename ("qwen.gguf"), "qwen.gguf");
    CHECK_STR (xinf_transfer_basename ("../../etc/passwd"), "passwd");
    CHECK_STR (xinf_transfer_basename ("/srv/models/"), "");
    CHECK (xinf_transfer_name_valid ("qwen2.5-0.5b-instruct-q4_k_m.gguf"));
    CHECK (xinf_transfer_name_valid ("passwd"));
    CHECK (xinf_transfer_name_valid ("a"));
    const char *bad [] = { "", ".", "..", ".hidden", "a/b", "model.gguf.part", "tab\there", "new\nline", "del\x7f" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        CHECK (!xinf_transfer_name_valid (bad [index]));
    CHECK (!xinf_transfer_name_valid (NULL));
    char longest [XINF_TRANSFER_NAME_MAX + 2];
    memset (longest, 'm', sizeof longest);
    longest [XINF_TRANSFER_NAME_MAX] = 0;
    CHECK (xinf_transfer_name_valid (longest));
    longest [XINF_TRANSFER_NAME_MAX] = 'm';
    longest [XINF_TRANSFER_NAME_MAX + 1] = 0;
    CHECK (!xinf_transfer_name_valid (longest));
    CHECK (!xinf_sha256_hex_valid ("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    CHECK (!xinf_sha256_hex_valid ("e3b0"));
    CHECK (!xinf_sha256_hex_valid (NULL));
}

int
main (void)
{
    s_vectors ();
    s_file ();
    s_sums ();
    s_names ();
    printf ("unit_transfer: OK\n");
    return 0;
}
