/* name.c - parsing, validating and printing model names.
 *
 * The string is split from the right, as Ollama does: "@digest" first, then
 * ":tag" (only when the last ':' comes after the last '/', so host:port stays
 * in the host), then up to three '/'-separated parts.  Unsafe characters are
 * refused before splitting, so each message names the real problem rather
 * than whichever part the character happened to land in. */
#include "name.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum part_kind { PART_HOST, PART_NAMESPACE, PART_MODEL, PART_TAG };

static const char *const kind_names[] = {"host", "namespace", "model", "tag"};

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* NULL when s is a valid part of that kind, else why it is not. */
static const char *part_problem(enum part_kind kind, const char *s, size_t len)
{
    size_t max = kind == PART_HOST ? QM_NAME_HOST_MAX : QM_NAME_PART_MAX;
    if (len == 0)
        return "is empty";
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return "may not be '.' or '..'";
    if (len > max)
        return kind == PART_HOST ? "is longer than 350 characters" : "is longer than 80 characters";
    if (!is_word(s[0]))
        return "must start with a letter, a digit or '_'";
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (is_word(c) || c == '-')
            continue;
        if (c == '.' && kind != PART_NAMESPACE)
            continue;
        if (c == ':' && kind == PART_HOST)
            continue;
        if (c == '.')
            return "may not contain '.'";
        return "may hold only letters, digits, '_', '-' and '.'";
    }
    return NULL;
}

bool qm_name_host_valid(const char *s)
{
    return !part_problem(PART_HOST, s, strlen(s));
}

bool qm_name_namespace_valid(const char *s)
{
    return !part_problem(PART_NAMESPACE, s, strlen(s));
}

bool qm_name_model_valid(const char *s)
{
    return !part_problem(PART_MODEL, s, strlen(s));
}

bool qm_name_tag_valid(const char *s)
{
    return !part_problem(PART_TAG, s, strlen(s));
}

static int refuse(struct qm_err *err, const char *s, const char *why)
{
    /* The name may be hostile: print a bounded prefix with controls masked. */
    char shown[96];
    size_t n = 0;
    for (; s[n] && n < sizeof shown - 4; n++)
        shown[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n])
        memcpy(shown + n, "...", 3), n += 3;
    shown[n] = '\0';
    return qm_err_set(err, "invalid model name '%s': %s", shown, why);
}

static int set_part(struct qm_name *out, enum part_kind kind, const char *s, size_t len,
                    const char *whole, struct qm_err *err)
{
    const char *why = part_problem(kind, s, len);
    if (why) {
        char msg[128];
        snprintf(msg, sizeof msg, "the %s %s", kind_names[kind], why);
        return refuse(err, whole, msg);
    }
    char *dst = kind == PART_HOST ? out->host
                : kind == PART_NAMESPACE ? out->ns
                : kind == PART_MODEL ? out->model
                : out->tag;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return QM_OK;
}

