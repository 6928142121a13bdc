/*  xinf_malloc: the process's malloc, set for message traffic between
    threads (see xinf_malloc.h).  */
#include "xinf_malloc.h"
#include <stdlib.h>             //  defines __GLIBC__ on glibc
#if defined (__GLIBC__)
#include <malloc.h>
#endif

bool
xinf_malloc_tune (void)
{
#if defined (__GLIBC__) && defined (M_MXFAST)
    //  glibc's largest: 80 * sizeof (size_t) / 4 bytes asked for
    return mallopt (M_MXFAST, (int) (80 * sizeof (size_t) / 4)) == 1;
#else
    return false;
#endif
}
