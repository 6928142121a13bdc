/*  xinf_msg: the XINF envelope, the one message format of every xinf protocol.

    On the wire (protocols/envelope.md, version 3):

        frame 0   "XINF" + version byte (0x03), then the MessagePack header
                  array [type, corr, sender, deadline, body] in the same
                  frame (version 2: a map with those keys)
        frame 1+  zero or more binary frames (tensors, weights), never
                  re-encoded or copied

    A message is sent in version 3; versions 2 and 3 are both read. A
    decoded message remembers its version, and a router answers each peer
    in the version that peer used last (xinf_router_send), so that a
    version-2 client keeps working unchanged.

    A message without bulk data is one frame: ZeroMQ's per-frame costs
    (pipe entries, wake-ups, ZMTP frame headers) are paid once.

    Decoding validates every frame and field (signature, version, frame
    count, header size, structure before anything is allocated, field
    types, ranges and lengths) and gives a precise reason instead of
    crashing. Header and body are written and read with xinf_mpack
    (msgpack-c's encodings, no callbacks, no zone): the canonical header
    (the shortest encodings; in version 2 the keys in the spec's order, as
    this encoder and the Python client write them) is read straight into
    the message, any other valid form through the full check, which also
    gives the reasons; only the body becomes a value tree.

    A message is one allocation for the usual small message: the header
    fields, the body map and the body's keys and small values share the
    message's block (xinf_value_new_map_in); larger bodies spill into
    allocations of their own. The body map belongs to the message: take
    values out with xinf_map_take (a copy when it lived in the block),
    never the map itself.
*/
#ifndef XINF_MSG_H_INCLUDED
#define XINF_MSG_H_INCLUDED

#include <czmq.h>
#include "xinf_value.h"

#define XINF_SIGNATURE          "XINF"
#define XINF_SIGNATURE_SIZE     5           //  "XINF" + the version byte
#define XINF_VERSION            3           //  the envelope version sent
#define XINF_VERSION_MIN        2           //  the oldest version read (and answered in)
#define XINF_TYPE_MAX           32          //  bytes in a message type
#define XINF_SENDER_MAX         128         //  bytes in a sender name
#define XINF_HEADER_MAX         (1 << 20)   //  bytes of MessagePack in frame 0
#define XINF_FRAMES_MAX         64          //  binary frames after frame 0
#define XINF_DEPTH_MAX          16          //  nesting of arrays/maps in the header
#define XINF_OBJECTS_MAX        (1 << 18)   //  values in the header
#define XINF_MAP_ENTRIES_MAX    1024        //  entries in one map

typedef struct _xinf_msg_t xinf_msg_t;

//  A new message of 'type' (1-32 of A-Z, 0-9, _), an empty body map, no frames.
//  An invalid type is a programming error: it is logged and aborts.
xinf_msg_t *xinf_msg_new (const char *type);
void xinf_msg_destroy (xinf_msg_t **self_p);

const char *xinf_msg_type (const xinf_msg_t *self);
bool xinf_msg_is (const xinf_msg_t *self, const char *type);
uint64_t xinf_msg_corr (const xinf_msg_t *self);
void xinf_msg_set_corr (xinf_msg_t *self, uint64_t corr);
const char *xinf_msg_sender (const xinf_msg_t *self);
void xinf_msg_set_sender (xinf_msg_t *self, const char *sender);
//  Milliseconds the sender will wait for an answer, from when it sent; 0 = none.
uint64_t xinf_msg_deadline (const xinf_msg_t *self);
void xinf_msg_set_deadline (xinf_msg_t *self, uint64_t deadline_ms);

//  The envelope version the message is encoded in: XINF_VERSION for a new
//  one, the version it came in for a decoded one. A version outside
//  XINF_VERSION_MIN .. XINF_VERSION is a programming error: logged, aborts.
int xinf_msg_version (const xinf_msg_t *self);
void xinf_msg_set_version (xinf_msg_t *self, int version);

//  The body map: read it, or build it with xinf_map_put_*.
xinf_value_t *xinf_msg_body (xinf_msg_t *self);

//  Binary frames. add_frame takes ownership; add_bytes copies.
void xinf_msg_add_frame (xinf_msg_t *self, zframe_t **frame_p);
void xinf_msg_add_bytes (xinf_msg_t *self, const void *data, size_t size);
size_t xinf_msg_frame_count (const xinf_msg_t *self);
zframe_t *xinf_msg_frame (const xinf_msg_t *self, size_t index);

//  Encodes into frames, consuming the message (binary frames are moved,
//  not copied). Never fails: xinf_msg_new refuses invalid types.
zmsg_t *xinf_msg_encode (xinf_msg_t **self_p);

//  Decodes, consuming zmsg. NULL on bad input with the reason in 'error';
//  'corr_hint' (may be NULL) gets the correlation id when the header had a
//  readable one, 0 otherwise, so that an ERROR reply can be correlated (a
//  header over XINF_HEADER_MAX too: its corr is read from its first bytes).
xinf_msg_t *xinf_msg_decode (zmsg_t **zmsg_p, char *error, size_t error_size, uint64_t *corr_hint);

//  For the endpoints: frame 0 (signature and header) packed into 'head'
//  (on the stack first), the binary frames returned, NULL when there are
//  none; consumes the message. Release the head after sending.
typedef xinf_mpbuf_t xinf_wire_t;
zmsg_t *xinf_msg_encode_wire (xinf_msg_t **self_p, xinf_wire_t *head);
void xinf_wire_release (xinf_wire_t *self);
//  Decodes from frame 0 as bytes (NULL if absent) and the binary frames
//  (consumed; *frames_p may be NULL for none), with the checks and reasons
//  of xinf_msg_decode.
xinf_msg_t *xinf_msg_decode_wire (const byte *head, size_t head_size, zmsg_t **frames_p,
                                  char *error, size_t error_size, uint64_t *corr_hint);

//  Builds an ERROR message: body { code, message }.
xinf_msg_t *xinf_msg_new_error (uint64_t corr, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  True for 1-32 bytes of A-Z, 0-9 and '_', starting with a letter.
bool xinf_msg_type_valid (const char *type, size_t length);

#endif
