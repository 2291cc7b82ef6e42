// The loopback-only admin endpoint (plain HTTP): PUT/DELETE/GET /faults, GET /registrations,
// GET /stats.
#pragma once

#include "net.h"
#include "registration_service.h"

namespace dpsemu {

void start_admin_connection(tcp::socket socket, RegistrationService &service);

}  // namespace dpsemu
