/* Network addresses, in one place: networks as text ("192.0.2.0/24",
 * "2001:db8::/32", a bare address = a host), their text form, prefix
 * tests, IPv4-mapped peers, an immutable longest-prefix set (ACLs, the
 * blocklist, RRL exemptions, trusted proxies, GeoIP overrides), and the
 * listening sockets that libmicrohttpd is handed (MHD_OPTION_LISTEN_SOCKET)
 * instead of binding them itself: so they are bound while gslbd may still
 * be root, and served once it no longer is.
 *
 * An address is 16 bytes: an IPv4 address in the first 4, the rest zero.
 * Functions taking an address and its length (alen) read 4 or 16 bytes. */
#ifndef GSLB_NET_H
#define GSLB_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A network: family (AF_INET, AF_INET6), address with host bits zero, and
 * a prefix length (0..32 or 0..128). */
struct net_cidr {
	int family;
	uint8_t addr[16];
	uint8_t prefix;
};

/* The longest text net_format writes, terminator included. */
#define NET_CIDR_TEXT_MAX 52

/* net_parse flags: by default host bits beyond the prefix are an error
 * ("10.0.0.1/8" in the config, the overrides file); NET_CLEAR_HOST clears
 * them instead (the blocklist, an explained client subnet). */
#define NET_CLEAR_HOST 1u

/* Parse "ADDR/LEN" or a bare ADDR (a host: /32, /128) into out. LEN is one
 * to three decimal digits. On error, why gets the message
 * ("bad CIDR \"TEXT\": ..."); returns GSLB_EPARSE (not an address, a bad
 * length), GSLB_ERANGE (length over 32 or 128) or GSLB_EINVAL (host bits
 * set). */
int net_parse(const char *text, unsigned flags, struct net_cidr *out, char *why, size_t whylen);

/* A bare address ("192.0.2.1", "2001:db8::1") into addr (16 bytes,
 * zero-padded). Returns AF_INET or AF_INET6, 0 when text is not one. */
int net_addr_parse(const char *text, uint8_t addr[16]);

/* "ADDR/LEN" into buf (see NET_CIDR_TEXT_MAX); returns what snprintf does. */
int net_format(int family, const uint8_t *addr, unsigned prefix, char *buf, size_t len);

/* Bytes of an address of this family: 4, 16, 0 for any other. */
unsigned net_alen(int family);

/* dst = src with the bits beyond prefix cleared (alen bytes). */
void net_mask(uint8_t *dst, const uint8_t *src, unsigned alen, unsigned prefix);

/* How many leading bits a and b (alen bytes each) share. */
unsigned net_common_prefix(const uint8_t *a, const uint8_t *b, unsigned alen);

/* Are a and b (4 or 16 bytes of one family) in the same network of this
 * prefix length? The client network of per-network connection limits. */
int net_same(const uint8_t *a, const uint8_t *b, unsigned prefix);

/* Is the subnet addr/prefix of this family wholly inside network n? A host
 * is prefix 32 or 128. */
int net_contains(const struct net_cidr *n, int family, const uint8_t *addr, unsigned prefix);

/* An IPv6 address ::ffff:a.b.c.d becomes the IPv4 address a.b.c.d in
 * place (AF_INET); any other stays (AF_INET6). */
int net_unmap_v4(uint8_t addr[16]);

/* The address of a socket address into addr (16 bytes, zero-padded); an
 * IPv4-mapped IPv6 address counts as the IPv4 address. Returns AF_INET or
 * AF_INET6, 0 (addr all zero) for NULL or any other family. */
int net_sockaddr_ip(const struct sockaddr *sa, uint8_t addr[16]);

/* ---- longest-prefix set ----------------------------------------------
 * Immutable; a lookup allocates nothing: one sorted array of masked
 * addresses per prefix length in use, searched longest prefix first. */
struct net_set;

/* Build from n networks; network i is found as index i. A network listed
 * twice keeps its first index. dup, when not NULL, gets the indexes of the
 * first repeat (the earliest network listed again, in the first family,
 * IPv4 before IPv6, that has one) and of its first listing, or
 * dup[0] = dup[1] = (size_t)-1 when nothing repeats. NULL on allocation
 * failure. The caller owns the result (net_set_free). */
struct net_set *net_set_new(const struct net_cidr *v, size_t n, size_t dup[2]);
void net_set_free(struct net_set *s);

/* The index of the longest network holding addr (4 or 16 bytes), -1 when
 * none does. need, when not NULL, gets the shortest prefix length that
 * keeps every longer network not holding addr out of addr's block. */
long net_set_lookup(const struct net_set *s, int family, const uint8_t *addr, unsigned *need);

/* Is addr inside one of the networks? (NULL: an empty set.) */
int net_set_contains(const struct net_set *s, int family, const uint8_t *addr);

/* Distinct networks in the set. */
size_t net_set_count(const struct net_set *s);

/* Read a file of networks, one per line ("192.0.2.0/24", "2001:db8::/32", a
 * bare address = a host; host bits ignored; '#' comments). Errors name
 * file:line. */
int net_set_load_file(const char *path, struct net_set **out, char *err, size_t errlen);

/* ---- listening sockets ----------------------------------------------- */

/* A non-blocking, close-on-exec TCP socket bound to sa (IPv6 only for an
 * IPv6 address, SO_REUSEADDR) and listening. Returns the descriptor, or -1
 * with errno set. */
int net_listen_tcp(const struct sockaddr *sa, socklen_t len);

/* The port a bound socket got (for port 0), 0 if unknown. */
unsigned net_bound_port(int fd);

#endif
