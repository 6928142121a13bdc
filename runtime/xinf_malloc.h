/*  xinf_malloc: the process's malloc, set for message traffic between
    threads.

    libzmq copies every message over 33 bytes into a buffer it mallocs on
    the sending thread, and its I/O thread frees that buffer once written
    (inproc: the receiving thread frees it). With glibc's defaults a
    buffer over 128 bytes is freed into the sender's arena under that
    arena's lock, the same lock the sender's next malloc takes: an actor
    replying as fast as it can and its I/O thread then take turns on one
    lock, and sleep on it (profiled in issue #14: a fifth of a small
    message's CPU). glibc's fast bins are freed without the lock; this
    makes them as large as glibc allows (160 bytes), which covers an
    envelope with a small body, a token, a heartbeat.

    It changes malloc for the whole process, so the library does not do it
    by itself: xinf-node, the executor and the benchmarks call it at start,
    and an embedder may (xinf_tune_malloc in include/xinf/xinf.h).
*/
#ifndef XINF_MALLOC_H_INCLUDED
#define XINF_MALLOC_H_INCLUDED

#include <stdbool.h>

//  Sets the fast bins' limit to glibc's largest; true when set (false on
//  a C library without mallopt's M_MXFAST).
bool xinf_malloc_tune (void);

#endif
