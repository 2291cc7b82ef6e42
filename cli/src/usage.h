// The --help texts. Kept in one place so README and help agree.
#ifndef PROV_CLI_USAGE_H
#define PROV_CLI_USAGE_H

namespace prov_cli {

extern const char *const kMainUsage;
extern const char *const kRegisterUsage;
extern const char *const kDeriveKeyUsage;
extern const char *const kVersionUsage;

}  // namespace prov_cli

#endif
