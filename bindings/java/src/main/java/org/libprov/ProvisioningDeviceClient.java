package org.libprov;

import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.libprov.internal.ProvClient;
import org.libprov.internal.ProvCompletion;
import org.libprov.internal.ProvNative;
import org.libprov.internal.ProvResult;

/**
 * Registers one device identity with the Device Provisioning Service, like the Python SDK's
 * {@code ProvisioningDeviceClient}.
 *
 * <pre>{@code
 * try (ProvisioningDeviceClient client = ProvisioningDeviceClient.createFromSymmetricKey(
 *     "global.azure-devices-provisioning.net", "my-device", "0ne00000A0A", deviceKey)) {
 *   RegistrationResult result = client.register();
 *   System.out.println(result.getAssignedHub() + " " + result.getDeviceId());
 * } catch (CredentialException e) {
 *   System.err.println("rejected: " + e.getErrorCode() + ", tracking id " + e.getTrackingId());
 * }
 * }</pre>
 *
 * <p>Options are set before {@link #register()}; each setter checks its value at once and throws
 * {@link IllegalArgumentException} naming the problem. Registration failures are checked {@link
 * ProvisioningException}s. {@link #close()} frees the native client and wipes its key; a {@link
 * Cleaner} frees clients that become unreachable without close, as a safety net only.
 *
 * <p>Threads: a client may be shared; a second registration while one is in flight on the same
 * client fails at once ({@link IllegalStateException}). Closing while a registration is in flight
 * frees the client when that registration ends. {@link #cancel()}, or cancelling the future of
 * {@link #registerAsync()}, stops a registration in flight.
 */
