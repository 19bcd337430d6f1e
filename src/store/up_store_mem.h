/*
 * The in-memory storage backend ("mem:NAME"), for tests only: named data sets in this
 * process. It is not built into the programs (library uptime_store_mem, linked by the
 * tests); a test main registers it before anything opens a store.
 */
#ifndef UP_STORE_MEM_H
#define UP_STORE_MEM_H

#include "up_store_int.h"

/* The backend's table: up_store_register_backend(&up_store_mem_ops). */
extern const struct up_store_ops up_store_mem_ops;

/* Frees every in-memory data set (each test starts from none). Connections still open
 * must not be used afterwards. */
void up_store_mem_reset(void);

#endif
