/*
 * admin.c - the node's admin endpoints (frontend.h): deploy and undeploy a
 * service while the node serves, on the same listener as the services.
 * Anyone who reaches the port could call them, so they answer only the
 * clients admin_allow lets in (loopback by default). A deploy loads only a
 * descriptor that is already in deploy_dir: writing there is the real
 * permission, as it is for a restart.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int
deploy(struct frontend *f, struct exchange *x)
{
	struct registry_change c;
	char file[256], err[2048];
	int rc;

	rc = form_value(x->req.body, x->req.body_len, "descriptor", file, sizeof file);
	if (rc != 0)
		return frontend_text(x, 400, "POST /parley/admin/deploy takes descriptor=FILE, the name of "
		    "a descriptor in the node's deploy directory %s\n",
		    registry_deploy_dir(f->registry));
	rc = registry_deploy(f->registry, file, &c, err, sizeof err);
	if (rc != 0) {
		log_warnx("deploy %s refused: %s", file, err);
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
	if (strcmp(path, "/parley/admin/deploy") == 0)
		return deploy(f, x);
	if (strcmp(path, "/parley/admin/undeploy") == 0)
		return undeploy(f, x);
	return frontend_text(x, 404, "no admin endpoint %s: POST /parley/admin/deploy or "
	    "/parley/admin/undeploy\n", path);
}
