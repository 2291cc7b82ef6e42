using System;
using System.Threading;
using System.Threading.Tasks;
using Libprov.Internal;

namespace Libprov
{
    /// <summary>How the client talks to the service (prov_transport in prov.h).</summary>
    public enum Transport
    {
        /// <summary>MQTT 3.1.1 over TLS, default port 8883 (the default).</summary>
        Mqtt = 0,
        /// <summary>MQTT over WebSockets over TLS, default port 443 (the Python SDK's websockets=True).</summary>
        MqttWebSockets = 1,
        /// <summary>The DPS HTTPS REST API, default port 443.</summary>
        Https = 2,
    }

    /// <summary>Kinds of proxy (prov_proxy_type in prov.h).</summary>
    public enum ProxyType
    {
        None = 0,
        Http = 1,
        Https = 2,
        Socks4 = 3,
        Socks4a = 4,
        Socks5 = 5,
        /// <summary>SOCKS5 with the destination resolved by the proxy.</summary>
        Socks5h = 6,
    }

    /// <summary>A proxy for every connection, as the Python SDK's ProxyOptions.</summary>
    public sealed class ProxyOptions
    {
        public ProxyType ProxyType { get; set; }
        /// <summary>Host name or IP address, without a port.</summary>
        public string Address { get; set; }
        public int Port { get; set; }
        /// <summary>Null for no proxy authentication.</summary>
        public string Username { get; set; }
        public string Password { get; set; }
    }

    /// <summary>
    /// Up to MaxRetries consecutive retries, waiting the service's retry-after or an exponential
    /// backoff with full jitter from InitialBackoff up to MaxBackoff (defaults: 10, 1 s, 30 s).
    /// </summary>
    public sealed class RetryPolicy
    {
        public int MaxRetries { get; set; }
        public TimeSpan InitialBackoff { get; set; }
        public TimeSpan MaxBackoff { get; set; }
    }

    /// <summary>The key pair generated for a certificate signing request (PROV_KEY_*).</summary>
    public enum KeyType
    {
        None = 0,
        EcP256 = 1,
        Rsa2048 = 2,
    }

    /// <summary>The shape of the certificate issuance request (PROV_CSR_API_*).</summary>
    public enum CsrApi
    {
        /// <summary>"csr" to "issuedCertificateChain" (the default).</summary>
        V2025_07_01_Preview = 1,
        /// <summary>"clientCertificateCsr" to "issuedClientCertificate" and "trustBundle".</summary>
        V2021_11_01_Preview = 2,
    }

    /// <summary>
    /// Options of a <see cref="ProvisioningDeviceClient"/>; null leaves prov.h's default. Each is
    /// checked when the client is created, and a bad value throws ArgumentException naming it.
    /// </summary>
    public sealed class ProvisioningClientOptions
    {
        /// <summary>Trusted root certificate(s) for the server as PEM text (not a path).</summary>
        public string ServerVerificationCert { get; set; }
        /// <summary>Connect to this host (optionally host:port) instead of the provisioning host.</summary>
        public string GatewayHostname { get; set; }
        /// <summary>OpenSSL cipher list for TLS 1.2.</summary>
        public string Cipher { get; set; }
        /// <summary>MQTT keep-alive, whole seconds, 1 s..1740 s (default 60 s).</summary>
        public TimeSpan? KeepAlive { get; set; }
        /// <summary>Lifetime of the SAS tokens the client creates, whole seconds, 60 s..365 days.</summary>
        public TimeSpan? SasTokenTtl { get; set; }
        /// <summary>JSON text sent with the registration request.</summary>
        public string ProvisioningPayload { get; set; }
        /// <summary>Overall deadline of one registration (default 90 s).</summary>
        public TimeSpan? RegisterTimeout { get; set; }
        /// <summary>Deadline of each single network step (default 30 s).</summary>
        public TimeSpan? ResponseTimeout { get; set; }
        /// <summary>
        /// How transient failures (429, 5xx, dropped or refused connections, missing responses) are
        /// retried; every retry stays inside the register timeout.
        /// </summary>
        public RetryPolicy RetryPolicy { get; set; }
        /// <summary>How to talk to the service (default MQTT).</summary>
        public Transport? Transport { get; set; }
        /// <summary>A proxy for every connection.</summary>
        public ProxyOptions Proxy { get; set; }
        /// <summary>The proxy as "scheme://[user[:password]@]host[:port]" (instead of Proxy).</summary>
        public string ProxyUrl { get; set; }
        /// <summary>Trusted roots (PEM text) for an HTTPS proxy's own certificate.</summary>
        public string ProxyCaCert { get; set; }
        /// <summary>Ask for an issued certificate: each registration sends a CSR for a fresh key
        /// pair of this type; the result carries the chain and the generated key.</summary>
        public KeyType? CsrKeyType { get; set; }
        /// <summary>A CSR the caller made (PEM); its subject CN must be the registration id.</summary>
        public string CsrPem { get; set; }
        /// <summary>A CSR the caller made, as DER bytes; its subject CN must be the registration id.</summary>
        public byte[] CsrDer { get; set; }
        /// <summary>
        /// Receives libprov's log lines (secrets redacted) of level <see cref="MinLogLevel"/> and
        /// above for <see cref="ProvisioningDeviceClient.RegisterAsync(CancellationToken)"/>
        /// registrations, in order, on the binding's dispatcher thread: it must return promptly.
        /// </summary>
        public Action<ProvisioningLogLevel, string> LogHandler { get; set; }
        /// <summary>The lowest level LogHandler receives (default Info).</summary>
        public ProvisioningLogLevel MinLogLevel { get; set; } = ProvisioningLogLevel.Info;
        /// <summary>The issuance request shape.</summary>
        public CsrApi? CsrApi { get; set; }
    }

