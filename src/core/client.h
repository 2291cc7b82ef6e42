// Client: one device identity (registration id, id scope, credential) plus
// its options; runs blocking registrations on the caller's thread and
// asynchronous ones as fibers on the library's event loops (event_loop.h).
#ifndef PROV_CORE_CLIENT_H
#define PROV_CORE_CLIENT_H

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "auth/secret.h"
#include "auth/x509_identity.h"
#include "core/cancel.h"
#include "core/options.h"
#include "core/result.h"
#include "core/validate.h"

namespace prov::core {

struct SymmetricKeyIdentity {
  HostPort provisioning_host;
  std::string registration_id;
  std::string id_scope;
  auth::SecretString symmetric_key;  // Base64; empty for an X.509 client
  // The X.509 credential, checked when the client was created; null for a
  // symmetric-key client.
  std::shared_ptr<const auth::X509Identity> x509;
};

class Client {
 public:
  // Validates every argument (Error(PROV_E_INVALID_ARG) naming it).
  static std::unique_ptr<Client> create_symkey(const char *provisioning_host,
                                               const char *registration_id, const char *id_scope,
                                               const char *symmetric_key);
  // Derives the device key from the group key, then as create_symkey.
  static std::unique_ptr<Client> create_symkey_group(const char *provisioning_host,
                                                     const char *registration_id,
                                                     const char *id_scope, const char *group_key);
  // Loads and checks the credential (Error(PROV_E_CERTIFICATE) naming the problem).
  static std::unique_ptr<Client> create_x509(const char *provisioning_host,
                                             const char *registration_id, const char *id_scope,
                                             const char *cert, const char *key,
                                             const char *pass_phrase, bool from_files);

  void set_server_verification_cert(const char *pem);
  void set_gateway_hostname(const char *hostname);
  void set_cipher(const char *cipher_list);
  void set_keep_alive(int32_t seconds);
  void set_sastoken_ttl(int32_t seconds);
  void set_provisioning_payload(const char *json);
  void set_register_timeout(uint32_t milliseconds);
  void set_response_timeout(uint32_t milliseconds);
  void set_transport(int transport);
  void set_proxy(int proxy_type, const char *address, int32_t port, const char *username,
                 const char *password);
  void set_proxy_url(const char *url);
  void set_proxy_ca_cert(const char *pem);
  void set_csr_auto(int key_type);
  void set_csr_pem(const char *csr_pem);
  void set_csr_der(const uint8_t *der, size_t der_len);
  void set_csr_api(int csr_api);

  void set_retry_policy(uint32_t max_retries, uint32_t initial_backoff_ms, uint32_t max_backoff_ms);
  void set_progress_callback(prov_progress_callback callback, void *user_data);
  void set_log_callback(int min_level, prov_log_callback callback, void *user_data);

  // Cancels the registration in flight and waits for an asynchronous one's
  // fiber to end (yielding to the loop when called on another fiber),
  // unless called from that fiber's completion callback (then the fiber
  // lets go of the client once the callback returns).
  ~Client();

  // Blocking registration. Returns the assigned result or throws Error
  // (carrying the service's result when it answered). PROV_E_BUSY at once
  // when another registration on this client is in flight.
  std::shared_ptr<Result> register_device();

  // How an asynchronous registration ends: its status, the service's result
  // when it answered (else null) and the error message ("" on success).
  // Called once, on the registration's fiber (an event-loop thread), while
  // the client is busy.
  using Completion =
      std::function<void(int status, std::shared_ptr<Result> result, const std::string &message)>;
  // Starts a registration as a fiber on an event loop; PROV_E_BUSY when one
  // is in flight.
  void register_async(Completion completion);

  // Signals the registration in flight (if any) to stop; any thread.
  void cancel() noexcept;

  // Whether the caller (thread, or fiber) is inside a progress or log
  // callback of a registration on this client (where freeing the client is
  // refused).
  bool in_progress_or_log_callback() const;

 private:
  explicit Client(SymmetricKeyIdentity identity) : identity_(std::move(identity)) {}
  // Applies `change` to the options unless a registration is in flight.
  template <typename Change>
  void update_options(Change change);

  // Marks the client busy (Error(PROV_E_BUSY) if it already is) and makes
  // the cancel signal of the new registration.
  std::shared_ptr<CancelSignal> begin_registration();
  // The reverse, when the registration (and its completion callback) ended.
  void end_registration() noexcept;
  // One registration with the options it started with; reports the end to
  // the progress and log callbacks.
  std::shared_ptr<Result> run_registration(const CancelSignal &cancel);
  std::shared_ptr<Result> attempt_registration(Options &options, const CancelSignal &cancel);

  // What the fiber of an asynchronous registration shares with the client
  // (and keeps using after the client is gone).
  struct AsyncState {
    std::atomic<bool> in_completion{false};
    std::atomic<bool> freed_in_completion{false};
    std::atomic<const void *> runner{nullptr};  // Fiber::context_identity() of the fiber
    WakeSignal finished;  // raised once the fiber no longer touches the client
  };

  const SymmetricKeyIdentity identity_;
  std::mutex options_mutex_;
  Options options_;
  std::atomic<bool> busy_{false};

  mutable std::mutex run_mutex_;             // guards the members below
  std::shared_ptr<CancelSignal> cancel_;     // of the registration in flight
  std::shared_ptr<AsyncState> async_state_;  // of the last asynchronous registration
  // Fiber::context_identity() of whoever runs a registration now.
  std::atomic<const void *> running_context_{nullptr};
};

}  // namespace prov::core

#endif  // PROV_CORE_CLIENT_H
