/*
 * descriptor.c - reads a service's deployment descriptor (registry.h): keyword
 * lines naming the service, its module and WSDL, how long its conversations
 * live, and the phase of each operation. Every error names the file and line,
 * because the person reading it is about to edit that line.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parley.h"
#include "registry.h"

#define MAX_LINE      1024     /* bytes in one line, without its newline */
#define MAX_TOKENS    4        /* a keyword and its arguments, plus one to see extras */
#define MAX_OP_NAME   255

/* Where each single-valued keyword was seen, for "given twice" messages. */
struct seen {
	unsigned service;
	unsigned module;
	unsigned wsdl;
	unsigned version;
	unsigned max_age;
	unsigned max_idle;
};

static int
fail(char *err, size_t errlen, const char *path, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
fail(char *err, size_t errlen, const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (errlen == 0)
		return PARLEY_EINVAL;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%u: ", path, line);
	else
		n = snprintf(err, errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return PARLEY_EINVAL;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return PARLEY_EINVAL;
}

static int
valid_service_name(const char *s)
{
	size_t n = strlen(s);
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* An XML NCName in ASCII: what a WSDL operation name is in practice. */
static int
valid_op_name(const char *s)
{
	size_t n = strlen(s);
	size_t i;

	if (n == 0 || n > MAX_OP_NAME)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* Parse a decimal number of at most UINT32_MAX; no sign, no spaces. */
static int
parse_u32(const char *s, const char **end, uint32_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*end = s;
	*out = (uint32_t)v;
	return 0;
}

/* "90", "90s", "15m", "1h", "7d": seconds, at most UINT32_MAX of them. */
static int
parse_duration(const char *s, uint32_t *out)
{
	const char *end;
	uint32_t n;
	uint64_t mult = 1;

	if (parse_u32(s, &end, &n) != 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 's': mult = 1; end++; break;
	case 'm': mult = 60; end++; break;
	case 'h': mult = 3600; end++; break;
	case 'd': mult = 86400; end++; break;
	default: return -1;
	}
	if (*end != '\0' || (uint64_t)n * mult > UINT32_MAX)
		return -1;
	*out = (uint32_t)((uint64_t)n * mult);
	return 0;
}

static int
parse_phase(const char *s, enum parley_phase *out)
{
	if (strcmp(s, "start") == 0)
		*out = PARLEY_PHASE_START;
	else if (strcmp(s, "continue") == 0)
		*out = PARLEY_PHASE_CONTINUE;
	else if (strcmp(s, "finish") == 0)
		*out = PARLEY_PHASE_FINISH;
	else if (strcmp(s, "none") == 0)
		*out = PARLEY_PHASE_NONE;
	else
		return -1;
	return 0;
}

/*
 * Split line (modified in place) into at most MAX_TOKENS white-space separated
 * tokens, dropping a '#' comment. Returns the number of tokens.
 */
static unsigned
tokenize(char *line, char **tok)
{
	unsigned n = 0;
	char *p;

	p = strchr(line, '#');
	if (p != NULL)
		*p = '\0';
	p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0' || n == MAX_TOKENS)
			break;
		tok[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

/* Set *dst to a copy of s, for a keyword that may appear once (first seen at *seen_line). */
static int
set_once(char **dst, const char *s, unsigned *seen_line, unsigned line, const char *key,
    const char *path, char *err, size_t errlen)
{
	if (*seen_line != 0)
		return fail(err, errlen, path, line, "'%s' given twice (first on line %u)", key,
		    *seen_line);
	*seen_line = line;
	if (dst == NULL)
		return 0;
	*dst = strdup(s);
	if (*dst == NULL)
		return PARLEY_ENOMEM;
	return 0;
}

static int
add_op(struct descriptor *d, const char *name, enum parley_phase phase, unsigned line,
    const char *path, char *err, size_t errlen)
{
	struct descriptor_op *ops;
	unsigned i;

	for (i = 0; i < d->n_ops; i++)
		if (strcmp(d->ops[i].name, name) == 0)
			return fail(err, errlen, path, line,
			    "operation '%s' given twice (first on line %u)", name, d->ops[i].line);
	ops = realloc(d->ops, (d->n_ops + 1) * sizeof *ops);
	if (ops == NULL)
		return PARLEY_ENOMEM;
	d->ops = ops;
	ops[d->n_ops].name = strdup(name);
	if (ops[d->n_ops].name == NULL)
		return PARLEY_ENOMEM;
	ops[d->n_ops].phase = phase;
	ops[d->n_ops].line = line;
	d->n_ops++;
	return 0;
}

/* Check the argument count of a keyword line; usage is what the line should look like. */
static int
want_args(unsigned ntok, unsigned want, const char *usage, const char *path, unsigned line,
    char *err, size_t errlen)
{
	if (ntok - 1 == want)
		return 0;
	return fail(err, errlen, path, line, "%s: expected '%s'", ntok - 1 < want ?
	    "missing argument" : "too many arguments", usage);
}

static int
parse_line(char *text, unsigned line, struct descriptor *d, struct seen *seen, const char *path,
    char *err, size_t errlen)
{
	char *tok[MAX_TOKENS];
	unsigned n;
	int rc;

	n = tokenize(text, tok);
	if (n == 0)
		return 0;

	if (strcmp(tok[0], "service") == 0) {
		if ((rc = want_args(n, 1, "service NAME", path, line, err, errlen)) != 0)
			return rc;
		if (!valid_service_name(tok[1]))
			return fail(err, errlen, path, line, "bad service name '%s' (use 1 to 63 "
			    "letters, digits, '_' or '-': it becomes part of the URL)", tok[1]);
		return set_once(&d->service, tok[1], &seen->service, line, "service", path, err,
		    errlen);
	}
	if (strcmp(tok[0], "module") == 0) {
		if ((rc = want_args(n, 1, "module FILE", path, line, err, errlen)) != 0)
			return rc;
		return set_once(&d->module, tok[1], &seen->module, line, "module", path, err,
		    errlen);
	}
	if (strcmp(tok[0], "wsdl") == 0) {
		if ((rc = want_args(n, 1, "wsdl FILE", path, line, err, errlen)) != 0)
			return rc;
		return set_once(&d->wsdl, tok[1], &seen->wsdl, line, "wsdl", path, err, errlen);
	}
	if (strcmp(tok[0], "version") == 0) {
		const char *end;

		if ((rc = want_args(n, 1, "version N", path, line, err, errlen)) != 0)
			return rc;
		if ((rc = set_once(NULL, NULL, &seen->version, line, "version", path, err,
		    errlen)) != 0)
			return rc;
		if (parse_u32(tok[1], &end, &d->version) != 0 || *end != '\0' || d->version == 0)
			return fail(err, errlen, path, line,
			    "bad version '%s' (use a whole number from 1 to 4294967295)", tok[1]);
		return 0;
	}
	if (strcmp(tok[0], "max_age") == 0 || strcmp(tok[0], "max_idle") == 0) {
		int age = strcmp(tok[0], "max_age") == 0;

		if ((rc = want_args(n, 1, age ? "max_age DURATION" : "max_idle DURATION", path,
		    line, err, errlen)) != 0)
			return rc;
		if ((rc = set_once(NULL, NULL, age ? &seen->max_age : &seen->max_idle, line,
		    tok[0], path, err, errlen)) != 0)
			return rc;
		if (parse_duration(tok[1], age ? &d->max_age_s : &d->max_idle_s) != 0)
			return fail(err, errlen, path, line, "bad duration '%s' (use seconds, or a "
			    "number followed by s, m, h or d, e.g. 90s, 30m, 1h, 7d; 0 for no limit)",
			    tok[1]);
		return 0;
	}
	if (strcmp(tok[0], "operation") == 0) {
		enum parley_phase phase;

		if ((rc = want_args(n, 2, "operation NAME PHASE", path, line, err, errlen)) != 0)
			return rc;
		if (!valid_op_name(tok[1]))
			return fail(err, errlen, path, line, "bad operation name '%s' (use the "
			    "operation's name in the WSDL)", tok[1]);
		if (parse_phase(tok[2], &phase) != 0)
			return fail(err, errlen, path, line,
			    "unknown phase '%s' (use start, continue, finish or none)", tok[2]);
		return add_op(d, tok[1], phase, line, path, err, errlen);
	}
	return fail(err, errlen, path, line, "unknown keyword '%s' (use service, module, wsdl, "
	    "version, max_age, max_idle or operation)", tok[0]);
}

int
descriptor_parse(const char *text, size_t len, const char *path, struct descriptor *d,
    char *err, size_t errlen)
{
	struct seen seen;
	char line[MAX_LINE + 1];
	size_t pos = 0;
	unsigned lineno = 0;
	int rc;

	memset(d, 0, sizeof *d);
	memset(&seen, 0, sizeof seen);
	d->version = 1;

	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;

		lineno++;
		pos += n + (nl != NULL);
		if (n > MAX_LINE) {
			rc = fail(err, errlen, path, lineno, "line longer than %d bytes", MAX_LINE);
			goto fail;
		}
		if (memchr(start, '\0', n) != NULL) {
			rc = fail(err, errlen, path, lineno, "NUL byte: a descriptor is text");
			goto fail;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		if ((rc = parse_line(line, lineno, d, &seen, path, err, errlen)) != 0)
			goto fail;
	}

	if (seen.service == 0) {
		rc = fail(err, errlen, path, 0, "no 'service NAME' line: add one");
		goto fail;
	}
	if (seen.module == 0) {
		rc = fail(err, errlen, path, 0,
		    "no 'module FILE' line: add one naming the service's shared object");
		goto fail;
	}
	if (seen.wsdl == 0) {
		rc = fail(err, errlen, path, 0,
		    "no 'wsdl FILE' line: add one naming the service's WSDL");
		goto fail;
	}
	if (d->n_ops == 0) {
		rc = fail(err, errlen, path, 0, "no 'operation NAME PHASE' line: add one for each "
		    "operation of the WSDL");
		goto fail;
	}
	return 0;

fail:
	if (rc == PARLEY_ENOMEM && errlen > 0)
		snprintf(err, errlen, "%s: out of memory", path);
	descriptor_free(d);
	return rc;
}

void
descriptor_free(struct descriptor *d)
{
	unsigned i;

	for (i = 0; i < d->n_ops; i++)
		free(d->ops[i].name);
	free(d->ops);
	free(d->service);
	free(d->module);
	free(d->wsdl);
	memset(d, 0, sizeof *d);
}
