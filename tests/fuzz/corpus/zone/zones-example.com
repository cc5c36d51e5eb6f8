; example.com: the demo zone served by etc/gslb.conf.
; Addresses are from the documentation ranges (RFC 5737, RFC 3849).
$ORIGIN fuzz.test.
$TTL 3600

@               IN SOA  ns1.fuzz.test. hostmaster.fuzz.test. (
                        2026112601 ; serial (YYYYMMDDnn)
                        7200       ; refresh
                        3600       ; retry
                        1209600    ; expire
                        300 )      ; minimum: negative answers are cached 5 minutes

                IN NS   ns1
                IN NS   ns2

                IN A    192.0.2.1
                IN AAAA 2001:db8::1
                IN MX   10 mail
                IN MX   20 mail2.fuzz.test.
                IN TXT  "v=spf1 mx ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
                IN CAA  0 issue "letsencrypt.org"
                IN CAA  0 iodef "mailto:security@example.com"
                IN HTTPS 1 . alpn="h2,h3"

; name servers and their addresses (served here, used as additional data)
ns1             IN A    192.0.2.53
                IN AAAA 2001:db8::53
ns2             IN A    198.51.100.53
                IN AAAA 2001:db8:1::53

; www is a geo-balanced service (etc/gslb.conf): gslbd answers its A and AAAA
; from the nearest region's pool; other types come from here.
www             300 IN HTTPS 1 . alpn="h2"
                300 IN TXT  "served from the zone file: not location dependent"

mail            IN A    192.0.2.25
                IN AAAA 2001:db8::25

; a CNAME and a chain that stays inside the zone
ftp             IN CNAME www
docs            IN CNAME ftp

; service records
_sip._udp       IN SRV  10 60 5060 sip
_sip._tcp       IN SRV  10 60 5060 sip
_submission._tcp IN SRV 0 1 587 mail
sip             IN A    192.0.2.50
_dmarc          IN TXT  "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"

; any name under *.apps answers with the application front end
*.apps          IN A    192.0.2.80
                IN AAAA 2001:db8::80
                IN TXT  "wildcard"
; a real name below the wildcard's parent: not covered by the wildcard
status.apps     IN A    192.0.2.81

; sub.example.com is delegated: referral with glue, DS from this side
sub             IN NS   ns1.sub
                IN NS   ns2.fuzz.test.
                IN DS   12345 13 2 2bb183af5f22588179a53b0a98631fad1a292118f2e8b1e6b7c3d6ae37f5e6f1
ns1.sub         IN A    192.0.2.200
                IN AAAA 2001:db8:5::53

; reverse-style and misc data for demonstrations
host1           IN A    192.0.2.101
                IN TXT  "rack=a1" "row=3"