    /// <summary>
    /// Registers one device identity with the Device Provisioning Service, like the Python SDK's
    /// ProvisioningDeviceClient.
    /// <code>
    /// using (var client = ProvisioningDeviceClient.CreateFromSymmetricKey(host, "my-device", "0ne00000A0A", key))
    /// {
    ///     RegistrationResult result = await client.RegisterAsync();
    /// }
    /// </code>
    /// Registration failures are <see cref="ProvisioningException"/>s; bad arguments
    /// ArgumentException; use after Dispose ObjectDisposedException. Dispose frees the native
    /// client and wipes its key (when a registration is in flight, as soon as it ends); a finalizer
    /// is the safety net. A second registration while one is in flight on the same client throws
    /// InvalidOperationException. <see cref="Cancel"/>, or the CancellationToken of
    /// <see cref="RegisterAsync(CancellationToken)"/>, stops a registration in flight.
    /// </summary>
    public sealed class ProvisioningDeviceClient : IDisposable
    {
        private readonly ProvClient handle;
        private Action<ProvisioningLogLevel, string> logHandler; // set once, by the options
        private readonly object gate = new object();
        private int registrationsInFlight; // guarded by gate
        private bool disposeRequested; // guarded by gate
        private bool disposed; // guarded by gate
        private long registrationSequence; // guarded by gate; identifies the registration in flight

        private ProvisioningDeviceClient(ProvClient handle)
        {
            this.handle = handle;
        }

        /// <summary>
        /// Creates a client that registers registrationId in the DPS instance idScope with a
        /// symmetric key (an individual enrollment's key, or <see cref="Provisioning.DeriveDeviceKey"/>
        /// for a group). provisioningHost may carry a port ("localhost:8883"). Nothing is sent until
        /// Register.
        /// </summary>
        /// <exception cref="ArgumentException">an argument or option is invalid (the message names it)</exception>
        public static ProvisioningDeviceClient CreateFromSymmetricKey(string provisioningHost, string registrationId,
            string idScope, string symmetricKey, ProvisioningClientOptions options = null)
        {
            return Created(new ProvClient(provisioningHost, registrationId, idScope, symmetricKey), options);
        }

        /// <summary>
        /// Creates a client for a device of a symmetric-key group enrollment: the device key is
        /// derived from groupKey and registrationId; the group key is not kept.
        /// </summary>
        /// <exception cref="ArgumentException">an argument or option is invalid (the message names it)</exception>
        public static ProvisioningDeviceClient CreateFromSymmetricKeyGroup(string provisioningHost, string registrationId,
            string idScope, string groupKey, ProvisioningClientOptions options = null)
        {
            return Created(ProvNative.create_symkey_group_client(provisioningHost, registrationId, idScope, groupKey), options);
        }

