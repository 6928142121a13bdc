/*  xinf_tsan: tells ThreadSanitizer about the ordering ZeroMQ gives.

    Threads hand each other memory through ZeroMQ: a frame written by one
    actor is read by another after an inproc send (zero copy), and a
    zactor's owner reads what the actor thread wrote before it signalled
    its pipe. libzmq is not instrumented, so ThreadSanitizer cannot see
    that the send happens before the receive and reports a race. The sender
    releases the memory it hands over, the receiver acquires it: exactly
    the ordering ZeroMQ guarantees for that memory, nothing broader. Outside
    a -DXINF_TSAN=ON build these are no-ops.
*/
#ifndef XINF_TSAN_H_INCLUDED
#define XINF_TSAN_H_INCLUDED

#if defined(__SANITIZE_THREAD__)
#   define XINF_TSAN_ON 1
#elif defined(__has_feature)
#   if __has_feature(thread_sanitizer)
#       define XINF_TSAN_ON 1
#   endif
#endif

#ifdef XINF_TSAN_ON
void __tsan_acquire (void *address);
void __tsan_release (void *address);
//  Before handing 'address' to another thread through ZeroMQ.
#   define xinf_tsan_release(address) __tsan_release ((void *) (address))
//  After receiving 'address' from another thread through ZeroMQ.
#   define xinf_tsan_acquire(address) __tsan_acquire ((void *) (address))
#else
#   define xinf_tsan_release(address) ((void) (address))
#   define xinf_tsan_acquire(address) ((void) (address))
#endif

#endif
