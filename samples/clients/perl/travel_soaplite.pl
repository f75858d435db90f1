#!/usr/bin/perl
# travel_soaplite.pl - a sample client of Parley's travel booking service,
# written with SOAP::Lite.
#
# It reads the WSDL the node serves, holds one whole booking (StartBooking,
# two AddFlight and an AddHotel, RemoveItem, GetItinerary, Confirm) in SOAP
# 1.1, prints what it did and checks every answer; it exits 1 if the service
# answered something it must not.
#
#     perl travel_soaplite.pl http://127.0.0.1:8080/services/travel?wsdl
#
# As cart_client.pl explains, SOAP::Lite's WSDL stubs are made for
# rpc/encoded services, so this client reads only the endpoint, the target
# namespace and the soapActions from the WSDL and builds each
# document/literal message itself. The travel WSDL declares no SOAP header:
# the node names the booking's conversation in a pc:ConversationID header of
# StartBooking's answer, and the client sends it back as a SOAP::Header.
#
# Needs Debian's libsoap-lite-perl (which brings libwww-perl and XML::Parser).

use strict;
use warnings;

use LWP::UserAgent;
use SOAP::Lite;
use XML::Parser;

use constant {
    NS_WSDL         => 'http://schemas.xmlsoap.org/wsdl/',
    NS_WSDL_SOAP11  => 'http://schemas.xmlsoap.org/wsdl/soap/',
    NS_CONVERSATION => 'urn:parley:conversation',
    TIMEOUT         => 30,
};

my $TRAVELLER = 'Ada Lovelace';
my @OUTBOUND  = ('BA117', '2027-03-14', 2);
my @HOTEL     = ('Hotel Esplanade', '2027-03-14', 3);
my @RETURN    = ('BA118', '2027-03-17', 2);

