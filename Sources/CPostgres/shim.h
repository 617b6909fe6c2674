#ifndef CUTOVER_CPOSTGRES_SHIM_H
#define CUTOVER_CPOSTGRES_SHIM_H
#include <postgresql/libpq-fe.h>
#include "../CCurl/lazy.h"

// libpq is loaded the first time a connection needs it, not when cutover starts (the
// embedded SQLite log never does): it and what it brings cost about 3 ms of every command's
// start. Swift calls these `cutover_PQ*` entry points; each finds its libpq function once.
CUTOVER_LAZY_LIBRARY(cutover_pq, "libpq.so.5", NULL)

static inline PGconn *cutover_PQconnectdb(const char *conninfo) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, PGconn *(*)(const char *conninfo), PQconnectdb);
    return f(conninfo);
}
static inline PGconn *cutover_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, PGconn *(*)(const char *const *keywords, const char *const *values, int expand_dbname), PQconnectdbParams);
    return f(keywords, values, expand_dbname);
}
static inline ConnStatusType cutover_PQstatus(const PGconn *conn) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, ConnStatusType (*)(const PGconn *conn), PQstatus);
    return f(conn);
}
static inline char *cutover_PQerrorMessage(const PGconn *conn) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, char *(*)(const PGconn *conn), PQerrorMessage);
    return f(conn);
}
static inline void cutover_PQfinish(PGconn *conn) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, void (*)(PGconn *conn), PQfinish);
    f(conn);
}
static inline void cutover_PQreset(PGconn *conn) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, void (*)(PGconn *conn), PQreset);
    f(conn);
}
static inline int cutover_PQsocket(const PGconn *conn) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, int (*)(const PGconn *conn), PQsocket);
    return f(conn);
}
static inline PQnoticeProcessor cutover_PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, PQnoticeProcessor (*)(PGconn *conn, PQnoticeProcessor proc, void *arg), PQsetNoticeProcessor);
    return f(conn, proc, arg);
}
static inline int cutover_PQconsumeInput(PGconn *conn) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, int (*)(PGconn *conn), PQconsumeInput);
    return f(conn);
}
static inline PGnotify *cutover_PQnotifies(PGconn *conn) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, PGnotify *(*)(PGconn *conn), PQnotifies);
    return f(conn);
}
static inline void cutover_PQfreemem(void *ptr) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, void (*)(void *ptr), PQfreemem);
    f(ptr);
}
static inline PGresult *cutover_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, PGresult *(*)(PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat), PQexecParams);
    return f(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
static inline PGresult *cutover_PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, PGresult *(*)(PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes), PQprepare);
    return f(conn, stmtName, query, nParams, paramTypes);
}
static inline PGresult *cutover_PQexecPrepared(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, PGresult *(*)(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat), PQexecPrepared);
    return f(conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat);
}
static inline ExecStatusType cutover_PQresultStatus(const PGresult *res) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, ExecStatusType (*)(const PGresult *res), PQresultStatus);
    return f(res);
}
static inline char *cutover_PQresultErrorMessage(const PGresult *res) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, char *(*)(const PGresult *res), PQresultErrorMessage);
    return f(res);
}
static inline char *cutover_PQresultErrorField(const PGresult *res, int fieldcode) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, char *(*)(const PGresult *res, int fieldcode), PQresultErrorField);
    return f(res, fieldcode);
}
static inline void cutover_PQclear(PGresult *res) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, void (*)(PGresult *res), PQclear);
    f(res);
}
static inline int cutover_PQntuples(const PGresult *res) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, int (*)(const PGresult *res), PQntuples);
    return f(res);
}
static inline int cutover_PQnfields(const PGresult *res) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, int (*)(const PGresult *res), PQnfields);
    return f(res);
}
static inline char *cutover_PQcmdTuples(PGresult *res) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, char *(*)(PGresult *res), PQcmdTuples);
    return f(res);
}
static inline char *cutover_PQgetvalue(const PGresult *res, int tup_num, int field_num) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, char *(*)(const PGresult *res, int tup_num, int field_num), PQgetvalue);
    return f(res, tup_num, field_num);
}
static inline int cutover_PQgetlength(const PGresult *res, int tup_num, int field_num) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, int (*)(const PGresult *res, int tup_num, int field_num), PQgetlength);
    return f(res, tup_num, field_num);
}
static inline int cutover_PQgetisnull(const PGresult *res, int tup_num, int field_num) {
    CUTOVER_LAZY_FUNCTION(cutover_pq_loaded, int (*)(const PGresult *res, int tup_num, int field_num), PQgetisnull);
    return f(res, tup_num, field_num);
}
#endif
