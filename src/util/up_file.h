/*
 * Files the project creates: every one exclusively, under a name no other user can guess
 * or plant first, with a fixed mode (private to the library, src/util).
 */
#ifndef UP_FILE_H
#define UP_FILE_H

#include <stddef.h>

/*
 * Creates a new file from tmpl (a path ending in "XXXXXX", rewritten in place) with
 * mkstemp: O_CREAT | O_EXCL, so an existing name or a planted symlink is never opened;
 * mode 0644 narrowed by the umask (never wider, whatever the umask). Returns the open
 * descriptor (O_CLOEXEC), or -1 with errno set.
 */
int up_file_temp(char *tmpl);

/* Writes all len bytes of buf to fd (retrying short writes and EINTR); 0, or -1 with
 * errno set. */
int up_file_write_all(int fd, const void *buf, size_t len);

/* fsync of the folder that holds path, so a rename into it is durable. */
void up_file_sync_dir(const char *path);

#endif
