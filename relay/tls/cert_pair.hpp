// cert_pair.hpp - is this certificate file and key file a usable ECDSA pair? For the
// config's --check, which must name the line of a pair that the start would refuse.
//
// Reads both PEM files (the leaf, i.e. the first certificate of a chain) and answers in
// words; nothing is kept. Thread-agnostic; leaves the thread's OpenSSL error queue empty.
#pragma once

#include <optional>
#include <string>

namespace secmx::tls {

enum class PairProblem { Certificate, Key };  // which file the problem is about

struct PairError {
  PairProblem about;
  std::string message;
};

// nullopt: the certificate's key is an EC key and `key_file` is its private key.
std::optional<PairError> check_ecdsa_pair(const std::string& cert_file,
                                          const std::string& key_file);

}  // namespace secmx::tls
