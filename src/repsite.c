/*
 * repsite.c - naming the sites of a Replication Manager group (repsite.h).
 */
#include "config.h"

#include <string.h>

#include "repsite.h"

int
repsite_add(DB_ENV *env, const char *host, unsigned port, u_int32_t which, int creator)
{
	DB_SITE *site = NULL;
	int ret, cret;

	if ((ret = env->repmgr_site(env, host, port, &site, 0)) != 0)
		return ret;
	ret = site->set_config(site, which, 1);
	if (ret == 0 && creator)
		ret = site->set_config(site, DB_GROUP_CREATOR, 1);
	cret = site->close(site);
	return ret != 0 ? ret : cret;
}

u_int32_t
repsite_us(unsigned ms)
{
	return (u_int32_t)ms * 1000u;
}

int
repsite_expected(const char *msg)
{
	return msg != NULL && strstr(msg, "BDB3509") != NULL;
}
