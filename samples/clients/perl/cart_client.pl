#!/usr/bin/perl
# cart_client.pl - a sample client of Parley's cart service, written with SOAP::Lite.
#
# It reads the WSDL the node serves, holds one whole conversation (StartCart,
# three AddItem, GetCart, Checkout) in SOAP 1.1, prints what it did and checks
# every answer; it exits 1 if the cart answered something it must not.
#
#     perl cart_client.pl http://127.0.0.1:8080/services/cart?wsdl
#
# Why not SOAP::Lite->service($wsdl_url): SOAP::Lite's WSDL stubs are made for
# rpc/encoded services. Against this document/literal one they send
# soap:encodingStyle, put the operation's children in no namespace with
# xsi:type (<item xsi:type="xs:string">; the schema wants them in the target
# namespace), send an operation without parameters as
# <tns:StartCart xsi:nil="true"/> (the schema does not let it be nil), and
# have no way to send a WSDL-declared header; the node refuses such messages.
# So, as SOAP::Lite users do for document/literal, this client reads only the
# endpoint, the target namespace and the soapActions from the WSDL and builds
# each message itself: the operation's element and its children as SOAP::Data
# elements in the target namespace, no type attributes, and the conversation
# ID as a SOAP::Header.
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

# What the conversation adds, and what the cart must answer to each AddItem.
my @ADDS = (['apple', 2, 2], ['pear', 1, 3], ['apple', 3, 6]);
my %EXPECTED_ITEMS = (apple => 5, pear => 1);
my $EXPECTED_COUNT = 6;

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
    $soap->ns($tns, 'cart');
    # WS-I Basic Profile: the soapAction from the WSDL, quoted.
    $soap->on_action(sub { '"' . $wsdl->{actions}{ $_[1] } . '"' });
    # Literal: no xsi:type on the elements, no SOAP encoding.
    $soap->autotype(0);
    $soap->serializer->encodingStyle('');

    # With ->uri alone SOAP::Lite invents a prefix per element and then drops
    # the declaration of the operation's prefix: name the prefix too.
    my $element = sub { SOAP::Data->name($_[0] => $_[1])->prefix('cart')->uri($tns) };
    # An operation element with no children: without a (raw, empty)
    # parameter SOAP::Lite would write it as xsi:nil="true".
    my $no_parameters = SOAP::Data->type(xml => '');

    printf "cart at %s, SOAP 1.1, SOAP::Lite %s\n", $wsdl->{endpoint}, $SOAP::Lite::VERSION;

    my $started = succeeded($soap->call('StartCart' => $no_parameters), 'StartCart');
    my $conversation_id = $started->valueof('//Header/ConversationID');
    die "StartCart's answer has no pc:ConversationID header\n" unless defined $conversation_id;
    expect($started->valueof('//StartCartResponse/conversationId'), $conversation_id,
        "StartCart's body and its pc:ConversationID header");
    print "started conversation $conversation_id\n";

    my $in_conversation = SOAP::Header->name(ConversationID => $conversation_id)
        ->uri(NS_CONVERSATION)->prefix('pc');

    for my $add (@ADDS) {
        my ($item, $qty, $want) = @$add;
        my $answer = succeeded($soap->call('AddItem' => $element->(item => $item),
                $element->(qty => $qty), $in_conversation), 'AddItem');
        my $count = $answer->valueof('//AddItemResponse/count');
        expect($count, $want, "count after adding $qty $item");
        print "added $qty $item: $count items in the cart\n";
    }

    my $cart = succeeded($soap->call('GetCart' => $no_parameters, $in_conversation), 'GetCart');
    my @items = $cart->valueof('//GetCartResponse/item');
    my %items = map { $_->{name} => $_->{qty} } @items;
    expect(join(', ', map {"$_=$items{$_}"} sort keys %items),
        join(', ', map {"$_=$EXPECTED_ITEMS{$_}"} sort keys %EXPECTED_ITEMS), "GetCart's items");
    my $count = $cart->valueof('//GetCartResponse/count');
    expect($count, $EXPECTED_COUNT, "GetCart's count");
    printf "cart holds %s: %d items\n", join(', ', map {"$_->{name} x$_->{qty}"} @items), $count;

    my $checkout = succeeded($soap->call('Checkout' => $no_parameters, $in_conversation), 'Checkout');
    $count = $checkout->valueof('//CheckoutResponse/count');
    expect($count, $EXPECTED_COUNT, "Checkout's count");
    print "checked out $count items; conversation $conversation_id ended\n";

    my $after = $soap->call('GetCart' => $no_parameters, $in_conversation);
    die "wrong answer: GetCart after Checkout answered; the conversation should be unknown\n"
        unless $after->fault;
    # SOAP::Lite gives the faultcode as written; the prefix is the server's
    # choice, so compare the local name.
    (my $code = $after->faultcode) =~ s/^.*://;
    die sprintf "wrong answer: GetCart after Checkout: fault %s (%s), want pc:UnknownConversation\n",
        $after->faultcode, $after->faultstring unless $code eq 'UnknownConversation';
    printf "GetCart after checkout: fault pc:UnknownConversation (%s)\n", $after->faultstring;
}

if (@ARGV != 1) {
    print STDERR "usage: cart_client.pl WSDL-URL (e.g. http://127.0.0.1:8080/services/cart?wsdl)\n";
    exit 2;
}
# Each line as it happens, so an error comes after what led to it.
$| = 1;
# SOAP::Lite dies on a transport error (no SOAP answer at all).
eval { converse($ARGV[0]); 1 } or do {
    print STDERR "cart_client.pl: $@";
    exit 1;
};
exit 0;
