#!/usr/bin/perl
# Build a MaxMind-format database (.mmdb) from a readable JSON source, so that
# every database gslb ships or tests with has its source next to it.
#
# The source is a JSON list of objects:
#   { "network": "83.0.0.0/11", "country": "PL", "continent": "EU",
#     "subdivision": "14", "city": "Warsaw", "lat": 52.2297, "lon": 21.0122 }
# Only "network" is required. Keys starting with "_" are comments, and an
# entry with nothing but such keys is skipped.
# More specific networks win over the ones containing them, whatever the
# order in the file.
#
# Schemas (the record layout written for each network):
#   city     GeoIP2/GeoLite2-City: country.iso_code, continent.code,
#            subdivisions[0].iso_code, city.names.en, location.latitude/longitude
#   flat     country_code, continent_code, region_code ("PL-14"), city,
#            latitude, longitude (a single-level map, as some vendors use)
#   country  GeoIP2-Country: country.iso_code and continent.code only
#   asn      GeoLite2-ASN: autonomous_system_number and
#            autonomous_system_organization, from the source's "asn" (a
#            number) and "org"
#
# With --ip-version 6 (the default) IPv4 networks live in ::/96 and the
# IPv4-mapped, 6to4 and Teredo ranges are aliased to them, as in MaxMind's own
# databases (--no-alias leaves those ranges to whatever the source puts there,
# as some other writers do). With --ip-version 4 IPv6 networks in the source
# are skipped.
# Reserved ranges (192.0.2.0/24, 2001:db8::/32, 10.0.0.0/8...) are kept so
# that tests and demos can use documentation addresses.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use JSON::PP ();
use MaxMind::DB::Writer::Tree ();

my %opt = (schema => 'city', 'ip-version' => 6);
GetOptions(\%opt, 'schema=s', 'ip-version=i', 'output|o=s', 'database-type=s',
	'description=s', 'build-epoch=i', 'record-size=i', 'no-alias', 'help|h')
	or usage(2);
usage(0) if $opt{help};
usage(2) unless @ARGV == 1 && defined $opt{output};

my %schemas = (city => \&record_city, flat => \&record_flat, country => \&record_country,
	asn => \&record_asn);
my $make = $schemas{ $opt{schema} } or die "build-mmdb: unknown --schema $opt{schema} (city, flat, country, asn)\n";
my $ipv = $opt{'ip-version'};
die "build-mmdb: --ip-version must be 4 or 6\n" unless $ipv == 4 || $ipv == 6;

my $src = shift @ARGV;
my $json = do {
	open my $fh, '<:raw', $src or die "build-mmdb: $src: $!\n";
	local $/;
	<$fh>;
};
my $list = eval { JSON::PP->new->utf8->relaxed->decode($json) };
die "build-mmdb: $src: $@" unless defined $list;
die "build-mmdb: $src: the top level must be a list of networks\n" unless ref $list eq 'ARRAY';

