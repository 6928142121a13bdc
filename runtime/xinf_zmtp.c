/*  xinf_zmtp: the ZMTP 3 greeting, read by hand (see xinf_zmtp.h).

    Greeting layout (ZMTP 3.x, rfc.zeromq.org/spec/23):
      0       0xFF
      1..8    padding
      9       0x7F
      10      major version (3)
      11      minor version
      12..31  mechanism name, ASCII, NUL-padded
      32      as-server flag
      33..63  filler (zeros)
*/
#include "xinf_zmtp.h"
#include <string.h>

#define MECHANISM_AT    12
#define MECHANISM_SIZE  20

void
xinf_zmtp_opening (uint8_t out [XINF_ZMTP_OPENING_SIZE])
{
    memset (out, 0, XINF_ZMTP_OPENING_SIZE);
    out [0] = 0xFF;
    out [9] = 0x7F;
    out [10] = 3;
}

//  Checks the bytes seen so far against the fixed parts of a greeting.
static int
s_prefix_valid (const uint8_t *bytes, size_t size)
{
    if (size > 0 && bytes [0] != 0xFF)
        return 0;
    if (size > 9 && bytes [9] != 0x7F)
        return 0;
    if (size > 10 && bytes [10] < 3)
        return 0;
    return 1;
}

int
xinf_zmtp_mechanism (const uint8_t *bytes, size_t size, char *mechanism, size_t mechanism_size)
{
    if (!s_prefix_valid (bytes, size))
        return -1;
    if (size < MECHANISM_AT + MECHANISM_SIZE)
        return 0;
    const uint8_t *name = bytes + MECHANISM_AT;
    size_t length = 0;
    while (length < MECHANISM_SIZE && name [length])
        length++;
    for (size_t index = 0; index < length; index++)
        if (name [index] < 0x21 || name [index] > 0x7E)
            return -1;            //  the spec allows printable ASCII only
    for (size_t index = length; index < MECHANISM_SIZE; index++)
        if (name [index])
            return -1;            //  padding must be zeros
    if (length == 0)
        return -1;
    if (mechanism && mechanism_size) {
        size_t copied = length < mechanism_size - 1 ? length : mechanism_size - 1;
        memcpy (mechanism, name, copied);
        mechanism [copied] = 0;
    }
    return 1;
}