# Reads from a WSDL document the target namespace and, for its first SOAP 1.1
# port, the endpoint address and each operation's soapAction. Returns a hash
# reference { namespace, endpoint, actions => { operation => soapAction } }.
sub read_wsdl {
    my ($document) = @_;
    my (%namespace_of, %soap11_binding, %actions_of, @ports);
    my ($binding, $operation, $port);

    my $parser = XML::Parser->new(
        Namespaces => 1,
        Handlers   => {
            Start => sub {
                my ($expat, $element, %attr) = @_;
                my $ns = $expat->namespace($element) // '';
                if ($ns eq NS_WSDL) {
                    if ($element eq 'definitions') {
                        $namespace_of{target} = $attr{targetNamespace};
                    } elsif ($element eq 'binding') {
                        $binding = $attr{name};
                    } elsif ($element eq 'operation' && defined $binding) {
                        $operation = $attr{name};
                    } elsif ($element eq 'port') {
                        # A QName; the bindings are all in the target namespace.
                        (my $name = $attr{binding}) =~ s/^.*://;
                        $port = { binding => $name };
                        push @ports, $port;
                    }
                } elsif ($ns eq NS_WSDL_SOAP11) {
                    if ($element eq 'binding' && defined $binding) {
                        $soap11_binding{$binding} = 1;
                    } elsif ($element eq 'operation' && defined $operation) {
                        $actions_of{$binding}{$operation} = $attr{soapAction};
                    } elsif ($element eq 'address' && defined $port) {
                        $port->{address} = $attr{location};
                    }
                }
            },
            End => sub {
                my ($expat, $element) = @_;
                return unless ($expat->namespace($element) // '') eq NS_WSDL;
                undef $binding   if $element eq 'binding';
                undef $operation if $element eq 'operation';
                undef $port      if $element eq 'port';
            },
        });
    $parser->parse($document);

    my ($soap11_port) = grep { $soap11_binding{ $_->{binding} } && $_->{address} } @ports;
    die "the WSDL has no SOAP 1.1 port\n" unless $soap11_port;
    return {
        namespace => $namespace_of{target},
        endpoint  => $soap11_port->{address},
        actions   => $actions_of{ $soap11_port->{binding} },
    };
}

sub expect {
    my ($got, $want, $what) = @_;
    $got //= '(nothing)';
    die "wrong answer: $what: got $got, want $want\n" unless $got eq $want;
}

# Dies with the fault's code and reason unless the answer is a success.
sub succeeded {
    my ($answer, $operation) = @_;
    die sprintf "unexpected fault to %s: %s: %s\n", $operation, $answer->faultcode,
        $answer->faultstring if $answer->fault;
    return $answer;
}

sub converse {
    my ($wsdl_url) = @_;

    my $agent = LWP::UserAgent->new(timeout => TIMEOUT);
    my $response = $agent->get($wsdl_url);
    die "cannot read the WSDL at $wsdl_url: ", $response->status_line, "\n"
        unless $response->is_success;
    my $wsdl = read_wsdl($response->decoded_content);
    my $tns = $wsdl->{namespace};

    my $soap = SOAP::Lite->new(proxy => [$wsdl->{endpoint}, timeout => TIMEOUT]);
    $soap->ns($tns, 'travel');
    # WS-I Basic Profile: the soapAction from the WSDL, quoted.
    $soap->on_action(sub { '"' . $wsdl->{actions}{ $_[1] } . '"' });
    # Literal: no xsi:type on the elements, no SOAP encoding.
    $soap->autotype(0);
    $soap->serializer->encodingStyle('');

    my $element = sub { SOAP::Data->name($_[0] => $_[1])->prefix('travel')->uri($tns) };
    # An operation element with no children: without a (raw, empty)
    # parameter SOAP::Lite would write it as xsi:nil="true".
    my $no_parameters = SOAP::Data->type(xml => '');

    printf "travel at %s, SOAP 1.1, SOAP::Lite %s\n", $wsdl->{endpoint}, $SOAP::Lite::VERSION;

    my $started = succeeded($soap->call('StartBooking' => $element->(traveller => $TRAVELLER)),
        'StartBooking');
    my $booking_id = $started->valueof('//StartBookingResponse/bookingId');
    die "StartBooking's answer has no bookingId\n" unless defined $booking_id;
    expect($started->valueof('//Header/ConversationID'), $booking_id,
        "StartBooking's pc:ConversationID header and its bookingId");
    print "started booking $booking_id for $TRAVELLER\n";

    my $in_booking = SOAP::Header->name(ConversationID => $booking_id)
        ->uri(NS_CONVERSATION)->prefix('pc');

    my $add_flight = sub {
        my ($number, $date, $seats, $want_id, $want_count) = @_;
        my $answer = succeeded($soap->call('AddFlight' => $element->(flightNumber => $number),
                $element->(date => $date), $element->(seats => $seats), $in_booking), 'AddFlight');
        my ($id, $count) = map { $answer->valueof("//AddFlightResponse/$_") } qw(itemId itemCount);
        expect("$id/$count", "$want_id/$want_count", "AddFlight ${number}'s item and count");
        print "added flight $number on $date, $seats seats: item $id, $count items\n";
    };

    $add_flight->(@OUTBOUND, 1, 1);
    my ($hotel, $check_in, $nights) = @HOTEL;
    my $answer = succeeded($soap->call('AddHotel' => $element->(hotel => $hotel),
            $element->(checkIn => $check_in), $element->(nights => $nights), $in_booking), 'AddHotel');
    my ($id, $count) = map { $answer->valueof("//AddHotelResponse/$_") } qw(itemId itemCount);
    expect("$id/$count", '2/2', "AddHotel's item and count");
    print "added hotel $hotel from $check_in, $nights nights: item $id, $count items\n";
    $add_flight->(@RETURN, 3, 3);

    $answer = succeeded($soap->call('RemoveItem' => $element->(itemId => 3), $in_booking),
        'RemoveItem');
    $count = $answer->valueof('//RemoveItemResponse/itemCount');
    expect($count, 2, 'the count after removing item 3');
    print "removed item 3: $count items\n";

    my $itinerary = succeeded($soap->call('GetItinerary' => $no_parameters, $in_booking),
        'GetItinerary');
    expect($itinerary->valueof('//GetItineraryResponse/bookingId'), $booking_id,
        "GetItinerary's bookingId");
    expect($itinerary->valueof('//GetItineraryResponse/traveller'), $TRAVELLER,
        "GetItinerary's traveller");
    expect($itinerary->valueof('//GetItineraryResponse/itemCount'), 2, "GetItinerary's itemCount");
    my @items = $itinerary->valueof('//GetItineraryResponse/item');
    expect(join(',', map { $_->{itemId} } @items), '1,2', "GetItinerary's item IDs");
    my ($flight, $stay) = ($items[0]{flight}, $items[1]{hotel});
    expect(ref $flight && join('/', @$flight{qw(flightNumber date seats)}), join('/', @OUTBOUND),
        'item 1');
    expect(ref $stay && join('/', @$stay{qw(name checkIn nights)}), join('/', @HOTEL), 'item 2');
    printf "itinerary of %s: item 1 flight %s on %s, %d seats; item 2 hotel %s from %s, %d nights\n",
        $TRAVELLER, @$flight{qw(flightNumber date seats)}, @$stay{qw(name checkIn nights)};

    my $confirmed = succeeded($soap->call('Confirm' => $no_parameters, $in_booking), 'Confirm');
    expect(join('/', map { $confirmed->valueof("//ConfirmResponse/$_") } qw(bookingId itemCount)),
        "$booking_id/2", "Confirm's answer");
    print "confirmed booking $booking_id with 2 items\n";

    my $after = $soap->call('GetItinerary' => $no_parameters, $in_booking);
    die "wrong answer: GetItinerary after Confirm answered; the booking should be closed\n"
        unless $after->fault;
    # SOAP::Lite gives the faultcode as written; compare the local name.
    (my $code = $after->faultcode) =~ s/^.*://;
    die sprintf "wrong answer: GetItinerary after Confirm: fault %s (%s), want pc:UnknownConversation\n",
        $after->faultcode, $after->faultstring unless $code eq 'UnknownConversation';
    printf "GetItinerary after confirm: fault pc:UnknownConversation (%s)\n", $after->faultstring;
}

if (@ARGV != 1) {
    print STDERR "usage: travel_soaplite.pl WSDL-URL (e.g. http://127.0.0.1:8080/services/travel?wsdl)\n";
    exit 2;
}
# Each line as it happens, so an error comes after what led to it.
$| = 1;
# SOAP::Lite dies on a transport error (no SOAP answer at all).
eval { converse($ARGV[0]); 1 } or do {
    print STDERR "travel_soaplite.pl: $@";
    exit 1;
};
exit 0;
