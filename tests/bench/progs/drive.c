/*
 * drive: talk to an interactive program the way a person at a terminal
 * would, so programs that abandon work when input is pending (chess
 * engines poll stdin during search) can be benchmarked deterministically.
 *
 *   drive SCRIPT PROGRAM [ARGS...]
 *
 * SCRIPT lines:  "send TEXT"   write TEXT and a newline to the program
 *                "wait TEXT"   read the program's output until a line
 *                              contains TEXT
 * Everything the program prints is copied to our stdout.  At the end of
 * the script the program's stdin is closed and we wait for it to exit.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int in[2], out[2], status;
    char line[4096];
    FILE *script, *from, *to;
    pid_t pid;

    if (argc < 3) {
        fprintf(stderr, "usage: drive SCRIPT PROGRAM [ARGS...]\n");
        return 2;
    }
    script = fopen(argv[1], "r");
    if (!script) {
        perror(argv[1]);
        return 2;
    }
    if (pipe(in) || pipe(out)) {
        perror("pipe");
        return 2;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to = fdopen(in[1], "w");
    from = fdopen(out[0], "r");
    setvbuf(stdout, NULL, _IOLBF, 0);

    while (fgets(line, sizeof(line), script)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "send ", 5)) {
            fprintf(to, "%s\n", line + 5);
            fflush(to);
        } else if (!strncmp(line, "wait ", 5)) {
            char buf[4096];
            int found = 0;

            while (!found && fgets(buf, sizeof(buf), from)) {
                fputs(buf, stdout);
                found = strstr(buf, line + 5) != NULL;
            }
            if (!found) {
                fprintf(stderr, "drive: program ended before '%s'\n", line + 5);
                return 1;
            }
        } else if (line[0] && line[0] != '#') {
            fprintf(stderr, "drive: bad script line '%s'\n", line);
            return 2;
        }
    }
    fclose(to);
    while (fgets(line, sizeof(line), from)) {
        fputs(line, stdout);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 2;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
