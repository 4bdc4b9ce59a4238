/* SPDX-License-Identifier: BSD-2-Clause */
/* cidr - IPv4/IPv6 network lists (see cidr.h) */
#include "common/cidr.h"
#include "common/alloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct net {
	pn_ip addr;
	int prefix;
} net;

struct pn_cidr_list {
	net *nets;
	size_t count;
};

/* pn_ip_parse - IPv4 or IPv6 text to bytes; v4-mapped v6 becomes IPv4 */
int pn_ip_parse(const char *text, pn_ip *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len;
	const char *p = text;

	if (p == NULL)
		return -1;
	if (strncasecmp(p, "IPv6:", 5) == 0)
		p += 5;
	len = strlen(p);
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len + 1);
	if (len >= 2 && buf[0] == '[' && buf[len - 1] == ']') {
		memmove(buf, buf + 1, len - 2);
		buf[len - 2] = '\0';
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->bytes) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(out->bytes, mapped, 12) == 0) {
			memmove(out->bytes, out->bytes + 12, 4);
			memset(out->bytes + 4, 0, 12);
			out->family = 4;
		} else {
			out->family = 6;
		}
		return 0;
	}
	return -1;
}

/* host_bits_clear - no bit set past the prefix */
static int host_bits_clear(const pn_ip *ip, int prefix)
{
	int bits = ip->family == 4 ? 32 : 128, i;

	for (i = prefix; i < bits; i++)
		if (ip->bytes[i / 8] & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

/* parse_one - "addr[/len]" */
static int parse_one(const char *text, net *out, char **err)
{
	char *copy = pn_strdup(text), *slash = strrchr(copy, '/');
	int max;

	out->prefix = -1;
	if (slash) {
		char *end;
		long v;
		*slash = '\0';
		v = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || v < 0 || v > 128) {
			*err = pn_asprintf("\"%s\": bad prefix length", text);
			pn_free(copy);
			return -1;
		}
		out->prefix = (int)v;
	}
	if (pn_ip_parse(copy, &out->addr) < 0) {
		*err = pn_asprintf("\"%s\": not an IPv4 or IPv6 address", text);
		pn_free(copy);
		return -1;
	}
	pn_free(copy);
	max = out->addr.family == 4 ? 32 : 128;
	if (out->prefix < 0)
		out->prefix = max;
	if (out->prefix > max) {
		*err = pn_asprintf("\"%s\": prefix longer than %d", text, max);
		return -1;
	}
	if (!host_bits_clear(&out->addr, out->prefix)) {
		*err = pn_asprintf("\"%s\": address has bits set beyond the /%d prefix", text,
				   out->prefix);
		return -1;
	}
	return 0;
}

/* pn_cidr_list_parse - comma/space separated networks */
pn_cidr_list *pn_cidr_list_parse(const char *text, char **err)
{
	pn_cidr_list *l = pn_calloc(1, sizeof(*l));
	size_t cap = 0;
	const char *p = text ? text : "";

	*err = NULL;
	while (*p) {
		const char *start;
		char *item;
		net n;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		item = pn_strndup(start, (size_t)(p - start));
		if (parse_one(item, &n, err) < 0) {
			pn_free(item);
			pn_cidr_list_free(l);
			return NULL;
		}
		pn_free(item);
		if (l->count == cap) {
			cap = cap ? cap * 2 : 4;
			l->nets = pn_realloc(l->nets, cap * sizeof(net));
		}
		l->nets[l->count++] = n;
	}
	return l;
}

/* in_net - whether ip lies in n */
static int in_net(const net *n, const pn_ip *ip)
{
	int full = n->prefix / 8, rest = n->prefix % 8;

	if (n->addr.family != ip->family)
		return 0;
	if (memcmp(n->addr.bytes, ip->bytes, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((n->addr.bytes[full] ^ ip->bytes[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* pn_cidr_list_match_addr - parsed address in any network of the list */
int pn_cidr_list_match_addr(const pn_cidr_list *l, const pn_ip *ip)
{
	size_t i;

	for (i = 0; l && i < l->count; i++)
		if (in_net(&l->nets[i], ip))
			return 1;
	return 0;
}

/* pn_cidr_list_match - textual address in any network of the list */
int pn_cidr_list_match(const pn_cidr_list *l, const char *ip)
{
	pn_ip addr;

	if (pn_ip_parse(ip, &addr) < 0)
		return 0;
	return pn_cidr_list_match_addr(l, &addr);
}

/* pn_cidr_list_count - number of networks */
size_t pn_cidr_list_count(const pn_cidr_list *l)
{
	return l ? l->count : 0;
}

/* pn_cidr_list_free - release (accepts NULL) */
void pn_cidr_list_free(pn_cidr_list *l)
{
	if (l == NULL)
		return;
	pn_free(l->nets);
	pn_free(l);
}