public final class ProvisioningDeviceClient implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  private final ProvClient handle;
  private final Cleaner.Cleanable cleanable;
  private final Object lock = new Object();
  private int registrationsInFlight; // guarded by lock
  private boolean closeRequested; // guarded by lock
  private boolean closed; // guarded by lock
  private long registrationSequence; // guarded by lock; identifies the registration in flight

  /** Repeats cancels until the registration they target has returned (see {@link #cancel()}). */
  private static final ScheduledExecutorService CANCEL_REPEATER =
      Executors.newSingleThreadScheduledExecutor(
          task -> {
            Thread thread = new Thread(task, "libprov-cancel");
            thread.setDaemon(true);
            return thread;
          });

  private ProvisioningDeviceClient(ProvClient handle) {
    this.handle = handle;
    // The action refers to the SWIG proxy only, never to this object.
    this.cleanable = CLEANER.register(this, handle::delete);
  }

  /**
   * Creates a client that registers registrationId in the DPS instance idScope with a symmetric
   * key (an individual enrollment's key, or {@link Provisioning#deriveDeviceKey} for a group).
   * Nothing is sent until {@link #register()}.
   *
   * @param provisioningHost DPS host name, optionally with a port ("localhost:8883")
   * @throws IllegalArgumentException when an argument is invalid (the message names it)
   */
  public static ProvisioningDeviceClient createFromSymmetricKey(
      String provisioningHost, String registrationId, String idScope, String symmetricKey) {
    ProvClient handle = new ProvClient(provisioningHost, registrationId, idScope, symmetricKey);
    NativeError.throwIfPendingUnchecked("create client");
    return new ProvisioningDeviceClient(handle);
  }

  /**
   * Creates a client for a device of a symmetric-key group enrollment: the device key is derived
   * from groupKey and registrationId (as {@link Provisioning#deriveDeviceKey}); the group key is
   * not kept.
   *
   * @throws IllegalArgumentException when an argument is invalid (the message names it)
   */
  public static ProvisioningDeviceClient createFromSymmetricKeyGroup(
      String provisioningHost, String registrationId, String idScope, String groupKey) {
    ProvClient handle =
        ProvNative.create_symkey_group_client(provisioningHost, registrationId, idScope, groupKey);
    NativeError.throwIfPendingUnchecked("create client");
    return new ProvisioningDeviceClient(handle);
  }

  /**
   * Creates a client that registers with an X.509 certificate (TLS client authentication), as the
   * Python SDK's create_from_x509_certificate with X509(cert_file, key_file, pass_phrase).
   *
   * @param certFile PEM file: the device certificate, optionally followed by its intermediates
   * @param keyFile PEM private key (RSA or ECDSA, optionally encrypted)
   * @param passPhrase the key's pass phrase, or null
   * @throws InvalidCertificateException a file cannot be read or parsed, wrong pass phrase, key
   *     and certificate do not match, chain order, validity, or CN is not the registration id
   *     (declared as its base class, ProvisioningException)
   * @throws IllegalArgumentException when an argument is invalid (the message names it)
   */
  public static ProvisioningDeviceClient createFromX509Certificate(
      String provisioningHost, String registrationId, String idScope, String certFile,
      String keyFile, String passPhrase) throws ProvisioningException {
    ProvClient handle =
        ProvNative.create_x509_client(
            provisioningHost, registrationId, idScope, certFile, keyFile, passPhrase);
    NativeError.throwIfPending("create client");
    return new ProvisioningDeviceClient(handle);
  }

  /** {@link #createFromX509Certificate} with the chain and the key as PEM text in memory. */
  public static ProvisioningDeviceClient createFromX509Pem(
      String provisioningHost, String registrationId, String idScope, String certPem,
      String keyPem, String passPhrase) throws ProvisioningException {
    ProvClient handle =
        ProvNative.create_x509_pem_client(
            provisioningHost, registrationId, idScope, certPem, keyPem, passPhrase);
    NativeError.throwIfPending("create client");
    return new ProvisioningDeviceClient(handle);
  }

  /** Runs one option setter on the open client and throws what it reported. */
  private ProvisioningDeviceClient configure(String operation, Runnable setter) {
    synchronized (lock) {
      requireOpen(operation);
      if (registrationsInFlight > 0) {
        throw new IllegalStateException(operation + ": a registration is in flight");
      }
      setter.run();
      NativeError.throwIfPendingUnchecked(operation);
    }
    return this;
  }

  private void requireOpen(String operation) {
    if (closed || closeRequested) {
      throw new IllegalStateException(operation + ": client is closed");
    }
  }

  private static int seconds(String name, Duration duration) {
    if (duration.getNano() != 0) {
      throw new IllegalArgumentException(name + " must be whole seconds, got " + duration);
    }
    long seconds = duration.getSeconds();
    return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, seconds));
  }

  private static long milliseconds(Duration duration) {
    if (duration.isNegative() || duration.isZero()) {
      return 0; // rejected by libprov with a message naming the range
    }
    long ms;
    try {
      ms = duration.plusNanos(999_999).toMillis(); // round up: 1 ns must not become 0
    } catch (ArithmeticException tooLong) {
      ms = Long.MAX_VALUE;
    }
    return Math.min(ms, 0xFFFF_FFFFL);
  }

  /** Trusted root certificate(s) for the server as PEM text (not a path); null = system store. */
  public ProvisioningDeviceClient setServerVerificationCert(String pem) {
    return configure("set server verification cert", () -> handle.set_server_verification_cert(pem));
  }

  /** Connects to this host (optionally host:port) instead of the provisioning host; null clears. */
  public ProvisioningDeviceClient setGatewayHostname(String hostname) {
    return configure("set gateway hostname", () -> handle.set_gateway_hostname(hostname));
  }

  /** OpenSSL cipher list for TLS 1.2; null or "" = defaults. */
  public ProvisioningDeviceClient setCipher(String cipherList) {
    return configure("set cipher", () -> handle.set_cipher(cipherList));
  }

  /** MQTT keep-alive, whole seconds, 1 s..1740 s (default 60 s). */
  public ProvisioningDeviceClient setKeepAlive(Duration keepAlive) {
    int value = seconds("keep-alive", keepAlive);
    return configure("set keep-alive", () -> handle.set_keep_alive(value));
  }

  /** Lifetime of the SAS tokens the client creates, whole seconds, 60 s..365 days. */
  public ProvisioningDeviceClient setSasTokenTtl(Duration ttl) {
    int value = seconds("SAS token TTL", ttl);
    return configure("set SAS token TTL", () -> handle.set_sastoken_ttl(value));
  }

  /** JSON text sent with the registration request; checked as JSON now. Null clears it. */
  public ProvisioningDeviceClient setProvisioningPayload(String json) {
    return configure("set provisioning payload", () -> handle.set_provisioning_payload(json));
  }

  /** Overall deadline of one registration (default 90 s). */
  public ProvisioningDeviceClient setRegisterTimeout(Duration timeout) {
    long value = milliseconds(timeout);
    return configure("set register timeout", () -> handle.set_register_timeout(value));
  }

  /** Deadline of each single network step (default 30 s). */
  public ProvisioningDeviceClient setResponseTimeout(Duration timeout) {
    long value = milliseconds(timeout);
    return configure("set response timeout", () -> handle.set_response_timeout(value));
  }

  /** How to talk to the service (default {@link Transport#MQTT}). */
  public ProvisioningDeviceClient setTransport(Transport transport) {
    return configure("set transport", () -> handle.set_transport(transport.nativeValue));
  }

  /**
   * Sends every connection through a proxy, as the Python SDK's ProxyOptions; username and
   * password may be null.
   */
  public ProvisioningDeviceClient setProxy(
      ProxyType type, String address, int port, String username, String password) {
    return configure(
        "set proxy", () -> handle.set_proxy(type.nativeValue, address, port, username, password));
  }

  /** The proxy as "scheme://[user[:password]@]host[:port]"; null or "" removes it. */
  public ProvisioningDeviceClient setProxyUrl(String url) {
    return configure("set proxy URL", () -> handle.set_proxy_url(url));
  }

  /** Trusted roots (PEM text) for an HTTPS proxy's own certificate; null = system store. */
  public ProvisioningDeviceClient setProxyCaCert(String pem) {
    return configure("set proxy CA cert", () -> handle.set_proxy_ca_cert(pem));
  }

  /**
   * Asks the service to issue a certificate: each registration sends a CSR for a fresh key pair of
   * this type; the result carries the issued chain and the generated key. NONE clears.
   */
  public ProvisioningDeviceClient setCsrAuto(KeyType keyType) {
    return configure("set CSR", () -> handle.set_csr_auto(keyType.nativeValue));
  }

  /** A CSR the caller made (PEM); its subject CN must be the registration id. Null clears. */
  public ProvisioningDeviceClient setCsrPem(String csrPem) {
    return configure("set CSR PEM", () -> handle.set_csr_pem(csrPem));
  }

  private volatile RegistrationLogListener logListener;

  /**
   * Receives libprov's log lines of level minLevel and above for the registrations started with
   * {@link #registerAsync()} (see {@link RegistrationLogListener} for its thread); null stops them.
   */
  public ProvisioningDeviceClient setLogListener(
      RegistrationLogListener.Level minLevel, RegistrationLogListener listener) {
    int level = listener == null ? -1 : minLevel.nativeValue;
    configure("set log listener", () -> handle.set_async_log_level(level));
    logListener = listener;
    return this;
  }

  /** A CSR the caller made, as DER bytes; its subject CN must be the registration id. Null clears. */
  public ProvisioningDeviceClient setCsrDer(byte[] csrDer) {
    byte[] copy = csrDer == null ? null : csrDer.clone();
    return configure("set CSR DER", () -> handle.set_csr_der(copy));
  }

  /** The issuance request shape (default {@link CsrApi#V2025_07_01_PREVIEW}). */
  public ProvisioningDeviceClient setCsrApi(CsrApi api) {
    return configure("set CSR API", () -> handle.set_csr_api(api.nativeValue));
  }

  /**
   * Registers the device: connects, sends the request, polls until the service reaches a terminal
   * status, and returns the assignment. Blocks the calling thread until then or the register
   * timeout.
   *
   * @throws CredentialException the service rejected the key (see {@link
   *     ProvisioningException#getErrorCode()})
   * @throws ConnectionFailedException DNS, TCP, proxy or TLS failed
   * @throws OperationTimeoutException the register or a response timeout expired
   * @throws ServiceException the service answered with another error
   * @throws ProvisioningException any other failure (protocol, internal)
   * @throws IllegalStateException the client is closed or already registering
   */
  public RegistrationResult register() throws ProvisioningException {
    return register(() -> false);
  }

  /**
   * Registers unless {@code cancelled} says so once this registration counts as in flight: a
   * cancel that comes after that check finds the registration in flight and stops it.
   */
  private RegistrationResult register(BooleanSupplier cancelled) throws ProvisioningException {
    synchronized (lock) {
      requireOpen("register");
      if (registrationsInFlight > 0) {
        throw new IllegalStateException("register: another registration on this client is in flight");
      }
      registrationsInFlight++;
      registrationSequence++;
      if (cancelled.getAsBoolean()) {
        registrationsInFlight--; // never started: the caller's future is already cancelled
        return null;
      }
    }
    try {
      ProvResult raw = handle.register();
      NativeError.throwIfPending("register");
      try {
        return new RegistrationResult(raw);
      } finally {
        raw.delete();
      }
    } finally {
      synchronized (lock) {
        registrationsInFlight--;
        if (closeRequested && registrationsInFlight == 0) {
          freeNow();
        }
      }
    }
  }

  /**
   * How transient failures (429, 5xx, dropped or refused connections, missing responses) are
   * retried: up to maxRetries consecutive retries, waiting the service's retry-after or an
   * exponential backoff with full jitter from initialBackoff up to maxBackoff (defaults: 10, 1 s,
   * 30 s). Every retry stays inside the register timeout.
   */
  public ProvisioningDeviceClient setRetryPolicy(
      int maxRetries, Duration initialBackoff, Duration maxBackoff) {
    if (maxRetries < 0) {
      throw new IllegalArgumentException("max retries must not be negative, got " + maxRetries);
    }
    long initial = milliseconds(initialBackoff);
    long maximum = milliseconds(maxBackoff);
    return configure(
        "set retry policy", () -> handle.set_retry_policy(maxRetries, initial, maximum));
  }

  /**
   * Stops the registration in flight on this client, from any thread: it then throws (or its
   * future completes with) {@link OperationCancelledException} within about 100 ms. Does nothing
   * without a registration in flight, or once the client is closed.
   */
  public void cancel() {
    long target;
    synchronized (lock) {
      if (closed || registrationsInFlight == 0) {
        return;
      }
      target = registrationSequence;
      handle.cancel();
      NativeError.throwIfPendingUnchecked("cancel");
    }
    // libprov does not remember a cancel that comes before the registration is under way (it
    // counts as in flight here a moment earlier): repeat it until that registration has returned.
    ScheduledFuture<?>[] repeat = new ScheduledFuture<?>[1];
    synchronized (repeat) {
      repeat[0] =
          CANCEL_REPEATER.scheduleWithFixedDelay(
              () -> {
                synchronized (repeat) {
                  if (!cancelAgain(target)) {
                    repeat[0].cancel(false);
                  }
                }
              },
              50,
              50,
              TimeUnit.MILLISECONDS);
    }
  }

  /** Cancels again while registration {@code target} is in flight; false once it has returned. */
  private boolean cancelAgain(long target) {
    synchronized (lock) {
      if (closed || registrationsInFlight == 0 || registrationSequence != target) {
        return false;
      }
      handle.cancel();
      return true;
    }
  }

  /** A registration's future: cancelling it cancels the registration. */
  private static final class RegistrationFuture extends CompletableFuture<RegistrationResult> {
    private final ProvisioningDeviceClient client;

    RegistrationFuture(ProvisioningDeviceClient client) {
      this.client = client;
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      if (cancelled) {
        client.cancel();
      }
      return cancelled;
    }
  }

  /**
   * Registers on libprov's own thread (prov_client_register_async): no Java thread waits for the
   * registration. The future completes on {@link ForkJoinPool#commonPool()}, so that its
   * dependent stages never run on libprov's thread.
   */
  public CompletableFuture<RegistrationResult> registerAsync() {
    return registerAsync(null, ForkJoinPool.commonPool());
  }

  /** {@link #registerAsync()} whose future completes on the given executor. */
  public CompletableFuture<RegistrationResult> registerAsync(Executor executor) {
    return registerAsync(null, executor);
  }

  /**
   * Starts the registration on libprov's thread and returns at once. listener (may be null)
   * receives each step, in order, on libprov's thread (e.g. {@code
   * client.registerAsync(progress -> log.info(progress.toString()), ForkJoinPool.commonPool())}). The future completes, on executor, with
   * the result or exceptionally with the {@link ProvisioningException} (or unchecked exception)
   * {@link #register()} would have thrown. Cancelling this future (not a stage derived from it)
   * cancels the registration.
   */
  public CompletableFuture<RegistrationResult> registerAsync(
      RegistrationProgressListener listener, Executor executor) {
    if (executor == null) {
      throw new NullPointerException("executor");
    }
    RegistrationFuture future = new RegistrationFuture(this);
    AsyncBridge.Registration registration =
        new AsyncBridge.Registration() {
          @Override
          public void progress(RegistrationProgress progress) {
            if (listener == null) {
              return;
            }
            try {
              listener.onProgress(progress);
            } catch (RuntimeException | Error failure) {
              System.err.println("libprov: the progress listener threw " + failure);
            }
          }

          @Override
          public void log(RegistrationLogListener.Level level, String message) {
            RegistrationLogListener listener = logListener;
            if (listener == null) {
              return;
            }
            try {
              listener.onLog(level, message);
            } catch (RuntimeException | Error failure) {
              System.err.println("libprov: the log listener threw " + failure);
            }
          }

          @Override
          public void complete(ProvCompletion completion) {
            RegistrationResult result = null;
            Throwable failure = null;
            try {
              ProvResult raw = completion.take_result();
              NativeError error = NativeError.pending("register");
              if (error != null) {
                RuntimeException unchecked = error.uncheckedOrNull();
                failure = unchecked != null ? unchecked : error.checked();
              } else {
                try {
                  result = new RegistrationResult(raw);
                } finally {
                  raw.delete();
                }
              }
            } catch (RuntimeException unexpected) {
              failure = unexpected;
            } finally {
              completion.delete();
            }
            registrationEnded();
            RegistrationResult outcome = result;
            Throwable problem = failure;
            Runnable settle =
                () -> {
                  if (problem != null) {
                    future.completeExceptionally(problem);
                  } else {
                    future.complete(outcome);
                  }
                };
            try {
              executor.execute(settle);
            } catch (RuntimeException rejected) {
              settle.run(); // an executor that refuses must not leave the future pending
            }
          }
        };
    synchronized (lock) {
      if (closed || closeRequested) {
        future.completeExceptionally(new IllegalStateException("register: client is closed"));
        return future;
      }
      if (registrationsInFlight > 0) {
        future.completeExceptionally(
            new IllegalStateException("register: another registration on this client is in flight"));
        return future;
      }
      registrationsInFlight++;
      registrationSequence++;
      long key = AsyncBridge.register(registration);
      handle.register_async(key);
      NativeError error = NativeError.pending("register");
      if (error != null) {
        AsyncBridge.forget(key);
        registrationsInFlight--;
        RuntimeException unchecked = error.uncheckedOrNull();
        future.completeExceptionally(unchecked != null ? unchecked : error.checked());
      }
    }
    return future;
  }

  /** The asynchronous registration in flight has ended (on libprov's thread). */
  private void registrationEnded() {
    synchronized (lock) {
      registrationsInFlight--;
      if (closeRequested && registrationsInFlight == 0) {
        freeNow(); // prov_client_free from the completion callback is allowed
      }
    }
  }

  /** Whether {@link #close()} has been called. */
  public boolean isClosed() {
    synchronized (lock) {
      return closed || closeRequested;
    }
  }

  /**
   * Frees the native client and wipes its key; when a registration is in flight, as soon as it
   * ends. Idempotent.
   */
  @Override
  public void close() {
    synchronized (lock) {
      closeRequested = true;
      if (registrationsInFlight == 0) {
        freeNow();
      }
    }
  }

  private void freeNow() {
    if (!closed) {
      closed = true;
      cleanable.clean(); // runs handle.delete() once, and unregisters the safety net
    }
  }
}
