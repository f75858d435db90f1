/*
 * admin.c - the node's admin endpoints (frontend.h): deploy and undeploy a
 * service while the node serves, on the same listener as the services.
 * Anyone who reaches the port could call them, so they answer only the
 * clients admin_allow lets in (loopback by default). A deploy loads only a
 * descriptor that is already in deploy_dir: writing there is the real
 * permission, as it is for a restart. A client on another machine puts its
 * files there with upload, in pieces no larger than a message, each under a
 * new name only: a file a running module was loaded from is never written.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "frontend.h"
#include "http.h"
#include "log.h"
#include "parley.h"
#include "registry.h"
#include "server.h"


/* Whether peer ("IP:PORT", "[IP]:PORT") is a loopback address. */
static int
loopback(const char *peer)
{
	return strncmp(peer, "127.", 4) == 0 || strncmp(peer, "[::1]:", 6) == 0 ||
	    strncmp(peer, "[::ffff:127.", 12) == 0;
}

/*
 * The value of key in an application/x-www-form-urlencoded body, decoded
 * into out (len bytes). Returns 0, PARLEY_ENOENT when it is absent, or
 * PARLEY_EINVAL when it is malformed, too long, or holds a NUL byte.
 */
static int
form_value(const char *body, size_t blen, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key), i = 0, n;

	while (i < blen) {
		n = i;
		while (n < blen && body[n] != '&')
			n++;
		if (n - i > klen && strncmp(body + i, key, klen) == 0 && body[i + klen] == '=') {
			size_t o = 0, j;

			for (j = i + klen + 1; j < n; j++) {
				int c = (unsigned char)body[j];

				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					if (j + 2 >= n || http_hexval((unsigned char)body[j + 1]) < 0 || http_hexval((unsigned char)body[j + 2]) < 0)
						return PARLEY_EINVAL;
					c = http_hexval((unsigned char)body[j + 1]) * 16 + http_hexval((unsigned char)body[j + 2]);
					j += 2;
				}
				if (c == '\0' || o + 1 >= len)
					return PARLEY_EINVAL;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return 0;
		}
		i = n + 1;
	}
	return PARLEY_ENOENT;
}

#define UPLOAD_NAME_MAX 200

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/*
 * Whether name may be uploaded into deploy_dir: a plain file name of
 * [A-Za-z0-9._-] (a descriptor may be hidden: parleyctl deploys a hidden
 * one), not "..", ending in .so, .wsdl or .service.
 */
static int
upload_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > UPLOAD_NAME_MAX || strstr(name, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
	}
	if (name[0] == '.')
		return has_suffix(name, ".service");
	return has_suffix(name, ".so") || has_suffix(name, ".wsdl") || has_suffix(name, ".service");
}

/*
 * POST /parley/admin/upload?file=NAME&offset=N[&last=1], the body the bytes
 * from offset N: pieces go to a hidden ".NAME.part", appended in order (a
 * piece at another offset is refused with the size held, so a client can
 * resume); the last one is flushed and linked to NAME, which must not exist.
 */
