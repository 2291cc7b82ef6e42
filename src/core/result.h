// Result: the outcome of one registration as the service reported it.
#ifndef PROV_CORE_RESULT_H
#define PROV_CORE_RESULT_H

#include <cstdint>

#include "json/json.h"

namespace prov::core {

class Result {
 public:
  Result() = default;
  Result(json::ServiceAnswer answer, int32_t http_status)
      : answer_(std::move(answer)), http_status_(http_status) {}

  const json::ServiceAnswer &answer() const { return answer_; }
  int32_t http_status() const { return http_status_; }

 private:
  json::ServiceAnswer answer_;
  int32_t http_status_ = 0;
};

}  // namespace prov::core

#endif  // PROV_CORE_RESULT_H
