/*
 * replay: runs a fuzz target (LLVMFuzzerTestOneInput) over files, so make
 * check exercises every committed corpus input without clang. With no
 * arguments it reads $top_srcdir/tests/fuzz/corpus/FUZZ_NAME; otherwise
 * each argument is a file or a directory. Prints TAP, one point per file
 * (a crash fails the whole program, which is the point).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        printf("not ok %d - cannot read %s\n", ++n, path);
        if (f)
            fclose(f);
        return;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    size_t got = buf ? fread(buf, 1, len, f) : 0;
    fclose(f);
    if (got != len) {
        printf("not ok %d - short read %s\n", ++n, path);
        free(buf);
        return;
    }
    LLVMFuzzerTestOneInput(buf, len); /* exact size: a read past the end is an ASan report */
    free(buf);
    printf("ok %d - %s (%zu bytes)\n", ++n, path, len);
    fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("not ok %d - no such file %s\n", ++n, path);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    char **names = NULL;
    size_t count = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (count + 1) * sizeof *names);
        names[count] = malloc(strlen(path) + strlen(e->d_name) + 2);
        sprintf(names[count], "%s/%s", path, e->d_name);
        count++;
    }
    if (d)
        closedir(d);
    qsort(names, count, sizeof *names, by_name);
    for (size_t i = 0; i < count; i++) {
        run_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run_path(argv[i]);
    } else {
        const char *top = getenv("top_srcdir");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_NAME);
        run_path(dir);
    }
    printf("1..%d\n", n);
    return 0;
}