static int
upload(struct frontend *f, struct exchange *x)
{
	const char *dir = registry_deploy_dir(f->registry);
	const char *q = x->req.query != NULL ? x->req.query : "";
	char name[UPLOAD_NAME_MAX + 2], num[32], last[8], *final = NULL, *part = NULL, *end;
	unsigned long long offset;
	struct stat st;
	int fd = -1, rc;
	mode_t mode;

	if (form_value(q, strlen(q), "file", name, sizeof name) != 0 || !upload_name_ok(name) ||
	    form_value(q, strlen(q), "offset", num, sizeof num) != 0)
		return frontend_text(x, 400, "POST /parley/admin/upload?file=NAME&offset=N[&last=1] "
		    "takes a plain file name ending in .so, .wsdl or .service, and the offset of "
		    "the bytes in the body\n");
	errno = 0;
	offset = strtoull(num, &end, 10);
	if (errno != 0 || *end != '\0' || num[0] == '\0' || num[0] == '-')
		return frontend_text(x, 400, "offset must be a number of bytes, not '%s'\n", num);
	if (form_value(q, strlen(q), "last", last, sizeof last) != 0)
		last[0] = '\0';
	mode = has_suffix(name, ".so") ? 0755 : 0644;
	if (asprintf(&final, "%s/%s", dir, name) < 0 || asprintf(&part, "%s/.%s.part", dir,
	    name) < 0) {
		rc = frontend_text(x, 500, "out of memory\n");
		goto out;
	}
	if (lstat(final, &st) == 0) {
		rc = frontend_text(x, 409, "%s is in the deploy directory already; a file is never "
		    "replaced (a running module may have been loaded from it): upload under a new "
		    "name\n", name);
		goto out;
	}
	if (offset == 0)
		fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	else
		fd = open(part, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = frontend_text(x, offset == 0 ? 500 : 409, "cannot %s %s: %s\n",
		    offset == 0 ? "create" : "append to", part, strerror(errno));
		goto out;
	}
	if ((unsigned long long)st.st_size != offset) {
		rc = frontend_text(x, 409, "%s holds %lld bytes, not %llu: send the piece at offset "
		    "%lld\n", name, (long long)st.st_size, offset, (long long)st.st_size);
		goto out;
	}
	{
		const char *p = x->req.body;
		size_t left = x->req.body_len;

		while (left > 0) {
			ssize_t n = write(fd, p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = frontend_text(x, 500, "writing %s: %s\n", part, strerror(errno));
				goto out;
			}
			p += n;
			left -= (size_t)n;
		}
	}
	if (strcmp(last, "1") != 0) {
		rc = frontend_text(x, 200, "%s: %llu bytes\n", name, offset + x->req.body_len);
		goto out;
	}
	/* link() never replaces: of two uploads of one name, one wins. */
	if (fsync(fd) != 0 || link(part, final) != 0) {
		rc = frontend_text(x, errno == EEXIST ? 409 : 500, "cannot store %s: %s\n", final,
		    strerror(errno));
		goto out;
	}
	(void)unlink(part);
	log_info("uploaded %s (%llu bytes) into %s", name, offset + x->req.body_len, dir);
	rc = frontend_text(x, 200, "stored %s (%llu bytes)\n", name, offset + x->req.body_len);
out:
	if (fd >= 0)
		close(fd);
	free(final);
	free(part);
	return rc;
}

/*
 * After a refused deploy of the hidden descriptor ".STEM.service" that a
 * client uploaded, remove it and the STEM.so and STEM.wsdl it came with,
 * unless a deployed service was loaded from that module. Files of other
 * names are never removed here.
 */
static void
discard(struct frontend *f, const char *file)
{
	const char *dir = registry_deploy_dir(f->registry);
	char stem[UPLOAD_NAME_MAX], *path = NULL;
	const char *ext[3] = { "so", "wsdl", NULL };
	struct registry_view *v;
	size_t n = strlen(file);
	unsigned i;
	int used = 0;

	if (file[0] != '.' || !has_suffix(file, ".service") || n - 9 >= sizeof stem)
		return;
	memcpy(stem, file + 1, n - 9);
	stem[n - 9] = '\0';
	if (asprintf(&path, "%s/%s.so", dir, stem) < 0)
		return;
	v = registry_acquire(f->registry);
	for (i = 0; i < registry_count(v); i++) {
		const struct service *svc = registry_at(v, i);
		if (svc->module_path != NULL && strcmp(svc->module_path, path) == 0)
			used = 1;
	}
	registry_release(v);
	free(path);
	if (used)
		return;
	for (i = 0; ext[i] != NULL; i++) {
		if (asprintf(&path, "%s/%s.%s", dir, stem, ext[i]) < 0)
			return;
		(void)unlink(path);
		free(path);
	}
	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return;
	(void)unlink(path);
	free(path);
}

static int
deploy(struct frontend *f, struct exchange *x)
{
	struct registry_change c;
	char file[256], err[2048], flag[8];
	int rc;

	rc = form_value(x->req.body, x->req.body_len, "descriptor", file, sizeof file);
	if (rc != 0)
		return frontend_text(x, 400, "POST /parley/admin/deploy takes descriptor=FILE, the name of "
		    "a descriptor in the node's deploy directory %s\n",
		    registry_deploy_dir(f->registry));
	rc = registry_deploy(f->registry, file, &c, err, sizeof err);
	if (rc != 0) {
		log_warnx("deploy %s refused: %s", file, err);
		if (form_value(x->req.body, x->req.body_len, "discard", flag, sizeof flag) == 0 &&
		    strcmp(flag, "1") == 0)
			discard(f, file);
		return frontend_text(x, rc == PARLEY_ENOMEM ? 500 : 422, "refused: %s\n", err);
	}
	if (c.replaced != 0)
		log_info("deployed %s version %u from %s, replacing version %u", c.service,
		    c.version, c.module, c.replaced);
	else
		log_info("deployed %s version %u from %s", c.service, c.version, c.module);
	if (c.replaced != 0)
		return frontend_text(x, 200, "deployed %s version %u (module %s), replacing version %u\n",
		    c.service, c.version, c.module, c.replaced);
	return frontend_text(x, 200, "deployed %s version %u (module %s)\n", c.service, c.version,
	    c.module);
}

