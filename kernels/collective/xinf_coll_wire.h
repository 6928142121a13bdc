/*  xinf_coll_wire: the frames of the CPU collective over ZeroMQ, as
    protocols/collective.md specifies them: the fixed 40-byte little-endian
    header, the payload of JOIN / ACK / REJECT, and the group hash. Pure
    byte codec (no sockets, no state), so that tests can forge frames.

        uint8_t header [XINF_COLL_WIRE_HEADER_SIZE];
        xinf_coll_header_t fields = { XINF_COLL_REDUCE, 0, 1, xinf_coll_group_hash ("uid/3"), 7, 3584 };
        xinf_coll_header_encode (header, &fields);
*/
#ifndef XINF_COLL_WIRE_H_INCLUDED
#define XINF_COLL_WIRE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_COLL_WIRE_HEADER_SIZE   40
#define XINF_COLL_WIRE_VERSION       1
#define XINF_COLL_WIRE_GROUP_MAX     128
#define XINF_COLL_WIRE_CONTROL_MAX   (4 + XINF_COLL_WIRE_GROUP_MAX)

//  Message kinds (header byte 5).
enum {
    XINF_COLL_JOIN = 1,         //  DEALER -> ROUTER: "I am rank S of this group, for rank T"
    XINF_COLL_ACK = 2,          //  ROUTER -> DEALER: the JOIN is accepted
    XINF_COLL_REJECT = 3,       //  ROUTER -> DEALER: refused; says who answered
    XINF_COLL_REDUCE = 4,       //  an all-reduce contribution (little-endian float32)
    XINF_COLL_BCAST = 5         //  a broadcast payload (bytes)
};

typedef struct {
    unsigned kind;
    uint32_t sender, target;    //  ranks
    uint64_t group;             //  xinf_coll_group_hash of the group id
    uint64_t seq;               //  operation sequence number; 0 for JOIN/ACK/REJECT
    uint64_t length;            //  bytes of the payload frame
} xinf_coll_header_t;

//  Writes XINF_COLL_WIRE_HEADER_SIZE bytes (magic, version and the fields).
void xinf_coll_header_encode (uint8_t *out, const xinf_coll_header_t *header);

//  Reads a received header frame of 'size' bytes that came with a payload
//  frame of 'payload_size' bytes; false with the reason if either is wrong
//  (size, magic, version, kind, length).
bool xinf_coll_header_decode (const uint8_t *bytes, size_t size, size_t payload_size,
                              xinf_coll_header_t *header, char *reason, size_t reason_size);

//  "JOIN", "all_reduce data", ...; "?" for an unknown kind.
const char *xinf_coll_kind_name (unsigned kind);

//  64-bit FNV-1a of the group id's bytes.
uint64_t xinf_coll_group_hash (const char *group);

//  The payload of JOIN, ACK and REJECT: u32 group size, then the group id
//  (no NUL). 'out' has room for XINF_COLL_WIRE_CONTROL_MAX bytes; returns
//  the length.
size_t xinf_coll_control_encode (uint8_t *out, uint32_t size, const char *group);

//  'group' has room for XINF_COLL_WIRE_GROUP_MAX + 1 bytes; false if the
//  payload is too short, too long or holds a NUL.
bool xinf_coll_control_decode (const uint8_t *bytes, size_t length, uint32_t *size, char *group);

#endif
