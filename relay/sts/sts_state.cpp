// sts_state.cpp - names of the STS failures; see sts_state.hpp.
#include "relay/sts/sts_state.hpp"

namespace secmx::sts {

const char* to_string(StsFailure f) {
  switch (f) {
    case StsFailure::None: return "";
    case StsFailure::FetchError: return "sts-policy-fetch-error";
    case StsFailure::Invalid: return "sts-policy-invalid";
    case StsFailure::WebPki: return "sts-webpki-invalid";
  }
  return "?";
}

}  // namespace secmx::sts
