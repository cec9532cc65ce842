/* log.h - log lines for people and for the journal.
 *
 * Under systemd (JOURNAL_STREAM set and stderr being that stream) each line
 * starts with its syslog priority, "<3>", so journalctl shows levels; in a
 * terminal it starts with the level's name.  QM_DEBUG=1 turns debug lines on. */
#ifndef QM_COMMON_LOG_H
#define QM_COMMON_LOG_H

enum qm_log_level {
    QM_LOG_ERR = 3,     /* syslog priorities */
    QM_LOG_WARN = 4,
    QM_LOG_INFO = 6,
    QM_LOG_DEBUG = 7,
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void qm_log(enum qm_log_level level, const char *fmt, ...);

/* Whether lines of this level are printed (to skip building costly ones). */
int qm_log_enabled(enum qm_log_level level);

#define qm_log_err(...) qm_log(QM_LOG_ERR, __VA_ARGS__)
#define qm_log_warn(...) qm_log(QM_LOG_WARN, __VA_ARGS__)
#define qm_log_info(...) qm_log(QM_LOG_INFO, __VA_ARGS__)
#define qm_log_debug(...) qm_log(QM_LOG_DEBUG, __VA_ARGS__)

#endif
