/*
 * tramp_layout.h (x86-64): where tramp_entry_ret and tramp_entry's fast
 * path find what they read and write in C structures: a hook (struct
 * hook, interpose.c), a shadow stack entry (struct shadow_ent) and a
 * hooked call (struct hook_call).  Included by trampoline.S and
 * by interpose.c, which checks every offset against the structures at
 * compile time, so the two cannot drift apart.
 */
#ifndef REFSAN_TRAMP_LAYOUT_H
#define REFSAN_TRAMP_LAYOUT_H

/* struct hook */
#define HOOK_SIZE 128       /* sizeof */
#define HOOK_REAL 0         /* uintptr_t: the function's entry */
#define HOOK_LO 8           /* uintptr_t: its library's text */
#define HOOK_HI 16
#define HOOK_GEN 24         /* _Atomic unsigned */
#define HOOK_OWN 28         /* bool */
#define HOOK_FAST_ARGN 29   /* unsigned char */
#define HOOK_FAST 32        /* bool (*)(uintptr_t, struct engine_call *) */
#define HOOK_LEAVE_FAST 40  /* void (*)(uintptr_t, struct engine_call *) */
#define HOOK_SITE 64        /* struct engine_site */

/* struct hook_call: struct engine_call, then the return address slot */
#define HC_SIZE 24
#define HC_SITE 0           /* const struct engine_site * */
#define HC_INTERNAL 8       /* bool */
#define HC_STACK 12         /* uint32_t */
#define HC_RA_SLOT 16       /* const uintptr_t * */

/* struct shadow_ent */
#define SHADOW_ENT_SIZE 80
#define SE_SLOT 0           /* uintptr_t * */
#define SE_ORIG 8           /* uintptr_t */
#define SE_ARG 16           /* uintptr_t */
#define SE_IDX 64           /* unsigned */
#define SE_GEN 68           /* unsigned */
#define SE_INTERNAL 72      /* bool */
#define SE_RELEASED 73      /* bool */
#define SE_FIXED 74         /* bool */

/* struct refsan_thread (guard.h), a TLS variable */
#define T_IN_SHIM 0         /* int */
#define T_SHADOW_DEPTH 4    /* unsigned */
#define T_SHADOW 8          /* struct shadow_ent * */
#define T_ERRNO_AT 16       /* int * */

#define SHADOW_MAX 256      /* pending hijacked calls per thread */
#define TRAMP_INIT_READY 2  /* enum init_state's INIT_READY */

#endif