        /// <summary>
        /// Creates a client that registers with an X.509 certificate (TLS client authentication),
        /// as the Python SDK's create_from_x509_certificate with X509(cert_file, key_file,
        /// pass_phrase): certFile holds the device certificate, optionally followed by its
        /// intermediates; passPhrase is null for a key that is not encrypted.
        /// </summary>
        /// <exception cref="InvalidCertificateException">a file cannot be read or parsed, wrong pass
        /// phrase, key and certificate do not match, chain order, validity, CN</exception>
        public static ProvisioningDeviceClient CreateFromX509Certificate(string provisioningHost, string registrationId,
            string idScope, string certFile, string keyFile, string passPhrase = null, ProvisioningClientOptions options = null)
        {
            return Created(ProvNative.create_x509_client(provisioningHost, registrationId, idScope, certFile, keyFile, passPhrase), options);
        }

        /// <summary><see cref="CreateFromX509Certificate"/> with the chain and the key as PEM text.</summary>
        public static ProvisioningDeviceClient CreateFromX509Pem(string provisioningHost, string registrationId,
            string idScope, string certPem, string keyPem, string passPhrase = null, ProvisioningClientOptions options = null)
        {
            return Created(ProvNative.create_x509_pem_client(provisioningHost, registrationId, idScope, certPem, keyPem, passPhrase), options);
        }

        /// <summary>Checks a native constructor's outcome, then applies the options.</summary>
        private static ProvisioningDeviceClient Created(ProvClient handle, ProvisioningClientOptions options)
        {
            NativeError.ThrowIfPending("create client");
            var client = new ProvisioningDeviceClient(handle);
            try
            {
                if (options != null) client.Apply(options);
            }
            catch
            {
                client.Dispose();
                throw;
            }
            return client;
        }

        private void Apply(ProvisioningClientOptions options)
        {
            if (options.ServerVerificationCert != null)
                Configure("set server verification cert", () => handle.set_server_verification_cert(options.ServerVerificationCert));
            if (options.GatewayHostname != null)
                Configure("set gateway hostname", () => handle.set_gateway_hostname(options.GatewayHostname));
            if (options.Cipher != null)
                Configure("set cipher", () => handle.set_cipher(options.Cipher));
            if (options.KeepAlive.HasValue)
            {
                int seconds = WholeSeconds("KeepAlive", options.KeepAlive.Value);
                Configure("set keep-alive", () => handle.set_keep_alive(seconds));
            }
            if (options.SasTokenTtl.HasValue)
            {
                int seconds = WholeSeconds("SasTokenTtl", options.SasTokenTtl.Value);
                Configure("set SAS token TTL", () => handle.set_sastoken_ttl(seconds));
            }
            if (options.ProvisioningPayload != null)
                ProvisioningPayload = options.ProvisioningPayload;
            if (options.RegisterTimeout.HasValue)
            {
                uint ms = Milliseconds(options.RegisterTimeout.Value);
                Configure("set register timeout", () => handle.set_register_timeout(ms));
            }
            if (options.ResponseTimeout.HasValue)
            {
                uint ms = Milliseconds(options.ResponseTimeout.Value);
                Configure("set response timeout", () => handle.set_response_timeout(ms));
            }
            if (options.RetryPolicy != null)
            {
                RetryPolicy policy = options.RetryPolicy;
                if (policy.MaxRetries < 0)
                    throw new ArgumentException("MaxRetries must not be negative, got " + policy.MaxRetries, "options");
                uint initial = Milliseconds(policy.InitialBackoff), maximum = Milliseconds(policy.MaxBackoff);
                Configure("set retry policy", () => handle.set_retry_policy((uint)policy.MaxRetries, initial, maximum));
            }
            if (options.Transport.HasValue)
                Configure("set transport", () => handle.set_transport((int)options.Transport.Value));
            if (options.Proxy != null)
            {
                ProxyOptions proxy = options.Proxy;
                Configure("set proxy", () => handle.set_proxy((int)proxy.ProxyType, proxy.Address, proxy.Port, proxy.Username, proxy.Password));
            }
            if (options.ProxyUrl != null)
                Configure("set proxy URL", () => handle.set_proxy_url(options.ProxyUrl));
            if (options.ProxyCaCert != null)
                Configure("set proxy CA cert", () => handle.set_proxy_ca_cert(options.ProxyCaCert));
            if (options.CsrKeyType.HasValue)
                Configure("set CSR", () => handle.set_csr_auto((int)options.CsrKeyType.Value));
            if (options.CsrPem != null)
                Configure("set CSR PEM", () => handle.set_csr_pem(options.CsrPem));
            if (options.LogHandler != null)
            {
                int level = (int)options.MinLogLevel;
                Configure("set log handler", () => handle.set_async_log_level(level));
                logHandler = options.LogHandler;
            }
            if (options.CsrDer != null)
            {
                byte[] der = (byte[])options.CsrDer.Clone();
                Configure("set CSR DER", () => handle.set_csr_der(der, (uint)der.Length));
            }
            if (options.CsrApi.HasValue)
                Configure("set CSR API", () => handle.set_csr_api((int)options.CsrApi.Value));
        }

