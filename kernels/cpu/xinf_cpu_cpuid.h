/*  xinf_cpu_cpuid: CPU features that __builtin_cpu_supports does not name
    in every compiler (clang 14 lacks "f16c"), read with CPUID itself.  */
#ifndef XINF_CPU_CPUID_H_INCLUDED
#define XINF_CPU_CPUID_H_INCLUDED

#include <stdbool.h>

#if defined (__x86_64__) || defined (__i386__)
#include <cpuid.h>

//  F16C: half <-> single conversions (CPUID leaf 1, ECX bit 29).
static inline bool
xinf_cpu_has_f16c (void)
{
    unsigned int eax, ebx, ecx, edx;
    return __get_cpuid (1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
}

//  The AVX2 kernel sets' needs: AVX2, FMA and F16C.
static inline bool
xinf_cpu_has_avx2_set (void)
{
    __builtin_cpu_init ();
    return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") && xinf_cpu_has_f16c ();
}

//  GFNI (leaf 7, ECX bit 8) and AVX-512 VBMI (leaf 7, ECX bit 1).
static inline bool
xinf_cpu_has_gfni_vbmi (void)
{
    unsigned int eax, ebx, ecx, edx;
    return __get_cpuid_count (7, 0, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 8)) && (ecx & (1u << 1));
}
#else
static inline bool xinf_cpu_has_f16c (void) { return false; }
static inline bool xinf_cpu_has_gfni_vbmi (void) { return false; }
static inline bool xinf_cpu_has_avx2_set (void) { return false; }
#endif

#endif
