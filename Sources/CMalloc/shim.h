#ifndef FLEET_CMALLOC_SHIM_H
#define FLEET_CMALLOC_SHIM_H
// glibc's mallopt(3), which Swift's Glibc module does not export (it leaves out <malloc.h>).
#include <malloc.h>

// At most `n` malloc arenas for the whole process; call it before any thread starts.
// Returns 1 on success, 0 on error (mallopt's own convention).
static inline int fleet_malloc_arena_max(int n) {
    return mallopt(M_ARENA_MAX, n);
}
#endif
