/*  stub */
#include "xinf_cpu_q8_act.h"
const xinf_cpu_q8_kern_t *xinf_cpu_q8_avx2 (void) { return NULL; }
const xinf_cpu_q8_kern_t *xinf_cpu_q8_avx512 (void) { return NULL; }
