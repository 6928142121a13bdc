/*  xinf_zmtp: the ZMTP 3 greeting, read by hand.

    Every ZeroMQ peer starts a TCP connection with a 64-byte greeting: a
    signature (0xFF, 8 bytes of padding, 0x7F), the protocol version, and
    the name of the security mechanism it insists on ("NULL", "PLAIN",
    "CURVE"). When a handshake goes nowhere, reading that greeting tells a
    server that wants CURVE keys from one that speaks no ZeroMQ at all,
    without relying on when libzmq's socket monitor reports the mismatch.
*/
#ifndef XINF_ZMTP_H_INCLUDED
#define XINF_ZMTP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define XINF_ZMTP_GREETING_SIZE  64

//  The start of our greeting, all we send: the signature and major
//  version 3. A peer answers it with its whole greeting. Sending our
//  mechanism too would make a peer that wants another one hang up before
//  its own mechanism leaves it.
#define XINF_ZMTP_OPENING_SIZE  11
void xinf_zmtp_opening (uint8_t out [XINF_ZMTP_OPENING_SIZE]);

//  Reads the peer's greeting from the first 'size' bytes it sent: 1 when it
//  is a whole ZMTP 3 greeting (its mechanism, NUL-ended, in 'mechanism');
//  0 when the bytes so far are a greeting's start and more are needed; -1
//  when they are not ZMTP 3 (another program, or ZMTP 1/2).
int xinf_zmtp_mechanism (const uint8_t *bytes, size_t size, char *mechanism, size_t mechanism_size);

#endif
