/*
 * Fuzz target: the --config file (config.h). The input is the file's text, handed to
 * config_parse() as "wsbridge --config=FILE" through a memory file; a first line "!" adds
 * "cat" as COMMAND on the command line (which must then win over the file's command=).
 *
 * Invariants: the parse either succeeds or fails with an exit code (1 or 2) and nothing
 * kept; on success COMMAND has a program, every word of it lies inside the text or argv,
 * and a second parse of the same text gives the same answer and the same words.
 */
#include "build-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse_text(struct config *c, const uint8_t *data, size_t size, bool cli_command)
{
    static char prog[] = "wsbridge", cat[] = "cat";
    char arg[64];
    char *argv[] = {prog, arg, cli_command ? cat : NULL, NULL};
    int fd = memfd_create("wsbridge.conf", MFD_CLOEXEC), rc;

    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(arg, sizeof arg, "--config=/proc/self/fd/%d", fd);
    rc = config_parse(c, cli_command ? 3 : 2, argv);
    close(fd);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    struct config a, b;
    bool cli = size >= 2 && data[0] == '!' && data[1] == '\n';
    int ra, rb;

    if (!quiet) { /* every rejected input explains itself on stderr: not needed here */
        quiet = true;
        if (!freopen("/dev/null", "w", stderr))
            abort();
    }
    if (size > CONFIG_FILE_MAX)
        return 0;
    ra = parse_text(&a, data, size, cli);
    if (ra >= 0) {
        if (ra != CONFIG_EXIT_BAD && ra != CONFIG_EXIT_UNKNOWN_FLAG)
            abort();
        return 0;
    }
    if (a.command && (!a.command[0] || (cli && strcmp(a.command[0], "cat") != 0)))
        abort();
    rb = parse_text(&b, data, size, cli);
    if (rb != -1)
        abort();
    for (size_t i = 0; a.command && (a.command[i] || b.command[i]); i++)
        if (!a.command[i] || !b.command[i] || strcmp(a.command[i], b.command[i]) != 0)
            abort();
    config_free(&b);
    config_free(&a);
    return 0;
}
