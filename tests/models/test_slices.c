/*  test_slices: xinf_slices reads each view into the image where it is,
    and asks for huge pages on exactly the whole 2 MB pages inside runs of
    nearly adjacent views (never on memory no view names, so a rank that
    uses part of a tensor holds no more of it); the advice is read back
    from /proc/self/smaps (VmFlags "hg"). Skips visibly where the kernel
    has no transparent huge pages.
*/
#include "test_unit.h"
#include "xinf_slices.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#define MB ((size_t) 1 << 20)

//  The reader: the "file" is a pattern of the offset in the image.
static int
s_read_pattern (void *arg, const void *at, size_t bytes, void *into, char *error, size_t error_size)
{
    (void) error, (void) error_size;
    const uint8_t *base = arg;
    for (size_t i = 0; i < bytes; i++)
        ((uint8_t *) into) [i] = (uint8_t) (((const uint8_t *) at - base + i) * 131 >> 3);
    return 0;
}

//  Whether the mapping holding 'at' is advised to huge pages (-1: no
//  VmFlags to read).
static int
s_advised (const void *at)
{
    FILE *smaps = fopen ("/proc/self/smaps", "r");
    if (!smaps)
        return -1;
    char line [512];
    bool inside = false;
    int found = -1;
    while (fgets (line, sizeof line, smaps)) {
        unsigned long start, end;
        if (sscanf (line, "%lx-%lx ", &start, &end) == 2 && strchr (line, '-') < strchr (line, ' '))
            inside = (uintptr_t) at >= start && (uintptr_t) at < end;
        else
        if (inside && strncmp (line, "VmFlags:", 8) == 0) {
            found = strstr (line, " hg") != NULL;
            break;
        }
    }
    fclose (smaps);
    return found;
}

//  Whether this kernel takes the advice at all.
static bool
s_have_huge (void)
{
    void *probe = mmap (NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK (probe != MAP_FAILED);
    bool have = madvise (probe, 4 * MB, MADV_HUGEPAGE) == 0 && s_advised (probe) == 1;
    munmap (probe, 4 * MB);
    return have;
}

static void
test_views_advised (void)
{
    if (!s_have_huge ()) {
        printf ("  SKIPPED: no transparent huge pages (madvise or smaps)\n");
        return;
    }
    //  A 16 MB image at a 2 MB boundary
    uint8_t *mapping = mmap (NULL, 18 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK (mapping != MAP_FAILED);
    uint8_t *image = (uint8_t *) (((uintptr_t) mapping + 2 * MB - 1) & ~(uintptr_t) (2 * MB - 1));
    xinf_slices_t *slices = xinf_slices_new (s_read_pattern, image);
    CHECK (slices);
    //  Run one: [1 MB, 3 MB + 100) and [3 MB + 132, 7 MB + 5), added out
    //  of order (a gap of 32 bytes, tensor alignment); run two, alone past
    //  a gap of 3 MB: [10 MB + 7, 11 MB + 9)
    CHECK (xinf_slices_view (slices, image + 3 * MB + 132, 4 * MB - 127) == image + 3 * MB + 132);
    CHECK (xinf_slices_view (slices, image + MB, 2 * MB + 100) == image + MB);
    CHECK (xinf_slices_view (slices, image + 10 * MB + 7, MB + 2) == image + 10 * MB + 7);
    char error [256] = "";
    CHECK (xinf_slices_read (slices, NULL, NULL, error, sizeof error) == 0);
    //  Every byte of the views read where it is, none past them
    for (size_t at = MB; at < 7 * MB + 5; at += 4093)
        if (at < 3 * MB + 100 || at >= 3 * MB + 132)
            CHECK_INT (image [at], (uint8_t) (at * 131 >> 3));
    CHECK_INT (image [10 * MB + 7], (uint8_t) ((10 * MB + 7) * 131 >> 3));
    CHECK_INT (image [11 * MB + 8], (uint8_t) ((11 * MB + 8) * 131 >> 3));
    CHECK_INT (image [7 * MB + 5], 0);
    CHECK_INT (image [10 * MB + 6], 0);
    //  The whole huge pages inside run one, [2 MB, 6 MB), and nothing else:
    //  not the partial pages at its ends, not run two (no whole page)
    CHECK_INT (s_advised (image + 2 * MB), 1);
    CHECK_INT (s_advised (image + 6 * MB - 1), 1);
    CHECK_INT (s_advised (image + 2 * MB - 1), 0);
    CHECK_INT (s_advised (image + 6 * MB), 0);
    CHECK_INT (s_advised (image + 10 * MB + 7), 0);
    CHECK_INT (s_advised (image + 12 * MB), 0);
    xinf_slices_destroy (&slices);
    munmap (mapping, 18 * MB);
}

int
main (void)
{
    RUN (test_views_advised);
    return 0;
}