        private static int WholeSeconds(string name, TimeSpan value)
        {
            if (value.Ticks % TimeSpan.TicksPerSecond != 0)
                throw new ArgumentException(name + " must be whole seconds, got " + value, name);
            long seconds = value.Ticks / TimeSpan.TicksPerSecond;
            return (int)Math.Max(int.MinValue, Math.Min(int.MaxValue, seconds));
        }

        private static uint Milliseconds(TimeSpan value)
        {
            if (value <= TimeSpan.Zero) return 0; // rejected by libprov with a message naming the range
            long ms = (value.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond; // round up
            return (uint)Math.Min(ms, uint.MaxValue);
        }

        /// <summary>Runs one option setter on the open, idle client and throws what it reported.</summary>
        private void Configure(string operation, Action setter)
        {
            lock (gate)
            {
                ThrowIfDisposed(operation);
                if (registrationsInFlight > 0)
                    throw new InvalidOperationException(operation + ": a registration is in flight");
                setter();
                NativeError.ThrowIfPending(operation);
            }
        }

        private void ThrowIfDisposed(string operation)
        {
            if (disposed || disposeRequested)
                throw new ObjectDisposedException(GetType().Name, operation + ": client is closed");
        }

        private string provisioningPayload;

        /// <summary>
        /// JSON text sent with the next registration (the Python SDK's provisioning_payload),
        /// checked as JSON when set; null clears it.
        /// </summary>
        public string ProvisioningPayload
        {
            get { lock (gate) return provisioningPayload; }
            set
            {
                Configure("set provisioning payload", () => handle.set_provisioning_payload(value));
                lock (gate) provisioningPayload = value;
            }
        }

        /// <summary>
        /// Registers the device: connects, sends the request, polls until the service reaches a
        /// terminal status, and returns the assignment. Blocks the calling thread until then or the
        /// register timeout.
        /// </summary>
        /// <exception cref="CredentialException">the service rejected the key (see ErrorCode)</exception>
        /// <exception cref="ConnectionFailedException">DNS, TCP, proxy or TLS failed</exception>
        /// <exception cref="OperationTimeoutException">the register or a response timeout expired</exception>
        /// <exception cref="ServiceException">the service answered with another error</exception>
        /// <exception cref="ProvisioningException">any other failure (protocol, internal)</exception>
        public RegistrationResult Register()
        {
            return RegisterUnlessCancelled(CancellationToken.None);
        }

        /// <summary>
        /// Registers unless the token is cancelled once this registration counts as in flight: a
        /// cancel that comes after that check finds the registration in flight and stops it.
        /// </summary>
        private RegistrationResult RegisterUnlessCancelled(CancellationToken cancellationToken)
        {
            lock (gate)
            {
                ThrowIfDisposed("register");
                if (registrationsInFlight > 0)
                    throw new InvalidOperationException("register: another registration on this client is in flight");
                cancellationToken.ThrowIfCancellationRequested();
                registrationsInFlight++;
                registrationSequence++;
            }
            try
            {
                using (ProvResult raw = handle.register())
                {
                    NativeError.ThrowIfPending("register");
                    return new RegistrationResult(raw);
                }
            }
            finally
            {
                lock (gate)
                {
                    registrationsInFlight--;
                    if (disposeRequested && registrationsInFlight == 0) FreeNow();
                }
            }
        }

        /// <summary>
        /// Registers on libprov's own event loop (prov_client_register_async): no thread of this
        /// process waits for the registration. Cancelling the token stops the registration (within
        /// about 100 ms) and the task ends as cancelled. Continuations never run on libprov's
        /// threads.
        /// </summary>
        public Task<RegistrationResult> RegisterAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return RegisterAsync(null, cancellationToken);
        }

