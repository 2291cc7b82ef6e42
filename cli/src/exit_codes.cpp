#include "exit_codes.h"

#include <prov/prov.h>

namespace prov_cli {

int exit_code_for_status(int prov_status) {
  switch (prov_status) {
    case PROV_OK:
      return kExitAssigned;
    case PROV_E_INVALID_ARG:
      return kExitUsage;
    case PROV_E_CREDENTIAL:
    case PROV_E_CERTIFICATE:  // the local certificate or key cannot be used
      return kExitCredential;
    case PROV_E_CONNECTION_FAILED:
    case PROV_E_CONNECTION_DROPPED:
      return kExitConnection;
    case PROV_E_TIMEOUT:
      return kExitTimeout;
    case PROV_E_SERVICE:
      return kExitService;
    case PROV_E_PROTOCOL:
      return kExitProtocol;
    case PROV_E_CANCELLED:
      return kExitCancelled;
    default:  // NOMEM, BUSY, INTERNAL and codes this version does not know
      return kExitOther;
  }
}

}  // namespace prov_cli
