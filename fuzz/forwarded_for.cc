// X-Forwarded-For as the Router reads it from a trusted proxy
// (ForwardedClient). The first byte picks the peer (trusted or not, IPv4 or
// IPv6), the rest is the header. Properties: an untrusted peer is its own
// client whatever the header says; a client found is the peer or an address
// written in the header; with no header the client is the peer.
#include "api/router.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const IpSet* trusted =
      new IpSet(IpSet::Build({Cidr::Parse("198.51.100.0/24").value(),
                              Cidr::Parse("2001:db8:ffff::/48").value(),
                              Cidr::Parse("10.0.0.0/8").value()}));
  static const char* kPeers[] = {"198.51.100.7", "2001:db8:ffff::1",
                                 "192.0.2.10", "10.1.2.3"};
  fuzz::Bytes in(data, size);
  std::optional<IpAddress> peer = IpAddress::Parse(kPeers[in.Byte() % 4]);
  std::string xff(in.Rest());
  std::optional<IpAddress> client = api::ForwardedClient(*trusted, peer, &xff);
  FUZZ_CHECK(api::ForwardedClient(*trusted, peer, nullptr) == peer);
  if (!trusted->Contains(*peer)) {
    FUZZ_CHECK(client == peer);
    return 0;
  }
  if (!client || *client == *peer) return 0;
  // The client must be spelled out in the header.
  bool written = false;
  for (size_t start = 0; start <= xff.size();) {
    size_t comma = std::min(xff.find(',', start), xff.size());
    std::string_view hop = std::string_view(xff).substr(start, comma - start);
    while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) {
      hop.remove_prefix(1);
    }
    while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) {
      hop.remove_suffix(1);
    }
    written = written || IpAddress::Parse(hop) == client;
    start = comma + 1;
  }
  FUZZ_CHECK(written);
  return 0;
}
