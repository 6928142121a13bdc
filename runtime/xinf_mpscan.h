/*  xinf_mpscan: a bounded structural walk over MessagePack bytes, run before
    msgpack-c sees a frame.

    msgpack-c's unpacker allocates by the *declared* element count, so five
    bytes "dd ff ff ff ff" (array32) would make it try to allocate ~96 GB.
    This walk checks every declared array/map count and str/bin length
    against the bytes actually left, the nesting depth, the object count and
    the per-map entry cap, and that exactly one object fills the buffer.
    It allocates nothing.
*/
#ifndef XINF_MPSCAN_H_INCLUDED
#define XINF_MPSCAN_H_INCLUDED

#include <stddef.h>

typedef struct {
    size_t max_depth;         //  nesting of arrays/maps, e.g. 16
    size_t max_objects;       //  every value counts one, e.g. 262144
    size_t max_map_entries;   //  per map, e.g. 1024
} xinf_mpscan_limits_t;

//  0 when the buffer holds exactly one acceptable object; -1 with a reason.
int xinf_mpscan (const unsigned char *data, size_t size, const xinf_mpscan_limits_t *limits,
                 char *error, size_t error_size);

#endif