my %types = (
	# city / country schema
	continent    => 'map',
	country      => 'map',
	code         => 'utf8_string',
	iso_code     => 'utf8_string',
	subdivisions => [ 'array', 'map' ],
	city         => $opt{schema} eq 'flat' ? 'utf8_string' : 'map',
	names        => 'map',
	en           => 'utf8_string',
	location     => 'map',
	latitude     => 'double',
	longitude    => 'double',
	# flat schema
	country_code   => 'utf8_string',
	continent_code => 'utf8_string',
	region_code    => 'utf8_string',
	# asn schema
	autonomous_system_number       => 'uint32',
	autonomous_system_organization => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version               => $ipv,
	record_size              => $opt{'record-size'} // 24,
	database_type            => $opt{'database-type'} // "gslb-Test-\u$opt{schema}",
	languages                => ['en'],
	description              => { en => $opt{description} // "gslb test database built from $src" },
	map_key_type_callback    => sub { $types{ $_[0] } // die "build-mmdb: no type for key $_[0]\n" },
	alias_ipv6_to_ipv4       => $ipv == 6 && !$opt{'no-alias'} ? 1 : 0,
	remove_reserved_networks => 0,
);
# A fixed epoch makes rebuilt files comparable; SOURCE_DATE_EPOCH is the
# reproducible-builds convention.
my $epoch = $opt{'build-epoch'} // $ENV{SOURCE_DATE_EPOCH};
$tree->_set_build_epoch($epoch) if defined $epoch;

my @nets;
my $i = 0;
for my $e (@$list) {
	$i++;
	die "build-mmdb: $src: entry $i is not an object\n" unless ref $e eq 'HASH';
	next unless grep { !/^_/ } keys %$e; # a comment-only entry
	my $net = $e->{network} // die "build-mmdb: $src: entry $i has no network\n";
	my ($addr, $len) = $net =~ m{^([0-9A-Fa-f:.]+)/(\d+)$}
		or die "build-mmdb: $src: entry $i: bad network \"$net\"\n";
	my $v6 = $addr =~ /:/;
	next if $v6 && $ipv == 4;
	die "build-mmdb: $src: entry $i: prefix too long in $net\n" if $len > ($v6 ? 128 : 32);
	die "build-mmdb: $src: entry $i: asn is not a number 1..4294967295\n"
		if defined $e->{asn} && !($e->{asn} =~ /^\d+$/ && $e->{asn} >= 1 && $e->{asn} <= 4294967295);
	for my $k (qw(lat lon)) {
		next unless defined $e->{$k};
		die "build-mmdb: $src: entry $i: $k is not a number\n"
			unless $e->{$k} =~ /^-?\d+(?:\.\d+)?$/;
	}
	push @nets, [ $net, $len + ($v6 ? 0 : 96), $i, $make->($e) ];
}
# Shorter prefixes first, so that a more specific network overwrites its part
# of a containing one.
for my $n (sort { $a->[1] <=> $b->[1] || $a->[2] <=> $b->[2] } @nets) {
	$tree->insert_network($n->[0], $n->[3]);
}

open my $out, '>:raw', "$opt{output}.tmp" or die "build-mmdb: $opt{output}.tmp: $!\n";
$tree->write_tree($out);
close $out or die "build-mmdb: $opt{output}.tmp: $!\n";
# rename: a server mapping the old file keeps reading it undisturbed
rename "$opt{output}.tmp", $opt{output} or die "build-mmdb: $opt{output}: $!\n";
exit 0;

sub record_city {
	my ($e) = @_;
	my %r;
	$r{continent} = { code => $e->{continent} } if defined $e->{continent};
	$r{country} = { iso_code => $e->{country} } if defined $e->{country};
	$r{subdivisions} = [ { iso_code => $e->{subdivision} } ] if defined $e->{subdivision};
	$r{city} = { names => { en => $e->{city} } } if defined $e->{city};
	if (defined $e->{lat} && defined $e->{lon}) {
		$r{location} = { latitude => 0 + $e->{lat}, longitude => 0 + $e->{lon} };
	}
	return \%r;
}

sub record_flat {
	my ($e) = @_;
	my %r;
	$r{country_code} = $e->{country} if defined $e->{country};
	$r{continent_code} = $e->{continent} if defined $e->{continent};
	$r{region_code} = "$e->{country}-$e->{subdivision}"
		if defined $e->{country} && defined $e->{subdivision};
	$r{city} = $e->{city} if defined $e->{city};
	$r{latitude} = 0 + $e->{lat} if defined $e->{lat};
	$r{longitude} = 0 + $e->{lon} if defined $e->{lon};
	return \%r;
}

sub record_country {
	my ($e) = @_;
	my %r;
	$r{continent} = { code => $e->{continent} } if defined $e->{continent};
	$r{country} = { iso_code => $e->{country} } if defined $e->{country};
	return \%r;
}

sub record_asn {
	my ($e) = @_;
	my %r;
	$r{autonomous_system_number} = 0 + $e->{asn} if defined $e->{asn};
	$r{autonomous_system_organization} = $e->{org} if defined $e->{org};
	return \%r;
}

sub usage {
	my ($rc) = @_;
	print STDERR <<"EOF";
usage: $0 [--schema city|flat|country|asn] [--ip-version 6|4] [--database-type NAME]
       [--description TEXT] [--build-epoch SECONDS] [--no-alias] -o OUT.mmdb SOURCE.json
EOF
	exit $rc;
}
