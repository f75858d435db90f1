#!/usr/bin/perl
# trip_soaplite.pl - a sample client of Parley's trip sample, written with
# SOAP::Lite.
#
# One trip through two services that share it, in SOAP 1.1: StartTrip
# through the flight service, JoinTrip through the hotel service (naming the
# trip in a pc:JoinConversation header), flights and rooms added through
# each, GetTrip through both (the same trip), ConfirmFlights through flight
# (the hotel then sees the flights confirmed and one conversation live), and
# ConfirmRooms through hotel, which ends the trip. It prints what it did and
# checks every answer; it exits 1 if a service answered something it must not.
#
#     perl trip_soaplite.pl http://127.0.0.1:8080/services/flight?wsdl \
#         http://127.0.0.1:8080/services/hotel?wsdl
#
# As cart_client.pl explains, SOAP::Lite's WSDL stubs are made for
# rpc/encoded services, so this client reads only the endpoint, the target
# namespace and the soapActions from each WSDL and builds each
# document/literal message itself, the conversation headers as SOAP::Header
# elements.
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
# [service, operation, [element => value, ...], the count and trip total it must answer]
my @STEPS = (
    ['flight', 'AddFlight', [origin => 'LHR', destination => 'JFK', date => '2027-03-14', price => 45000], 1, 45000],
    ['hotel',  'AddRoom',   [city => 'New York', nights => 5, price => 110000], 1, 155000],
    ['flight', 'AddFlight', [origin => 'JFK', destination => 'BOS', date => '2027-03-19', price => 9000], 2, 164000],
    ['hotel',  'AddRoom',   [city => 'Washington', nights => 2, price => 36000], 2, 200000],
    ['flight', 'RemoveFlight', [index => 2], 1, 191000],
    ['flight', 'AddFlight', [origin => 'JFK', destination => 'LHR', date => '2027-03-21', price => 52000], 2, 243000],
);
my $FLIGHTS = '1 LHR JFK 2027-03-14 45000; 2 JFK LHR 2027-03-21 52000';
my $ROOMS   = '1 New York 5 110000; 2 Washington 2 36000';
my ($FLIGHT_TOTAL, $ROOM_TOTAL, $TOTAL) = (97000, 146000, 243000);

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