        /// <summary>
        /// <see cref="RegisterAsync(CancellationToken)"/> reporting each step to progress, in order,
        /// from the binding's dispatcher thread (one per process, shared by every registration):
        /// IProgress.Report must return promptly. <see cref="Progress{T}"/> posts each report to the
        /// captured SynchronizationContext (or the thread pool, where reports may run out of order).
        /// </summary>
        public Task<RegistrationResult> RegisterAsync(IProgress<RegistrationProgress> progress,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (cancellationToken.IsCancellationRequested)
                return Task.FromCanceled<RegistrationResult>(cancellationToken);
            var registration = new AsyncRegistration(this, progress, cancellationToken);
            lock (gate)
            {
                if (disposed || disposeRequested)
                    return Task.FromException<RegistrationResult>(
                        new ObjectDisposedException(GetType().Name, "register: client is closed"));
                if (registrationsInFlight > 0)
                    return Task.FromException<RegistrationResult>(
                        new InvalidOperationException("register: another registration on this client is in flight"));
                registrationsInFlight++;
                registrationSequence++;
                long context = AsyncBridge.Register(registration);
                handle.register_async(context);
                try
                {
                    NativeError.ThrowIfPending("register");
                }
                catch (Exception notStarted)
                {
                    AsyncBridge.Forget(context);
                    registrationsInFlight--;
                    return Task.FromException<RegistrationResult>(notStarted);
                }
            }
            registration.WatchCancellation();
            return registration.Task;
        }

        /// <summary>The asynchronous registration in flight has ended (on the dispatcher thread).</summary>
        private void AsyncRegistrationEnded()
        {
            lock (gate)
            {
                registrationsInFlight--;
                if (disposeRequested && registrationsInFlight == 0) FreeNow();
            }
        }

        /// <summary>One RegisterAsync in flight: its task, progress sink and cancellation.</summary>
        private sealed class AsyncRegistration : AsyncBridge.IRegistration
        {
            private readonly ProvisioningDeviceClient client;
            private readonly IProgress<RegistrationProgress> progress;
            private readonly CancellationToken cancellationToken;
            // Continuations run on the thread pool, never on the dispatcher thread.
            private readonly TaskCompletionSource<RegistrationResult> completion =
                new TaskCompletionSource<RegistrationResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            private readonly object cancellationGate = new object();
            private CancellationTokenRegistration cancellation; // guarded by cancellationGate
            private bool ended; // guarded by cancellationGate

            internal AsyncRegistration(ProvisioningDeviceClient client, IProgress<RegistrationProgress> progress,
                CancellationToken cancellationToken)
            {
                this.client = client;
                this.progress = progress;
                this.cancellationToken = cancellationToken;
            }

            internal Task<RegistrationResult> Task
            {
                get { return completion.Task; }
            }

            /// <summary>
            /// Cancels the registration when the token is cancelled. The registration counts as in
            /// flight from the moment register_async returned, so one cancel always lands.
            /// </summary>
            internal void WatchCancellation()
            {
                if (!cancellationToken.CanBeCanceled) return;
                CancellationTokenRegistration registered = cancellationToken.Register(client.Cancel);
                lock (cancellationGate)
                {
                    if (!ended)
                    {
                        cancellation = registered;
                        return;
                    }
                }
                registered.Dispose(); // already over
            }

            public void Progress(RegistrationProgress step)
            {
                if (progress != null) progress.Report(step);
            }

