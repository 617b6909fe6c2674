#ifndef CUTOVER_CCURL_SHIM_H
#define CUTOVER_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic; Swift needs typed entry points.
static inline CURLcode cutover_curl_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cutover_curl_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cutover_curl_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cutover_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
typedef size_t (*cutover_curl_write_fn)(char *, size_t, size_t, void *);
static inline CURLcode cutover_curl_setopt_write(CURL *h, CURLoption o, cutover_curl_write_fn f) {
    return curl_easy_setopt(h, o, f);
}
typedef int (*cutover_curl_progress_fn)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode cutover_curl_setopt_progress(CURL *h, cutover_curl_progress_fn f) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, f);
}
// Called once the connection (and TLS) is up, right before the request is written.
typedef int (*cutover_curl_prereq_fn)(void *, char *, char *, int, int);
static inline CURLcode cutover_curl_setopt_prereq(CURL *h, cutover_curl_prereq_fn f) {
    return curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, f);
}
static inline CURLcode cutover_curl_setopt_offset(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
// The read callback of a streamed request body (CURLOPT_READFUNCTION has the write callback's type).
static inline CURLcode cutover_curl_setopt_read(CURL *h, cutover_curl_write_fn f) {
    return curl_easy_setopt(h, CURLOPT_READFUNCTION, f);
}
static inline size_t cutover_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline CURLcode cutover_curl_getinfo_long(CURL *h, CURLINFO i, long *v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLcode cutover_curl_getinfo_double(CURL *h, CURLINFO i, double *v) {
    return curl_easy_getinfo(h, i, v);
}
#endif
