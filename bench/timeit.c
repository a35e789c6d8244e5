/*
 * timeit - time commands as processes, interleaved, for bench/run.
 *
 *   timeit [-r RUNS] [-w WARMUP] [-e ERRFILE] SPECFILE
 *
 * SPECFILE has one command per line, fields separated by tabs:
 *
 *   NAME  CONCURRENCY  STDIN  PREPARE  ARGV0  ARGV1 ...
 *
 * STDIN is a file fed to the command ("-": /dev/null); PREPARE is a shell
 * command run, untimed, before every timed run ("-": none).  CONCURRENCY N
 * starts N copies at once and times the lot, from the first fork to the
 * last exit.  Standard output goes to /dev/null, standard error to ERRFILE
 * (default /dev/null).
 *
 * Each round runs every command once, starting with a different one each
 * round: a machine whose load changes during the run then weighs on every
 * command alike, which keeps the ratios between them honest.
 *
 * Prints one line per command (see stats.h), in milliseconds, with the
 * medians over runs of the peak resident set size (KiB) of the largest
 * copy and of the CPU time (user + system) of all copies together.  Exit
 * status 1 when any run failed (the line says how many).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

#define MAX_SPECS 32
#define MAX_ARGS 32
#define MAX_CONC 1024

struct spec {
    char *name;
    long conc;
    char *input;
    char *prepare;
    char *argv[MAX_ARGS + 1];
    double *ms;
    double *rss;
    double *cpu;
    size_t n, fails;
};

static const char *errfile = "/dev/null";

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static void
die(const char *what)
{
    fprintf(stderr, "timeit: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int
parse_line(char *line, struct spec *s)
{
    char *field[MAX_ARGS + 5];
    size_t nf = 0, i;
    char *p = line, *tab;

    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#')
        return 0;
    for (;;) {
        if (nf == sizeof(field) / sizeof(field[0]))
            return -1;
        field[nf++] = p;
        tab = strchr(p, '\t');
        if (tab == NULL)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    if (nf < 5)
        return -1;
    memset(s, 0, sizeof(*s));
    s->name = strdup(field[0]);
    s->conc = strtol(field[1], NULL, 10);
    if (s->conc < 1 || s->conc > MAX_CONC)
        return -1;
    s->input = strcmp(field[2], "-") == 0 ? NULL : strdup(field[2]);
    s->prepare = strcmp(field[3], "-") == 0 ? NULL : strdup(field[3]);
    for (i = 4; i < nf; i++)
        s->argv[i - 4] = strdup(field[i]);
    return 1;
}

static void
prepare(const struct spec *s)
{
    int st;
    pid_t pid;

    if (s->prepare == NULL)
        return;
    pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", s->prepare, (char *) NULL);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "timeit: %s: the prepare command failed\n", s->name);
}

static void
child(const struct spec *s)
{
    int in, out, err;

    in = open(s->input ? s->input : "/dev/null", O_RDONLY);
    out = open("/dev/null", O_WRONLY);
    err = open(errfile, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (in == -1 || out == -1 || err == -1 || dup2(in, 0) == -1
        || dup2(out, 1) == -1 || dup2(err, 2) == -1)
        _exit(126);
    execv(s->argv[0], s->argv);
    _exit(127);
}

/* One timed run of every copy; adds to the sample unless warming up. */
static void
run_once(struct spec *s, int record)
{
    pid_t pids[MAX_CONC];
    struct rusage ru;
    double t0, t1;
    long i, maxrss = 0;
    double cpu = 0;
    int st, failed = 0;
    pid_t pid;

    prepare(s);
    t0 = now_ms();
    for (i = 0; i < s->conc; i++) {
        pids[i] = fork();
        if (pids[i] == -1)
            die("fork");
        if (pids[i] == 0)
            child(s);
    }
    for (i = 0; i < s->conc; i++) {
        do
            pid = wait4(pids[i], &st, 0, &ru);
        while (pid == -1 && errno == EINTR);
        if (pid == -1)
            die("wait4");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed = 1;
        if (ru.ru_maxrss > maxrss)
            maxrss = ru.ru_maxrss;
        cpu += (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
            + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    }
    t1 = now_ms();
    if (!record)
        return;
    if (failed) {
        s->fails++;
        return;
    }
    s->ms[s->n] = t1 - t0;
    s->rss[s->n] = (double) maxrss;
    s->cpu[s->n] = cpu;
    s->n++;
}

int
main(int argc, char **argv)
{
    struct spec specs[MAX_SPECS];
    size_t nspecs = 0, i, k;
    long runs = 100, warmup = 5, r;
    char line[8192];
    int opt, rc = 0;
    FILE *f;

    while ((opt = getopt(argc, argv, "r:w:e:")) != -1) {
        switch (opt) {
        case 'r':
            runs = strtol(optarg, NULL, 10);
            break;
        case 'w':
            warmup = strtol(optarg, NULL, 10);
            break;
        case 'e':
            errfile = optarg;
            break;
        default:
            fprintf(stderr,
                    "usage: timeit [-r RUNS] [-w WARMUP] "
                    "[-e ERRFILE] SPECFILE\n");
            return 2;
        }
    }
    if (optind != argc - 1 || runs < 1 || warmup < 0)
        return 2;
    f = fopen(argv[optind], "r");
    if (f == NULL)
        die(argv[optind]);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (nspecs == MAX_SPECS) {
            fprintf(stderr, "timeit: too many commands\n");
            return 2;
        }
        switch (parse_line(line, &specs[nspecs])) {
        case 1:
            specs[nspecs].ms = calloc((size_t) runs, sizeof(double));
            specs[nspecs].rss = calloc((size_t) runs, sizeof(double));
            specs[nspecs].cpu = calloc((size_t) runs, sizeof(double));
            if (specs[nspecs].ms == NULL || specs[nspecs].rss == NULL
                || specs[nspecs].cpu == NULL)
                die("calloc");
            nspecs++;
            break;
        case -1:
            fprintf(stderr, "timeit: bad line: %s\n", line);
            return 2;
        }
    }
    fclose(f);
    for (r = 0; r < warmup + runs; r++)
        for (k = 0; k < nspecs; k++)
            run_once(&specs[((size_t) r + k) % nspecs], r >= warmup);
    for (i = 0; i < nspecs; i++) {
        struct spec *s = &specs[i];

        stats_print(stdout, s->name, s->ms, s->n, s->fails,
                    stats_median(s->rss, s->n), stats_median(s->cpu, s->n));
        if (s->fails)
            rc = 1;
    }
    return rc;
}
