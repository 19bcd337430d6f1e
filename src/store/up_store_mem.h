/* The in-memory storage backend ("mem:NAME"), for tests: named data sets in this process. */
#ifndef UP_STORE_MEM_H
#define UP_STORE_MEM_H

#include "up_store.h"

/* Frees every in-memory data set (each test starts from none). */
void up_store_mem_reset(void);

#endif
