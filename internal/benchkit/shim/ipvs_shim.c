/*
 * The benchmarks' stand-in for the kernel's IPVS control interface, loaded
 * into keepalived with LD_PRELOAD so that its checker process runs on a
 * kernel without IPVS. keepalived falls back from generic netlink (the
 * IPVS family does not exist here) to the older sockopt interface on a
 * raw socket; this library answers those IP_VS_SO_* options with success
 * (an empty table, version 1.2.1) and passes every other call through.
 * The health checks themselves (connect, HTTP GET, MD5) are untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define IPVS_BASE (64 + 1024 + 64)
#define IPVS_GET_VERSION (IPVS_BASE + 0)
#define IPVS_GET_INFO (IPVS_BASE + 1)
#define IPVS_LAST (IPVS_BASE + 15)

static int is_ipvs(int level, int opt)
{
	return level == IPPROTO_IP && opt >= IPVS_BASE && opt <= IPVS_LAST;
}

int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	static int (*real)(int, int, int, void *, socklen_t *);
	if (is_ipvs(level, opt)) {
		if (val && len)
			memset(val, 0, *len);
		if (opt == IPVS_GET_VERSION && val && len)
			snprintf(val, *len, "IP Virtual Server version 1.2.1 (size=4096)");
		if (opt == IPVS_GET_INFO && val && len && *len >= 3 * sizeof(unsigned int)) {
			unsigned int *info = val;
			info[0] = 0x010201;
			info[1] = 4096;
			info[2] = 0;
		}
		return 0;
	}
	if (!real)
		real = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
	return real(fd, level, opt, val, len);
}

int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);
	if (is_ipvs(level, opt))
		return 0;
	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	return real(fd, level, opt, val, len);
}