# A service from the WSDL at $url: { soap, element (makes a child of an
# operation's element), endpoint }.
sub service {
    my ($url, $prefix) = @_;
    my $agent = LWP::UserAgent->new(timeout => TIMEOUT);
    my $response = $agent->get($url);
    die "cannot read the WSDL at $url: ", $response->status_line, "\n"
        unless $response->is_success;
    my $wsdl = read_wsdl($response->decoded_content);
    my $tns = $wsdl->{namespace};

    my $soap = SOAP::Lite->new(proxy => [$wsdl->{endpoint}, timeout => TIMEOUT]);
    $soap->ns($tns, $prefix);
    # WS-I Basic Profile: the soapAction from the WSDL, quoted.
    $soap->on_action(sub { '"' . $wsdl->{actions}{ $_[1] } . '"' });
    # Literal: no xsi:type on the elements, no SOAP encoding.
    $soap->autotype(0);
    $soap->serializer->encodingStyle('');
    return {
        soap     => $soap,
        element  => sub { SOAP::Data->name($_[0] => $_[1])->prefix($prefix)->uri($tns) },
        endpoint => $wsdl->{endpoint},
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

sub money { sprintf '%d.%02d', int($_[0] / 100), $_[0] % 100 }

sub conversation_header {
    my ($name, $id) = @_;
    return SOAP::Header->name($name => $id)->uri(NS_CONVERSATION)->prefix('pc');
}

# An operation element with no children: without a (raw, empty) parameter
# SOAP::Lite would write it as xsi:nil="true".
my $NO_PARAMETERS = SOAP::Data->type(xml => '');

# Checks GetTrip's answer through $name against the whole trip as it must be by now.
sub check_trip {
    my ($trip, $name, $trip_id, $confirmed, $live) = @_;
    my $what = "GetTrip through $name";
    my $get = sub { $trip->valueof("//GetTripResponse/$_[0]") };
    expect(join('/', map { $get->($_) } qw(tripId traveller initiator)),
        "$trip_id/$TRAVELLER/flight", "$what: trip, traveller, initiator");
    my @flights = $trip->valueof('//GetTripResponse/flight');
    expect(join('; ', map { join ' ', @$_{qw(index origin destination date price)} } @flights),
        $FLIGHTS, "$what: flights");
    my @rooms = $trip->valueof('//GetTripResponse/room');
    expect(join('; ', map { join ' ', @$_{qw(index city nights price)} } @rooms), $ROOMS,
        "$what: rooms");
    expect(join('/', map { $get->($_) } qw(flightTotal roomTotal total)),
        "$FLIGHT_TOTAL/$ROOM_TOTAL/$TOTAL", "$what: totals");
    expect(join('/', map { $get->($_) } qw(flightsConfirmed roomsConfirmed)), $confirmed,
        "$what: what is confirmed");
    expect($get->('liveConversations'), $live, "$what: live conversations");
    my ($flights_state, $rooms_state) =
        map { $get->($_) eq 'true' ? 'confirmed' : 'open' } qw(flightsConfirmed roomsConfirmed);
    printf "trip through %s: %d flights %s, %d rooms %s, total %s; flights %s, rooms %s; "
        . "%d conversations live, started by %s\n", $name, scalar @flights,
        money($get->('flightTotal')), scalar @rooms, money($get->('roomTotal')),
        money($get->('total')), $flights_state, $rooms_state, $get->('liveConversations'),
        $get->('initiator');
}

sub expect_ended {
    my ($service, $name, $header, $after) = @_;
    my $answer = $service->{soap}->call('GetTrip' => $NO_PARAMETERS, $header);
    die "wrong answer: GetTrip through $name after $after answered; its conversation should be over\n"
        unless $answer->fault;
    # SOAP::Lite gives the faultcode as written; the prefix is the server's
    # choice, so compare the local name.
    (my $code = $answer->faultcode) =~ s/^.*://;
    die sprintf "wrong answer: GetTrip through %s after %s: fault %s (%s), want pc:UnknownConversation\n",
        $name, $after, $answer->faultcode, $answer->faultstring unless $code eq 'UnknownConversation';
    print "GetTrip through $name after $after: fault pc:UnknownConversation\n";
}

sub step_text {
    my ($operation, %a) = @_;
    return sprintf 'added flight %s-%s on %s (%s)', @a{qw(origin destination date)}, money($a{price})
        if $operation eq 'AddFlight';
    return sprintf 'added room in %s, %d nights (%s)', @a{qw(city nights)}, money($a{price})
        if $operation eq 'AddRoom';
    return "removed flight $a{index}";
}

sub converse {
    my ($flight_url, $hotel_url) = @_;
    my %service = (flight => service($flight_url, 'flight'), hotel => service($hotel_url, 'hotel'));
    my ($flight, $hotel) = @service{qw(flight hotel)};

    printf "flight at %s, hotel at %s, SOAP 1.1, SOAP::Lite %s\n", $flight->{endpoint},
        $hotel->{endpoint}, $SOAP::Lite::VERSION;

    my $started = succeeded($flight->{soap}->call('StartTrip' => $flight->{element}->(traveller => $TRAVELLER)),
        'StartTrip');
    my $trip_id = $started->valueof('//Header/ConversationID');
    die "StartTrip's answer has no pc:ConversationID header\n" unless defined $trip_id;
    expect($started->valueof('//StartTripResponse/tripId'), $trip_id,
        "StartTrip's tripId and its pc:ConversationID header");
    print "started trip $trip_id for $TRAVELLER through flight\n";

    my $joined = succeeded($hotel->{soap}->call('JoinTrip' => $NO_PARAMETERS,
            conversation_header(JoinConversation => $trip_id)), 'JoinTrip');
    my $hotel_id = $joined->valueof('//Header/ConversationID');
    die "JoinTrip's answer has no pc:ConversationID header\n" unless defined $hotel_id;
    expect(join('/', map { $joined->valueof("//JoinTripResponse/$_") } qw(conversationId tripId traveller)),
        "$hotel_id/$trip_id/$TRAVELLER", "JoinTrip's conversation, trip and traveller");
    die "wrong answer: JoinTrip's conversation has the flight conversation's ID $trip_id\n"
        if $hotel_id eq $trip_id;
    print "joined trip $trip_id through hotel: conversation $hotel_id\n";

    my %in = (flight => conversation_header(ConversationID => $trip_id),
              hotel  => conversation_header(ConversationID => $hotel_id));
    for my $step (@STEPS) {
        my ($name, $operation, $arguments, $want_count, $want_total) = @$step;
        my $s = $service{$name};
        my @pairs = @$arguments;
        my @children;
        push @children, $s->{element}->(splice @pairs, 0, 2) while @pairs;
        my $answer = succeeded($s->{soap}->call($operation => @children, $in{$name}), $operation);
        my $count = $answer->valueof($name eq 'flight' ? "//${operation}Response/flightCount"
            : "//${operation}Response/roomCount");
        my $total = $answer->valueof("//${operation}Response/total");
        my $text = step_text($operation, @$arguments);
        expect("$count/$total", "$want_count/$want_total", "$text: the count and total");
        printf "%s through %s: %d %s, trip total %s\n", $text, $name, $count,
            $name eq 'flight' ? 'flights' : 'rooms', money($total);
    }

    for my $name (qw(flight hotel)) {
        check_trip(succeeded($service{$name}{soap}->call('GetTrip' => $NO_PARAMETERS, $in{$name}),
            'GetTrip'), $name, $trip_id, 'false/false', 2);
    }

    my $confirmed = succeeded($flight->{soap}->call('ConfirmFlights' => $NO_PARAMETERS, $in{flight}),
        'ConfirmFlights');
    my @got = map { $confirmed->valueof("//ConfirmFlightsResponse/$_") } qw(flightCount flightTotal total);
    expect(join('/', @got), "2/$FLIGHT_TOTAL/$TOTAL", "ConfirmFlights' answer");
    printf "confirmed %d flights (%s) through flight; its conversation ended\n", $got[0], money($got[1]);
    check_trip(succeeded($hotel->{soap}->call('GetTrip' => $NO_PARAMETERS, $in{hotel}), 'GetTrip'),
        'hotel', $trip_id, 'true/false', 1);
    expect_ended($flight, 'flight', $in{flight}, 'ConfirmFlights');

    $confirmed = succeeded($hotel->{soap}->call('ConfirmRooms' => $NO_PARAMETERS, $in{hotel}),
        'ConfirmRooms');
    @got = map { $confirmed->valueof("//ConfirmRoomsResponse/$_") } qw(roomCount roomTotal total);
    expect(join('/', @got), "2/$ROOM_TOTAL/$TOTAL", "ConfirmRooms' answer");
    printf "confirmed %d rooms (%s) through hotel; trip %s ended\n", $got[0], money($got[1]), $trip_id;
    expect_ended($hotel, 'hotel', $in{hotel}, 'ConfirmRooms');
}

if (@ARGV != 2) {
    print STDERR "usage: trip_soaplite.pl FLIGHT-WSDL-URL HOTEL-WSDL-URL\n"
        . "  (e.g. http://127.0.0.1:8080/services/flight?wsdl http://127.0.0.1:8080/services/hotel?wsdl)\n";
    exit 2;
}
# Each line as it happens, so an error comes after what led to it.
$| = 1;
# SOAP::Lite dies on a transport error (no SOAP answer at all).
eval { converse(@ARGV); 1 } or do {
    print STDERR "trip_soaplite.pl: $@";
    exit 1;
};
exit 0;
