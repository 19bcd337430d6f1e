#include "up_error.h"

const char *up_strerror(enum up_code code)
{
    switch (code) {
    case UP_OK:
        return "success";
    case UP_EFAIL:
        return "job failed";
    case UP_EUSAGE:
        return "usage or fatal input error";
    case UP_EDB:
        return "database error";
    case UP_EIO:
        return "file I/O error";
    case UP_ENOMEM:
        return "out of memory or over a size cap";
    case UP_EMPI:
        return "MPI error";
    case UP_ETZDB:
        return "time zone database error";
    case UP_ETIMEOUT:
        return "timed out (--timeout)";
    }
    return "unknown error";
}
