#include "issued_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace prov_cli {
namespace {

// Writes `content` to `path` with `mode` (also applied to an existing file,
// so a key never stays world-readable). Returns "" or the problem.
std::string write_file(const std::string &path, const std::string &content, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return "cannot create '" + path + "': " + std::strerror(errno);
  std::string problem;
  if (fchmod(fd, mode) != 0)
    problem = "cannot set the mode of '" + path + "': " + std::strerror(errno);
  size_t written = 0;
  while (problem.empty() && written < content.size()) {
    ssize_t count = write(fd, content.data() + written, content.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      problem = "cannot write '" + path + "': " + std::strerror(errno);
      break;
    }
    written += static_cast<size_t>(count);
  }
  if (close(fd) != 0 && problem.empty()) {
    problem = "cannot write '" + path + "': " + std::strerror(errno);
  }
  return problem;
}

}  // namespace

void save_issued_files(Outcome &outcome, const IssuedFilePaths &paths) {
  if (!paths.certificate && !paths.private_key) return;
  IssuedFiles files;
  const ResultFields empty_fields;
  const ResultFields &fields = outcome.result ? *outcome.result : empty_fields;
  if (paths.certificate) {
    if (!fields.issued_certificate_chain) {
      files.error = "the service issued no certificate";
    } else {
      files.error = write_file(*paths.certificate, *fields.issued_certificate_chain, 0644);
      if (files.error.empty()) files.certificate = paths.certificate;
    }
  }
  if (paths.private_key && files.error.empty()) {
    if (fields.generated_private_key.empty()) {
      files.error = "libprov generated no private key";
    } else {
      files.error = write_file(*paths.private_key, fields.generated_private_key.str(), 0600);
      if (files.error.empty()) files.private_key = paths.private_key;
    }
  }
  outcome.issued_files = std::move(files);
}

}  // namespace prov_cli