int qm_name_parse(struct qm_name *out, const char *s, struct qm_err *err)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return qm_err_set(err, "invalid model name: the name is empty");
    size_t len = strlen(s);
    if (len >= QM_NAME_STR_MAX + 8)
        return refuse(err, s, "the name is too long");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return refuse(err, s, "control characters are not allowed");
        if (c == '\\')
            return refuse(err, s, "backslashes are not allowed");
        if (c >= 0x80)
            return refuse(err, s, "only ASCII letters, digits, '_', '-' and '.' are allowed");
        if (c == ' ')
            return refuse(err, s, "spaces are not allowed");
    }

    const char *p = s;
    if (!strncmp(p, "http://", 7) || !strncmp(p, "https://", 8)) {
        size_t n = p[4] == 's' ? 5 : 4;
        memcpy(out->scheme, p, n);
        p += n + 3;
    }
    if (*p == '/')
        return refuse(err, s, "absolute paths are not model names");
    if (!strncmp(p, "../", 3) || !strcmp(p, "..") || strstr(p, "/../") ||
        (len >= 3 && !strcmp(s + len - 3, "/..")))
        return refuse(err, s, "'..' is not allowed");

    const char *end = p + strlen(p);
    const char *at = strchr(p, '@');
    if (at) {
        if (strchr(at + 1, '@'))
            return refuse(err, s, "more than one '@'");
        if (!qm_digest_valid(at + 1, ':') && !qm_digest_valid(at + 1, '-'))
            return refuse(err, s, "the digest after '@' must be sha256: and 64 lowercase hex "
                                  "digits");
        qm_digest_parse(at + 1, out->digest, NULL);
        end = at;
    }

    const char *last_slash = NULL, *last_colon = NULL;
    for (const char *q = p; q < end; q++) {
        if (*q == '/')
            last_slash = q;
        else if (*q == ':')
            last_colon = q;
    }
    int rc;
    if (last_colon && (!last_slash || last_colon > last_slash)) {
        if ((rc = set_part(out, PART_TAG, last_colon + 1, (size_t)(end - last_colon - 1), s, err)))
            return rc;
        end = last_colon;
    } else {
        strcpy(out->tag, QM_NAME_DEFAULT_TAG);
    }

    /* Up to three parts before the tag: [host/][namespace/]model. */
    const char *parts[3];
    size_t lens[3];
    int n = 0;
    const char *q = end;
    for (;;) {
        const char *start = q;
        while (start > p && start[-1] != '/')
            start--;
        if (n == 3)
            return refuse(err, s, "too many '/'-separated parts (at most host/namespace/model)");
        parts[n] = start;
        lens[n] = (size_t)(q - start);
        n++;
        if (start == p)
            break;
        q = start - 1;
    }
    /* Only the host may hold ':' (its port); one elsewhere is a tag with '/'. */
    for (int i = 0; i < n && i < 2; i++)
        if (memchr(parts[i], ':', lens[i]))
            return refuse(err, s, "':' may only start the tag or give a host's port "
                                  "(host:port/namespace/model), and a tag may not contain '/'");

    if ((rc = set_part(out, PART_MODEL, parts[0], lens[0], s, err)))
        return rc;
    if (n >= 2) {
        if ((rc = set_part(out, PART_NAMESPACE, parts[1], lens[1], s, err)))
            return rc;
    } else {
        strcpy(out->ns, QM_NAME_DEFAULT_NAMESPACE);
    }
    if (n == 3) {
        if ((rc = set_part(out, PART_HOST, parts[2], lens[2], s, err)))
            return rc;
    } else {
        strcpy(out->host, QM_NAME_DEFAULT_HOST);
    }
    return QM_OK;
}

int qm_name_display(const struct qm_name *n, char *buf, size_t cap)
{
    if (strcasecmp(n->host, QM_NAME_DEFAULT_HOST) != 0)
        return qm_name_full(n, buf, cap);
    if (strcasecmp(n->ns, QM_NAME_DEFAULT_NAMESPACE) != 0)
        return snprintf(buf, cap, "%s/%s:%s", n->ns, n->model, n->tag);
    return snprintf(buf, cap, "%s:%s", n->model, n->tag);
}

int qm_name_full(const struct qm_name *n, char *buf, size_t cap)
{
    return snprintf(buf, cap, "%s/%s/%s:%s", n->host, n->ns, n->model, n->tag);
}

int qm_name_relpath(const struct qm_name *n, char *buf, size_t cap)
{
    return snprintf(buf, cap, "%s/%s/%s/%s", n->host, n->ns, n->model, n->tag);
}

bool qm_name_equal(const struct qm_name *a, const struct qm_name *b)
{
    return !strcasecmp(a->host, b->host) && !strcasecmp(a->ns, b->ns) &&
           !strcasecmp(a->model, b->model) && !strcasecmp(a->tag, b->tag);
}
