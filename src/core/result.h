// Result: the outcome of one registration as the service reported it.
#ifndef PROV_CORE_RESULT_H
#define PROV_CORE_RESULT_H

#include <cstdint>

#include <optional>
#include <string>
#include <vector>

#include "auth/secret.h"
#include "json/json.h"

namespace prov::core {

class Result {
 public:
  Result() = default;
  Result(json::ServiceAnswer answer, int32_t http_status)
      : answer_(std::move(answer)), http_status_(http_status) {}

  const json::ServiceAnswer &answer() const { return answer_; }
  int32_t http_status() const { return http_status_; }

  // Certificate issuance: what the service issued, decoded, and the private
  // key the client generated for the CSR (when it generated one).
  struct Issued {
    std::vector<std::vector<uint8_t>> chain_der;  // leaf first
    std::optional<std::string> chain_pem;         // the same as PEM blocks
    std::optional<auth::SecretString> generated_key_pem;
  };
  const Issued &issued() const { return issued_; }
  void set_issued(Issued issued) { issued_ = std::move(issued); }

 private:
  json::ServiceAnswer answer_;
  int32_t http_status_ = 0;
  Issued issued_;
};

}  // namespace prov::core

#endif  // PROV_CORE_RESULT_H
