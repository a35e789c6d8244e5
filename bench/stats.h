/* stats.h - median, quartiles and range of a sample, for the benchmark
 * programs in bench/ (one statistics line format for all of them). */
#ifndef FA_BENCH_STATS_H
#define FA_BENCH_STATS_H

#include <stdio.h>
#include <stdlib.h>

static inline int
stats_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* The q-quantile of a sorted sample, interpolated between neighbours. */
static inline double
stats_quantile(const double *v, size_t n, double q)
{
    double pos = q * (double) (n - 1);
    size_t i = (size_t) pos;

    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (pos - (double) i) * (v[i + 1] - v[i]);
}

/* The median of a sample, which is sorted in place; -1 when empty. */
static inline double
stats_median(double *v, size_t n)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof(*v), stats_cmp);
    return stats_quantile(v, n, 0.5);
}

/*
 * One line: NAME RUNS FAILS MEDIAN Q1 Q3 MIN MAX RSS CPU, tab-separated,
 * in the caller's unit, with three decimals; RSS (peak resident set, KiB)
 * and CPU (user + system time, same unit) are medians too, or -1.  The
 * sample is sorted in place.
 */
static inline void
stats_print(FILE *f, const char *name, double *v, size_t n, size_t fails,
            double rss, double cpu)
{
    if (n == 0) {
        fprintf(f, "%s\t0\t%zu\t-\t-\t-\t-\t-\t-\t-\n", name, fails);
        return;
    }
    qsort(v, n, sizeof(*v), stats_cmp);
    fprintf(f, "%s\t%zu\t%zu\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%.3f\n",
            name, n, fails, stats_quantile(v, n, 0.5),
            stats_quantile(v, n, 0.25), stats_quantile(v, n, 0.75), v[0],
            v[n - 1], rss, cpu);
}

#endif
