#include "core/observer.h"

#include <cctype>

namespace prov::core {

namespace {

constexpr const char *kRedacted = "<redacted>";

void replace_all(std::string &text, const std::string &needle) {
  if (needle.empty()) return;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + std::char_traits<char>::length(kRedacted))) {
    text.replace(at, needle.size(), kRedacted);
  }
}

bool ends_value(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0 || c == '&' || c == '"' || c == '\'' ||
         c == ',' || c == ')';
}

// Replaces what follows each `marker` up to the end of the value.
void redact_after(std::string &text, const std::string &marker, bool stop_at_ampersand) {
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
    const size_t start = at + marker.size();
    size_t end = start;
    while (end < text.size() && !(ends_value(text[end]) && (stop_at_ampersand || text[end] != '&')))
      ++end;
    if (end > start && text.compare(start, end - start, kRedacted) != 0) {
      text.replace(start, end - start, kRedacted);
    }
  }
}

void redact_private_key_blocks(std::string &text) {
  const std::string begin = "-----BEGIN";
  for (size_t at = text.find(begin); at != std::string::npos; at = text.find(begin, at + 1)) {
    const size_t header_end = text.find("-----", at + begin.size());
    if (header_end == std::string::npos) return;
    const std::string header = text.substr(at, header_end - at);
    if (header.find("PRIVATE KEY") == std::string::npos) continue;
    const size_t end_marker = text.find("-----END", header_end);
    size_t end = end_marker == std::string::npos ? text.size() : text.find("-----", end_marker + 8);
    end = end == std::string::npos ? text.size() : end + 5;
    text.replace(at, end - at, kRedacted);
  }
}

}  // namespace

std::string redact(std::string text, const std::vector<auth::SecretString> &secrets) {
  for (const auth::SecretString &secret : secrets) replace_all(text, secret.str());
  redact_after(text, "sig=", /*stop_at_ampersand=*/true);
  redact_after(text, "SharedAccessSignature ", /*stop_at_ampersand=*/false);
  redact_private_key_blocks(text);
  return text;
}

void Observer::log(int level, const std::string &message) const noexcept {
  if (!logs(level)) return;
  try {
    const std::string clean = redact(message, secrets_);
    log_(level, clean.c_str(), log_user_);
  } catch (...) {
    // Out of memory while formatting a log line: drop the line, not the registration.
  }
}

void Observer::progress(prov_progress_state state, const std::string &detail,
                        uint32_t retry_after_ms) const noexcept {
  if (progress_ == nullptr) return;
  try {
    const std::string clean = redact(detail, secrets_);
    progress_(static_cast<int>(state), clean.c_str(), retry_after_ms, progress_user_);
  } catch (...) {
    // As for log lines: a progress report is never worth failing for.
  }
}

}  // namespace prov::core
