#ifndef SWALLOW_CLIBPQ_SHIM_H
#define SWALLOW_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
