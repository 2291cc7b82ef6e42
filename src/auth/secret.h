// Wiping secrets: keys and tokens are overwritten before their memory is
// released, so they do not linger in freed heap blocks or core dumps.
#ifndef PROV_AUTH_SECRET_H
#define PROV_AUTH_SECRET_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace prov::auth {

// Overwrites len bytes in a way the compiler may not optimise away.
void secure_wipe(void *data, size_t len) noexcept;

// A std::string that wipes its buffer when destroyed or reassigned.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  SecretString(const SecretString &other) : value_(other.value_) {}
  SecretString &operator=(const SecretString &other) {
    if (this != &other) {
      wipe();
      value_ = other.value_;
    }
    return *this;
  }
  ~SecretString() { wipe(); }

  const std::string &str() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  void wipe() noexcept {
    // Wipe the whole capacity: an earlier longer value may have left bytes there.
    secure_wipe(value_.data(), value_.capacity());
    value_.clear();
  }
  std::string value_;
};

// A byte buffer that wipes itself when destroyed.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  SecretBytes(const SecretBytes &) = delete;
  SecretBytes &operator=(const SecretBytes &) = delete;
  ~SecretBytes() { secure_wipe(bytes_.data(), bytes_.capacity()); }

  const uint8_t *data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace prov::auth

#endif  // PROV_AUTH_SECRET_H
