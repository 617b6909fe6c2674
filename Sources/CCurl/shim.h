#ifndef CUTOVER_CCURL_SHIM_H
#define CUTOVER_CCURL_SHIM_H
#include <curl/curl.h>
#include "lazy.h"

// libcurl is loaded the first time a transfer needs it, not when cutover starts: with what
// it brings (TLS, Kerberos, LDAP, SSH...) it is about thirty libraries, 5 ms of every
// command's start that most commands (and every run whose steps make no HTTP request) never
// use. Swift calls these `cutover_curl_*` entry points; each finds its libcurl function once.

// libcurl's global set-up, once, as it opens.
static void cutover_curl_set_up(void *handle) {
    CURLcode (*init)(long) = (CURLcode (*)(long))dlsym(handle, "curl_global_init");
    if (init) init(CURL_GLOBAL_DEFAULT);
}
CUTOVER_LAZY_LIBRARY(cutover_curl, "libcurl.so.4", cutover_curl_set_up)

#define CUTOVER_CURL(type, name) CUTOVER_LAZY_FUNCTION(cutover_curl_loaded, type, name)

static inline CURL *cutover_curl_easy_init(void) {
    CUTOVER_CURL(CURL *(*)(void), curl_easy_init);
    return f();
}
static inline void cutover_curl_easy_cleanup(CURL *h) {
    CUTOVER_CURL(void (*)(CURL *), curl_easy_cleanup);
    f(h);
}
static inline CURLcode cutover_curl_easy_perform(CURL *h) {
    CUTOVER_CURL(CURLcode (*)(CURL *), curl_easy_perform);
    return f(h);
}
static inline const char *cutover_curl_easy_strerror(CURLcode code) {
    CUTOVER_CURL(const char *(*)(CURLcode), curl_easy_strerror);
    return f(code);
}
static inline struct curl_slist *cutover_curl_slist_append(struct curl_slist *list, const char *s) {
    CUTOVER_CURL(struct curl_slist *(*)(struct curl_slist *, const char *), curl_slist_append);
    return f(list, s);
}
static inline void cutover_curl_slist_free_all(struct curl_slist *list) {
    CUTOVER_CURL(void (*)(struct curl_slist *), curl_slist_free_all);
    f(list);
}

// curl_easy_setopt and curl_easy_getinfo are variadic; Swift needs typed entry points.
typedef CURLcode (*cutover_curl_setopt_fn)(CURL *, CURLoption, ...);
typedef CURLcode (*cutover_curl_getinfo_fn)(CURL *, CURLINFO, ...);
#define CUTOVER_SETOPT CUTOVER_CURL(cutover_curl_setopt_fn, curl_easy_setopt)
#define CUTOVER_GETINFO CUTOVER_CURL(cutover_curl_getinfo_fn, curl_easy_getinfo)

static inline CURLcode cutover_curl_setopt_long(CURL *h, CURLoption o, long v) {
    CUTOVER_SETOPT;
    return f(h, o, v);
}
static inline CURLcode cutover_curl_setopt_string(CURL *h, CURLoption o, const char *v) {
    CUTOVER_SETOPT;
    return f(h, o, v);
}
static inline CURLcode cutover_curl_setopt_pointer(CURL *h, CURLoption o, void *v) {
    CUTOVER_SETOPT;
    return f(h, o, v);
}
static inline CURLcode cutover_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    CUTOVER_SETOPT;
    return f(h, o, v);
}
typedef size_t (*cutover_curl_write_fn)(char *, size_t, size_t, void *);
static inline CURLcode cutover_curl_setopt_write(CURL *h, CURLoption o, cutover_curl_write_fn fn) {
    CUTOVER_SETOPT;
    return f(h, o, fn);
}
typedef int (*cutover_curl_progress_fn)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode cutover_curl_setopt_progress(CURL *h, cutover_curl_progress_fn fn) {
    CUTOVER_SETOPT;
    return f(h, CURLOPT_XFERINFOFUNCTION, fn);
}
// Called once the connection (and TLS) is up, right before the request is written.
typedef int (*cutover_curl_prereq_fn)(void *, char *, char *, int, int);
static inline CURLcode cutover_curl_setopt_prereq(CURL *h, cutover_curl_prereq_fn fn) {
    CUTOVER_SETOPT;
    return f(h, CURLOPT_PREREQFUNCTION, fn);
}
static inline CURLcode cutover_curl_setopt_offset(CURL *h, CURLoption o, curl_off_t v) {
    CUTOVER_SETOPT;
    return f(h, o, v);
}
// The read callback of a streamed request body (CURLOPT_READFUNCTION has the write callback's type).
static inline CURLcode cutover_curl_setopt_read(CURL *h, cutover_curl_write_fn fn) {
    CUTOVER_SETOPT;
    return f(h, CURLOPT_READFUNCTION, fn);
}
static inline size_t cutover_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline CURLcode cutover_curl_getinfo_long(CURL *h, CURLINFO i, long *v) {
    CUTOVER_GETINFO;
    return f(h, i, v);
}
static inline CURLcode cutover_curl_getinfo_double(CURL *h, CURLINFO i, double *v) {
    CUTOVER_GETINFO;
    return f(h, i, v);
}
#endif
