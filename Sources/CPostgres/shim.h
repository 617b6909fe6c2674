#ifndef CUTOVER_CPOSTGRES_SHIM_H
#define CUTOVER_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
