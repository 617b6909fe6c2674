#ifndef CUTOVER_LAZY_H
#define CUTOVER_LAZY_H
// Loading a shared library the first time it is needed, for CCurl and CPostgres: each keeps
// one `cutover_lazy_library`, opened under its lock until it has been opened once (a library
// installed while a worker runs is found at its next transfer, no restart needed), and finds
// each function it forwards to once (`CUTOVER_LAZY_FUNCTION`, kept in the forwarding function).
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cutover_lazy_library {
    const char *soname;
    // Run once, under the lock, right after the library opens and before any other thread
    // can use it (libcurl's global set-up, which is not thread-safe before curl 7.84).
    void (*setUp)(void *handle);
    pthread_mutex_t lock;
    void *handle;
    char why[512];
};

// The library, opened if it can be now.
static inline struct cutover_lazy_library *cutover_lazy_load(struct cutover_lazy_library *lib) {
    if (__atomic_load_n(&lib->handle, __ATOMIC_ACQUIRE)) return lib;
    pthread_mutex_lock(&lib->lock);
    if (!lib->handle) {
        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        if (h) {
            if (lib->setUp) lib->setUp(h);
            __atomic_store_n(&lib->handle, h, __ATOMIC_RELEASE);
        } else {
            const char *e = dlerror();
            snprintf(lib->why, sizeof lib->why, "%s could not be loaded: %s", lib->soname, e ? e : "unknown error");
        }
    }
    pthread_mutex_unlock(&lib->lock);
    return lib;
}

// 0 when the library is loaded (or loads now); otherwise 1, with why it cannot be copied into
// `out` (under the lock: another thread's failure never tears the text).
static inline int cutover_lazy_unavailable(struct cutover_lazy_library *lib, char *out, size_t size) {
    if (cutover_lazy_load(lib)->handle) return 0;
    pthread_mutex_lock(&lib->lock);
    snprintf(out, size, "%s", lib->why);
    pthread_mutex_unlock(&lib->lock);
    return 1;
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

// The library `soname` as `prefix`, `setUp` (or NULL) run once when it opens:
// `prefix_loaded()` returns it, opened if it can be; `prefix_unavailable(out, size)` is 0
// once it is loaded, else 1 with why it cannot be in `out`.
#define CUTOVER_LAZY_LIBRARY(prefix, soname, setUp)                                                   \
    static struct cutover_lazy_library prefix = {soname, setUp, PTHREAD_MUTEX_INITIALIZER, NULL, {0}}; \
    static inline struct cutover_lazy_library *prefix##_loaded(void) { return cutover_lazy_load(&prefix); } \
    static inline int prefix##_unavailable(char *out, size_t size) { return cutover_lazy_unavailable(&prefix, out, size); }

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
