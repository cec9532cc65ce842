/* log.c - one line per call to stderr, whole lines only.
 *
 * The line is formatted into a buffer first and written with one write(2),
 * so lines from the runner threads and the daemon never interleave. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int max_level = QM_LOG_INFO;
static int journal;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* JOURNAL_STREAM is "device:inode" of the stream systemd connected; it only
 * counts if stderr still is that stream (a child may have redirected it). */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void init(void)
{
    const char *d = getenv("QM_DEBUG");
    if (!d)
        d = getenv("OLLAMA_DEBUG");
    if (d && *d && strcmp(d, "0") != 0 && strcmp(d, "false") != 0)
        max_level = QM_LOG_DEBUG;
    journal = stderr_is_journal();
}

int qm_log_enabled(enum qm_log_level level)
{
    pthread_once(&once, init);
    return (int)level <= max_level;
}

void qm_log(enum qm_log_level level, const char *fmt, ...)
{
    if (!qm_log_enabled(level))
        return;
    static const char *names[8] = {[3] = "error", [4] = "warning", [6] = "info", [7] = "debug"};
    char line[2048];
    int n = journal ? snprintf(line, sizeof line, "<%d>", (int)level)
                    : snprintf(line, sizeof line, "qm: %s: ", names[level & 7] ? names[level & 7] : "log");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
