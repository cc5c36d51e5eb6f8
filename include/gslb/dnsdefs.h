/* DNS numbers used across gslbd: record types and classes (RFC 1035 and
 * the RFCs that added types), one definition for the message code, RRL,
 * the metrics and the config. */
#ifndef GSLB_DNSDEFS_H
#define GSLB_DNSDEFS_H

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_NAPTR = 35,
	DNS_T_OPT = 41,
	DNS_T_DS = 43,
	DNS_T_RRSIG = 46,
	DNS_T_NSEC = 47,
	DNS_T_DNSKEY = 48,
	DNS_T_NSEC3 = 50,
	DNS_T_CDS = 59,
	DNS_T_CDNSKEY = 60,
	DNS_T_SVCB = 64,
	DNS_T_HTTPS = 65,
	DNS_T_TKEY = 249,
	DNS_T_TSIG = 250,
	DNS_T_IXFR = 251,
	DNS_T_AXFR = 252,
	DNS_T_MAILB = 253,
	DNS_T_MAILA = 254,
	DNS_T_ANY = 255,
	DNS_T_CAA = 257,
};

enum dns_class {
	DNS_C_IN = 1,
	DNS_C_CH = 3,
	DNS_C_ANY = 255,
};

#endif
