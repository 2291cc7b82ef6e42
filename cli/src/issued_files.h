// Saving what certificate issuance returned: the issued chain (PEM) and the
// private key libprov generated for the CSR (PEM, created with mode 0600).
#ifndef PROV_CLI_ISSUED_FILES_H
#define PROV_CLI_ISSUED_FILES_H

#include <optional>
#include <string>

#include "registration.h"

namespace prov_cli {

struct IssuedFilePaths {
  std::optional<std::string> certificate;  // where the issued chain goes
  std::optional<std::string> private_key;  // where the generated key goes
};

// Writes the files named in `paths` from `outcome.result` and records the
// paths written (or the problem) in `outcome.issued_files`. A requested file
// whose content the service did not send is a problem too.
void save_issued_files(Outcome &outcome, const IssuedFilePaths &paths);

}  // namespace prov_cli

#endif
