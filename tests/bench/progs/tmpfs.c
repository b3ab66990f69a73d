/*
 * tmpfs N: create, write, read back, rename and delete N small files in
 * the current directory (a tmpfs in the benchmark guest).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000, i, fd;
    char name[64], name2[64], buf[8192], back[8192];
    uint32_t sum = 0;
    size_t len, j;

    for (i = 0; i < n; i++) {
        len = 512 + (i * 997) % (sizeof(buf) - 512);
        for (j = 0; j < len; j++) {
            buf[j] = (char)(i * 7 + j);
        }
        snprintf(name, sizeof(name), "f%05d.tmp", i);
        snprintf(name2, sizeof(name2), "g%05d.tmp", i);
        fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd)) {
            perror(name);
            return 1;
        }
        if (rename(name, name2)) {
            perror("rename");
            return 1;
        }
        fd = open(name2, O_RDONLY);
        if (fd < 0 || read(fd, back, len) != (ssize_t)len || close(fd) ||
            memcmp(buf, back, len)) {
            fprintf(stderr, "tmpfs: %s read back wrong\n", name2);
            return 1;
        }
        for (j = 0; j < len; j += 64) {
            sum = sum * 31 + (unsigned char)back[j];
        }
        if (i >= 16 && (snprintf(name2, sizeof(name2), "g%05d.tmp", i - 16),
                        unlink(name2))) {
            perror("unlink");
            return 1;
        }
    }
    printf("tmpfs: %d files, sum %08x\n", n, sum);
    return 0;
}
