/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash for tables whose keys an attacker chooses, so
 * that without the key no one can make entries collide. */
#ifndef GSLB_SIPHASH_H
#define GSLB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* The 64-bit SipHash-2-4 of len bytes under a 16-byte key; the paper's
 * 8-byte output is this value in little-endian order. */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len);

/* Fill a key from the kernel's random source (getrandom, else
 * /dev/urandom). Returns 0, or -1 when neither gave 16 bytes. */
int siphash_random_key(uint8_t key[SIPHASH_KEY_LEN]);

#endif