static int
undeploy(struct frontend *f, struct exchange *x)
{
	char name[128], force[8], err[1024];
	unsigned live;
	int rc;

	if (form_value(x->req.body, x->req.body_len, "service", name, sizeof name) != 0)
		return frontend_text(x, 400, "POST /parley/admin/undeploy takes service=NAME "
		    "(and force=1 to remove a service that has live conversations)\n");
	if (form_value(x->req.body, x->req.body_len, "force", force, sizeof force) != 0)
		force[0] = '\0';
	{
		struct registry_view *v = registry_acquire(f->registry);
		int known = registry_find(v, name) != NULL;

		registry_release(v);
		if (!known)
			return frontend_text(x, 404, "no service %s is deployed on this node\n", name);
	}
	live = frontend_live_conversations(f, name);
	if (live > 0 && strcmp(force, "1") != 0)
		return frontend_text(x, 409, "service %s has %u live conversation%s: their clients would "
		    "get faults until they expire. Undeploy with force to do it anyway (the beans "
		    "stay, and a later deploy of %s serves them again)\n", name, live,
		    live == 1 ? "" : "s", name);
	rc = registry_undeploy(f->registry, name, err, sizeof err);
	if (rc == PARLEY_ENOENT)
		return frontend_text(x, 404, "%s\n", err);
	if (rc != 0)
		return frontend_text(x, 500, "%s\n", err);
	log_info("undeployed %s (%u live conversation%s left in the store)", name, live,
	    live == 1 ? "" : "s");
	return frontend_text(x, 200, "undeployed %s (%u live conversation%s left in the store)\n", name,
	    live, live == 1 ? "" : "s");
}

/* Whether the request's Content-Type is type (parameters after ';' aside). */
static int
content_type_is(const struct exchange *x, const char *type)
{
	const char *ct = x->req.content_type;
	size_t n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

int
admin_handle(struct frontend *f, struct exchange *x)
{
	const char *path = x->req.path;
	enum conf_admin allow = f->conf->admin_allow;

	if (allow == CONF_ADMIN_NONE || (allow == CONF_ADMIN_LOOPBACK && !loopback(x->peer)))
		return frontend_text(x, 403, "the admin endpoints answer only %s (admin_allow in "
		    "parleyd.conf)\n", allow == CONF_ADMIN_NONE ? "no one" : "loopback clients");
	if (strcmp(x->req.method, "GET") == 0 && strcmp(path, "/parley/admin") == 0) {
		buf_reset(&x->body);
		buf_puts(&x->body, "{\"deploy_dir\":\"");
		buf_put_json(&x->body, registry_deploy_dir(f->registry));
		buf_puts(&x->body, "\"}\n");
		x->status = 200;
		x->content_type = "application/json";
		return 0;
	}
	if (strcmp(x->req.method, "POST") != 0) {
		x->extra_headers = "Allow: POST\r\n";
		return frontend_text(x, 405, "POST to %s\n", path);
	}
	/*
	 * A node posts SOAP messages to addresses its clients name (callbacks),
	 * its own included: asking for the admin endpoints' own content types
	 * keeps such a post from ever being taken for a command.
	 */
	if ((strcmp(path, "/parley/admin/deploy") == 0 || strcmp(path, "/parley/admin/undeploy") == 0) &&
	    !content_type_is(x, "application/x-www-form-urlencoded"))
		return frontend_text(x, 415, "POST %s takes a form (Content-Type: "
		    "application/x-www-form-urlencoded)\n", path);
	if (strcmp(path, "/parley/admin/upload") == 0 &&
	    !content_type_is(x, "application/octet-stream"))
		return frontend_text(x, 415, "POST %s takes the file's bytes (Content-Type: "
		    "application/octet-stream)\n", path);
	if (strcmp(path, "/parley/admin/deploy") == 0)
		return deploy(f, x);
	if (strcmp(path, "/parley/admin/undeploy") == 0)
		return undeploy(f, x);
	if (strcmp(path, "/parley/admin/upload") == 0)
		return upload(f, x);
	return frontend_text(x, 404, "no admin endpoint %s: POST /parley/admin/deploy, "
	    "/parley/admin/undeploy or /parley/admin/upload\n", path);
}
