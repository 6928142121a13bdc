/*  xinf_node_proto: the registration messages of XINF-NODE/1 (HELLO,
    WELCOME, HEARTBEAT, BYE) as records a node keeps: fixed-size strings
    and owned values that outlive the message.

    The messages are decoded and encoded by the codec generated from
    protocols/node.xml (xinf_node_msg.h), which validates every field;
    this module adds what the schema cannot say (data_ports low <= high, a
    rank below its n_ranks, an NCCL version only with NCCL) and copies the
    fields into the records.
*/
#ifndef XINF_NODE_PROTO_H_INCLUDED
#define XINF_NODE_PROTO_H_INCLUDED

#include "xinf.h"
#include "xinf_node_msg.h"

#define XINF_NODE_NAME_MAX   64
#define XINF_HOST_IP_MAX     64
#define XINF_DEVICES_MAX     64
#define XINF_MODELS_MAX      1024      //  replicas a worker reports
#define XINF_WAITS_MAX       256
#define XINF_WARNINGS_MAX    16

typedef struct {
    char node [XINF_NODE_NAME_MAX + 1];
    char host_ip [XINF_HOST_IP_MAX + 1];
    char host_ip_source [16];              //  flag, env, detected
    uint16_t data_port_low, data_port_high;
    uint16_t data_port;                    //  the probe listener's port, 0 if none
    uint64_t pid;
    uint64_t instance;                     //  drawn at the worker's start (0: not sent, an older build)
    char version [33], zmq_version [33], czmq_version [33];
    uint64_t cpus;
    uint64_t memory_bytes, memory_available_bytes;
    xinf_value_t *devices;                 //  array of device maps (owned)
    char gpu_probe [257];
    bool nccl_said;                        //  it said whether its build has NCCL (an older worker does not)
    bool nccl;                             //  its build has NCCL (GPU tensor parallelism); false when not said
    char nccl_version [33];                //  that NCCL's version, "" when none or unknown
    xinf_value_t *models;                  //  array of model maps (owned)
    uint64_t heartbeat_ms, liveness;
} xinf_hello_t;

typedef struct {
    char supervisor [XINF_NODE_NAME_MAX + 1];
    uint64_t heartbeat_ms, liveness;
    char observed_address [64];
    xinf_value_t *warnings;                //  array of str (owned)
} xinf_welcome_t;

typedef struct {
    char node [XINF_NODE_NAME_MAX + 1];
    uint64_t seq;
    xinf_value_t *waits;                   //  array of wait maps (owned), maybe empty
} xinf_heartbeat_msg_t;

//  Frees the owned values and zeroes the struct.
void xinf_hello_clear (xinf_hello_t *self);
void xinf_welcome_clear (xinf_welcome_t *self);
void xinf_heartbeat_msg_clear (xinf_heartbeat_msg_t *self);

//  Encoders copy the owned values; the struct stays the caller's.
xinf_msg_t *xinf_hello_encode (const xinf_hello_t *self);
xinf_msg_t *xinf_welcome_encode (const xinf_welcome_t *self);
xinf_msg_t *xinf_heartbeat_msg_encode (const xinf_heartbeat_msg_t *self);
xinf_msg_t *xinf_bye_encode (const char *node);

//  Decoders: 0 and a filled struct, or -1 with the reason in check.
int xinf_hello_decode (xinf_msg_t *msg, xinf_hello_t *self, xinf_check_t *check);
int xinf_welcome_decode (xinf_msg_t *msg, xinf_welcome_t *self, xinf_check_t *check);
int xinf_heartbeat_msg_decode (xinf_msg_t *msg, xinf_heartbeat_msg_t *self, xinf_check_t *check);
int xinf_bye_decode (xinf_msg_t *msg, char *node, size_t node_size, xinf_check_t *check);

#endif
