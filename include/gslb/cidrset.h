/* An immutable set of networks (IPv4 and IPv6) with a membership test that
 * allocates nothing: one sorted array of masked addresses per prefix length
 * in use, searched longest prefix first. Used for ACLs, blocklists and RRL
 * exemptions. */
#ifndef GSLB_CIDRSET_H
#define GSLB_CIDRSET_H

#include <stddef.h>
#include <stdint.h>

struct cidrset;

/* Build from n networks (family AF_INET/AF_INET6, address, prefix). The
 * caller owns the result (cidrset_free). NULL on allocation failure. */
struct cidrset *cidrset_new(const int *family, const uint8_t (*addr)[16], const uint8_t *prefix,
			    size_t n);
void cidrset_free(struct cidrset *s);

/* Is addr (4 or 16 bytes) inside one of the networks? */
int cidrset_contains(const struct cidrset *s, int family, const uint8_t *addr);

size_t cidrset_count(const struct cidrset *s);

/* The address of a socket address into addr (16 bytes, zero-padded); an
 * IPv4-mapped IPv6 address counts as the IPv4 address. Returns AF_INET or
 * AF_INET6, 0 (addr all zero) for NULL or any other family. */
struct sockaddr;
int cidr_sockaddr_ip(const struct sockaddr *sa, uint8_t addr[16]);

/* Are a and b (4 or 16 bytes of one family) in the same network of this
 * prefix length? The client network of per-network connection limits. */
int cidr_same_net(const uint8_t *a, const uint8_t *b, unsigned prefix);

/* Read a file of networks, one per line ("192.0.2.0/24", "2001:db8::/32", a
 * bare address = a host; '#' comments). Errors name file:line. */
int cidrset_load_file(const char *path, struct cidrset **out, char *err, size_t errlen);

#endif
