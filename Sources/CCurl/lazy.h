#ifndef CUTOVER_LAZY_H
#define CUTOVER_LAZY_H
// Loading a shared library the first time it is needed, for CCurl and CPostgres: each keeps
// one `cutover_lazy_library`, opened once (`pthread_once`), and finds each function it
// forwards to once (`CUTOVER_LAZY_FUNCTION`, kept in the forwarding function).
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct cutover_lazy_library {
    const char *soname;
    pthread_once_t once;
    void *handle;
    char why[512];
};

static inline void cutover_lazy_open(struct cutover_lazy_library *lib) {
    lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) {
        const char *e = dlerror();
        snprintf(lib->why, sizeof lib->why, "%s could not be loaded: %s", lib->soname, e ? e : "unknown error");
    }
}

// A function of a library already loaded. The entry points (a transfer, a connection) look
// at `cutover_*_unavailable()` first and say why to the person; past them a function can only
// be missing from a broken installation, which stops the program with its name.
static inline void *cutover_lazy_symbol(struct cutover_lazy_library *lib, const char *name) {
    void *p = lib->handle ? dlsym(lib->handle, name) : NULL;
    if (!p) {
        fprintf(stderr, "cutover: %s of %s is not available; install it again (scripts/install-deps)\n", name, lib->soname);
        abort();
    }
    return p;
}

// The library `soname` as `prefix`: `prefix_loaded()` opens it once and returns it;
// `prefix_unavailable()` is NULL once it is loaded, else why it cannot be.
#define CUTOVER_LAZY_LIBRARY(prefix, soname)                                         \
    static struct cutover_lazy_library prefix = {soname, PTHREAD_ONCE_INIT, NULL, {0}}; \
    static void prefix##_open(void) { cutover_lazy_open(&prefix); }                  \
    static inline struct cutover_lazy_library *prefix##_loaded(void) {               \
        pthread_once(&prefix.once, prefix##_open);                                    \
        return &prefix;                                                               \
    }                                                                                 \
    static inline const char *prefix##_unavailable(void) {                           \
        struct cutover_lazy_library *lib = prefix##_loaded();                         \
        return lib->handle ? NULL : lib->why;                                         \
    }

// Declares `f`, the library's function `name` of type `type`; `loaded` returns the library
// (`struct cutover_lazy_library *`), opened.
#define CUTOVER_LAZY_FUNCTION(loaded, type, name)             \
    static void *slot_;                                       \
    void *p_ = __atomic_load_n(&slot_, __ATOMIC_ACQUIRE);     \
    if (!p_) {                                                \
        p_ = cutover_lazy_symbol(loaded(), #name);            \
        __atomic_store_n(&slot_, p_, __ATOMIC_RELEASE);       \
    }                                                         \
    __typeof__(type) f = (type)p_
#endif
