#!/usr/bin/perl
# SPDX-License-Identifier: BSD-2-Clause
# make_mmdb.pl - write small MaxMind DB (.mmdb) files for Postern's tests
#
# USAGE
#   perl tests/lib/make_mmdb.pl [--no-defaults] [--ipv4] country OUT.mmdb [NET=VALUE ...]
#   perl tests/lib/make_mmdb.pl [--no-defaults] [--ipv4] asn     OUT.mmdb [NET=VALUE ...]
#
# Writes a real database with MaxMind::DB::Writer::Tree (Debian package
# libmaxmind-db-writer-perl), laid out like MaxMind's GeoLite2 files, so the
# C code is tested against the same format it meets in production without
# shipping MaxMind data (whose licence forbids redistribution).
#
#   country  database_type "GeoLite2-Country"; records hold
#            country.iso_code and registered_country.iso_code (+ names.en)
#   asn      database_type "GeoLite2-ASN"; records hold
#            autonomous_system_number and autonomous_system_organization
#
# DEFAULT DATA (documentation ranges, RFC 5737 and RFC 3849; other tests,
# end-to-end tests and the demo rely on it, so change it only with them)
#   country  192.0.2.0/24     country DE, registered DE
#            198.51.100.0/24  registered_country US only (tests the fallback)
#            203.0.113.0/24   country JP, registered US (country wins)
#            2001:db8::/32    country FR, registered FR
#   asn      192.0.2.0/24     64500 "Example Transit AS"
#            203.0.113.0/24   64502, no organisation
#            2001:db8::/32    64501 "Example v6 Networks"
#
# EXTRA ENTRIES: each NET=VALUE argument adds a network (CIDR) after the
# defaults; a later entry for the same network replaces an earlier one, and
# a longer prefix inside a default range overrides it for that sub-range.
#   country  VALUE is CC (country and registered CC), CC/RR (country CC,
#            registered RR) or /RR (registered country only)
#   asn      VALUE is NUMBER or NUMBER:ORGANISATION (UTF-8)
# e.g. 127.0.0.0/8=NL so that a demo connecting from localhost has a country.
#
# OPTIONS
#   --no-defaults  write only the NET=VALUE entries
#   --ipv4         an IPv4-only tree (ip_version 4); IPv6 defaults are left
#                  out. Without it the tree is IPv6 and IPv4 networks live at
#                  ::a.b.c.d, aliased from ::ffff:0:0/96 and 2002::/16 as in
#                  MaxMind's own databases, so IPv4 lookups work.
#
# Check the result with: mmdblookup --file OUT.mmdb --ip 192.0.2.7
use strict;
use warnings;

use Encode qw(decode);
use MaxMind::DB::Writer::Tree;

my %names = (DE => 'Germany', US => 'United States', JP => 'Japan',
	     FR => 'France', NL => 'Netherlands', GB => 'United Kingdom');

# The writer must be told each map key's type; unknown keys are a bug here.
my %types = (
	country                        => 'map',
	registered_country             => 'map',
	iso_code                       => 'utf8_string',
	names                          => 'map',
	en                             => 'utf8_string',
	autonomous_system_number       => 'uint32',
	autonomous_system_organization => 'utf8_string',
);

my %defaults = (
	country => [
		['192.0.2.0/24',    'DE'],
		['198.51.100.0/24', '/US'],
		['203.0.113.0/24',  'JP/US'],
		['2001:db8::/32',   'FR'],
	],
	asn => [
		['192.0.2.0/24',    '64500:Example Transit AS'],
		['203.0.113.0/24',  '64502'],
		['2001:db8::/32',   '64501:Example v6 Networks'],
	],
);

sub usage {
	die "usage: make_mmdb.pl [--no-defaults] [--ipv4] country|asn OUT.mmdb [NET=VALUE ...]\n";
}

# country_record - the GeoLite2-Country shape for a CC, CC/RR or /RR value
sub country_record {
	my ($value) = @_;
	my ($cc, $rr) = $value =~ m{^([A-Z]{2})?(?:/([A-Z]{2}))?$}
		or die "make_mmdb.pl: bad country value '$value' (want CC, CC/RR or /RR)\n";
	die "make_mmdb.pl: empty country value\n" unless defined $cc || defined $rr;
	$rr //= $cc;
	my %rec;
	for ([country => $cc], [registered_country => $rr]) {
		my ($key, $code) = @$_;
		next unless defined $code;
		$rec{$key} = { iso_code => $code };
		$rec{$key}{names} = { en => $names{$code} } if $names{$code};
	}
	return \%rec;
}

# asn_record - the GeoLite2-ASN shape for a NUMBER[:ORGANISATION] value
sub asn_record {
	my ($value) = @_;
	my ($num, $org) = $value =~ /^(\d+)(?::(.*))?$/s
		or die "make_mmdb.pl: bad asn value '$value' (want NUMBER[:ORG])\n";
	die "make_mmdb.pl: AS number $num out of range\n" if $num > 4294967295;
	my %rec = (autonomous_system_number => $num + 0);
	$rec{autonomous_system_organization} = $org if defined $org && length $org;
	return \%rec;
}

my ($defaults, $ipv4) = (1, 0);
while (@ARGV && $ARGV[0] =~ /^--/) {
	my $opt = shift @ARGV;
	if    ($opt eq '--no-defaults') { $defaults = 0 }
	elsif ($opt eq '--ipv4')        { $ipv4 = 1 }
	elsif ($opt eq '--')            { last }
	else                            { usage() }
}
my ($kind, $out, @extra) = @ARGV;
usage() unless defined $out && ($kind eq 'country' || $kind eq 'asn');

my @entries;
if ($defaults) {
	push @entries, grep { !$ipv4 || $_->[0] !~ /:/ } @{ $defaults{$kind} };
}
for my $arg (@extra) {
	my ($net, $value) = split /=/, decode('UTF-8', $arg), 2;
	die "make_mmdb.pl: bad entry '$arg' (want NET=VALUE)\n"
		unless defined $value && $net =~ m{/\d+$};
	push @entries, [$net, $value];
}

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version            => $ipv4 ? 4 : 6,
	record_size           => 28,
	database_type         => $kind eq 'country' ? 'GeoLite2-Country' : 'GeoLite2-ASN',
	languages             => ['en'],
	description           => { en => "Postern test $kind data" },
	map_key_type_callback => sub { $types{ $_[0] } // die "make_mmdb.pl: no type for key $_[0]\n" },
	alias_ipv6_to_ipv4    => $ipv4 ? 0 : 1,
	# The default data lives in documentation ranges, which the writer
	# would otherwise drop as reserved; tests also need private ranges.
	remove_reserved_networks => 0,
);
for my $e (@entries) {
	my ($net, $value) = @$e;
	my $rec = $kind eq 'country' ? country_record($value) : asn_record($value);
	$tree->insert_network($net, $rec);
}

# Write beside the target and rename, so a reader never maps a half file.
my $tmp = "$out.tmp$$";
open my $fh, '>:raw', $tmp or die "make_mmdb.pl: $tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "make_mmdb.pl: $tmp: $!\n";
rename $tmp, $out or die "make_mmdb.pl: rename $tmp to $out: $!\n";