            public void Log(ProvisioningLogLevel level, string message)
            {
                Action<ProvisioningLogLevel, string> handler = client.logHandler;
                if (handler != null) handler(level, message);
            }

            public void Complete(ProvCompletion native)
            {
                RegistrationResult result = null;
                Exception failure = null;
                using (native)
                {
                    try
                    {
                        using (ProvResult raw = native.take_result())
                        {
                            NativeError.ThrowIfPending("register");
                            result = new RegistrationResult(raw);
                        }
                    }
                    catch (Exception e)
                    {
                        failure = e;
                    }
                }
                CancellationTokenRegistration watching;
                lock (cancellationGate)
                {
                    ended = true;
                    watching = cancellation;
                }
                watching.Dispose();
                client.AsyncRegistrationEnded();
                if (failure is OperationCancelledException && cancellationToken.IsCancellationRequested)
                    completion.TrySetCanceled(cancellationToken);
                else if (failure != null)
                    completion.TrySetException(failure);
                else
                    completion.TrySetResult(result);
            }
        }

        /// <summary>
        /// Stops the registration in flight on this client, from any thread: it then throws
        /// <see cref="OperationCancelledException"/> within about 100 ms. Does nothing without a
        /// registration in flight, or once the client is disposed.
        /// </summary>
        public void Cancel()
        {
            long target;
            lock (gate)
            {
                if (disposed || registrationsInFlight == 0) return;
                target = registrationSequence;
                handle.cancel();
                NativeError.ThrowIfPending("cancel");
            }
            // libprov does not remember a cancel that comes before the registration is under way
            // (it counts as in flight here a moment earlier): repeat it until that one has returned.
            Timer repeat = null;
            var repeatGate = new object();
            lock (repeatGate)
            {
                repeat = new Timer(_ =>
                {
                    lock (repeatGate)
                    {
                        if (!CancelAgain(target)) repeat.Dispose();
                    }
                }, null, 50, 50);
            }
        }

        /// <summary>Cancels again while registration target is in flight; false once it has returned.</summary>
        private bool CancelAgain(long target)
        {
            lock (gate)
            {
                if (disposed || registrationsInFlight == 0 || registrationSequence != target) return false;
                handle.cancel();
                return true;
            }
        }

        /// <summary>Whether Dispose has been called.</summary>
        public bool IsDisposed
        {
            get { lock (gate) return disposed || disposeRequested; }
        }

        /// <summary>
        /// Frees the native client and wipes its key; when a registration is in flight, as soon as
        /// it ends. Idempotent.
        /// </summary>
        public void Dispose()
        {
            lock (gate)
            {
                disposeRequested = true;
                if (registrationsInFlight == 0) FreeNow();
            }
        }

        private void FreeNow()
        {
            if (disposed) return;
            disposed = true;
            handle.Dispose(); // the SWIG proxy's finalizer is the safety net when this never runs
        }
    }

    /// <summary>Library-wide helpers: derived keys, SAS tokens, the library version. Thread-safe.</summary>
    public static class Provisioning
    {
        /// <summary>
        /// Derives a device's key for a symmetric-key group enrollment:
        /// base64(HMAC-SHA256(base64decode(groupKey), registrationId)).
        /// </summary>
        /// <exception cref="ArgumentException">groupKey is not Base64 or registrationId is invalid</exception>
        public static string DeriveDeviceKey(string groupKey, string registrationId)
        {
            string key = ProvNative.derive_device_key(groupKey, registrationId);
            NativeError.ThrowIfPending("derive device key");
            return key;
        }

        /// <summary>
        /// The SAS token a device presents for registrationId in idScope, valid until expiry. The
        /// client builds its own tokens; this is for diagnostics and custom transports.
        /// </summary>
        public static string GenerateSasToken(string idScope, string registrationId, string symmetricKey,
            DateTimeOffset expiry)
        {
            string token = ProvNative.generate_sas_token(idScope, registrationId, symmetricKey, expiry.ToUnixTimeSeconds());
            NativeError.ThrowIfPending("generate SAS token");
            return token;
        }

        /// <summary>The version of the libprov library in use, e.g. "1.0.0".</summary>
        public static string Version
        {
            get { return ProvNative.version_string(); }
        }
    }
}
