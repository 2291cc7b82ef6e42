using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace Libprov.Tests
{
    /// <summary>The C# binding against a real dps-emulator.</summary>
    public partial class ClientTests
    {
        private static TestEmulator emulator;
        private static readonly string[] Hubs = { "hub-1.example.net", "hub-2.example.net" };

        [SetUpFixture]
        public static void StartEmulator()
        {
            emulator = new TestEmulator();
        }

        [TearDownFixture]
        public static void StopEmulator()
        {
            if (emulator != null) emulator.Dispose();
        }

        private static ProvisioningDeviceClient Client(string registrationId, string key, ProvisioningClientOptions options = null)
        {
            options = options ?? new ProvisioningClientOptions();
            options.ServerVerificationCert = emulator.CaPem;
            if (!options.RegisterTimeout.HasValue) options.RegisterTimeout = TimeSpan.FromSeconds(20);
            return ProvisioningDeviceClient.CreateFromSymmetricKey(emulator.MqttHost, registrationId, TestEmulator.IdScope, key, options);
        }

        [Test]
        public void SymmetricKeyRegistration()
        {
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey))
            {
                RegistrationResult result = client.Register();
                Assert.Equal("assigned", result.Status, "status");
                Assert.Equal("cs-device-one", result.DeviceId, "device id");
                Assert.Equal("cs-dev-1", result.RegistrationId, "registration id");
                Assert.True(Hubs.Contains(result.AssignedHub), "assigned hub " + result.AssignedHub);
                Assert.Equal("initialAssignment", result.Substatus, "substatus");
                Assert.True(!string.IsNullOrEmpty(result.OperationId), "operation id");
                Assert.True(result.Etag != null && result.CreatedDateTime != null && result.LastUpdateDateTime != null, "etag and times");
                Assert.Equal(null, result.Payload, "payload");
                Assert.Equal(200, result.HttpStatus, "HTTP status");
                Assert.True(result.RegistrationStateJson.Contains("\"assignedHub\""), result.RegistrationStateJson);
            }
        }

        [Test]
        public void GroupEnrollmentWithDerivedKey()
        {
            string key = Provisioning.DeriveDeviceKey(TestEmulator.GroupKey, "cs-member-2");
            using (var client = Client("cs-member-2", key))
            {
                Assert.Equal("cs-member-2", client.Register().DeviceId, "device id");
            }
        }

        [Test]
        public void SymmetricKeyGroupClient()
        {
            using (var client = ProvisioningDeviceClient.CreateFromSymmetricKeyGroup(emulator.MqttHost, "cs-member-4", TestEmulator.IdScope,
                TestEmulator.GroupKey, new ProvisioningClientOptions { ServerVerificationCert = emulator.CaPem }))
            {
                RegistrationResult result = client.Register();
                Assert.Equal("cs-member-4", result.DeviceId, "device id");
                Assert.Equal("cs-group", result.EnrollmentGroupId, "enrollment group");
            }
        }

        [Test]
        public void X509Registration()
        {
            using (var client = ProvisioningDeviceClient.CreateFromX509Certificate(emulator.MqttHost, TestEmulator.X509RegistrationId,
                TestEmulator.IdScope, emulator.DeviceCert, emulator.DeviceKeyFile, null,
                new ProvisioningClientOptions { ServerVerificationCert = emulator.CaPem }))
            {
                RegistrationResult result = client.Register();
                Assert.Equal(TestEmulator.X509RegistrationId, result.DeviceId, "device id");
                Assert.Equal("cs-x509-group", result.EnrollmentGroupId, "enrollment group");
                Assert.True(Hubs.Contains(result.AssignedHub), "assigned hub " + result.AssignedHub);
                Assert.True(result.X509Json.Contains("\"enrollmentGroupId\""), result.X509Json);
            }
        }

        [Test]
        public void X509FromPemOverHttps()
        {
            using (var client = ProvisioningDeviceClient.CreateFromX509Pem(emulator.HttpsHost, TestEmulator.X509RegistrationId,
                TestEmulator.IdScope, File.ReadAllText(emulator.DeviceCert), File.ReadAllText(emulator.DeviceKeyFile), null,
                new ProvisioningClientOptions { ServerVerificationCert = emulator.CaPem, Transport = Transport.Https }))
            {
                Assert.Equal(TestEmulator.X509RegistrationId, client.Register().DeviceId, "device id");
            }
        }

        [Test]
        public void X509CredentialProblemsAreInvalidCertificateException()
        {
            var e = Assert.Throws<InvalidCertificateException>(() => ProvisioningDeviceClient.CreateFromX509Certificate(emulator.MqttHost,
                TestEmulator.X509RegistrationId, TestEmulator.IdScope, Path.Combine(emulator.Dir, "missing.pem"), emulator.DeviceKeyFile));
            Assert.True(e.Message.Contains("missing.pem"), e.Message);
            Assert.Throws<InvalidCertificateException>(() => ProvisioningDeviceClient.CreateFromX509Certificate(emulator.MqttHost,
                TestEmulator.X509RegistrationId, TestEmulator.IdScope, emulator.DeviceCert, emulator.CaKey));
        }

        [Test]
        public void EveryTransport()
        {
            foreach (Transport transport in Enum.GetValues(typeof(Transport)))
            {
                string host = transport == Transport.Mqtt ? emulator.MqttHost : emulator.HttpsHost;
                using (var client = ProvisioningDeviceClient.CreateFromSymmetricKey(host, "cs-dev-1", TestEmulator.IdScope, TestEmulator.DeviceKey,
                    new ProvisioningClientOptions { ServerVerificationCert = emulator.CaPem, Transport = transport }))
                {
                    Assert.Equal("cs-device-one", client.Register().DeviceId, transport.ToString());
                }
            }
        }

        [Test]
        public void CertificateIssuance()
        {
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey, new ProvisioningClientOptions { CsrKeyType = KeyType.EcP256 }))
            {
                RegistrationResult result = client.Register();
                Assert.True(result.IssuedCertificateCount >= 1, "issued " + result.IssuedCertificateCount);
                Assert.True(result.IssuedCertificateChainPem.StartsWith("-----BEGIN CERTIFICATE-----"), "issued chain");
                Assert.True(result.GeneratedPrivateKeyPem.Contains("PRIVATE KEY-----"), "generated key");
            }
        }

        [Test]
        public void UnreachableProxyIsConnectionFailed()
        {
            var proxy = new ProxyOptions { ProxyType = ProxyType.Socks5, Address = "127.0.0.1", Port = 1, Username = "user", Password = "secret-password" };
            // No retries: a refused connection is transient, and retrying only slows the test.
            var noRetries = new RetryPolicy { MaxRetries = 0, InitialBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(1) };
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey, new ProvisioningClientOptions { Proxy = proxy, RetryPolicy = noRetries }))
            {
                var e = Assert.Throws<ConnectionFailedException>(() => client.Register());
                Assert.True(e.Message.Contains("127.0.0.1:1"), e.Message);
                Assert.True(!e.Message.Contains("secret-password"), "the proxy password leaked");
            }
            Assert.Throws<ArgumentException>(() => ProvisioningDeviceClient.CreateFromSymmetricKey("h", "dev", TestEmulator.IdScope,
                TestEmulator.DeviceKey, new ProvisioningClientOptions { ProxyUrl = "gopher://p:1" }));
        }

        [Test]
        public void PayloadRoundTrip()
        {
            const string payload = "{\"a\":[1,2,{\"b\":null}],\"modelId\":\"dtmi:x;1\"}";
            using (var client = Client("cs-echo", TestEmulator.DeviceKey, new ProvisioningClientOptions { ProvisioningPayload = payload }))
            {
                Assert.Equal(payload, Regex.Replace(client.Register().Payload, "\\s", ""), "echoed payload");
                client.ProvisioningPayload = null;
                Assert.Equal(null, client.Register().Payload, "payload after clearing");
                var invalid = Assert.Throws<ArgumentException>(() => client.ProvisioningPayload = "{x");
                Assert.True(invalid.Message.Contains("payload"), invalid.Message);
            }
        }

        [Test]
        public void WrongKeyIsCredentialExceptionWithServiceDetails()
        {
            using (var client = Client("cs-dev-1", TestEmulator.WrongKey))
            {
                var e = Assert.Throws<CredentialException>(() => client.Register());
                Assert.True(e.ErrorCode >= 401000 && e.ErrorCode <= 401999, "error code " + e.ErrorCode);
                Assert.Equal(401, e.HttpStatus, "HTTP status");
                Assert.True(!string.IsNullOrEmpty(e.TrackingId), "tracking id");
                Assert.Equal("PROV_E_CREDENTIAL", e.StatusName, "status name");
                Assert.True(e.Message.Contains(e.ErrorCode.ToString()), e.Message);
                Assert.True(!e.Message.Contains(TestEmulator.WrongKey), "the key leaked into the message");
            }
        }

        [Test]
        public void SilentServiceTimesOut()
        {
            using (var client = Client("cs-silent", TestEmulator.DeviceKey, new ProvisioningClientOptions { RegisterTimeout = TimeSpan.FromSeconds(2) }))
            {
                var watch = Stopwatch.StartNew();
                var e = Assert.Throws<OperationTimeoutException>(() => client.Register());
                long elapsed = watch.ElapsedMilliseconds;
                Assert.True(elapsed >= 1500 && elapsed <= 10000, "gave up after " + elapsed + " ms");
                Assert.Equal(0, e.ErrorCode, "error code");
            }
        }

        [Test]
        public void UntrustedServerIsConnectionFailed()
        {
            using (var client = ProvisioningDeviceClient.CreateFromSymmetricKey(emulator.MqttHost, "cs-dev-1", TestEmulator.IdScope, TestEmulator.DeviceKey))
            {
                Assert.Throws<ConnectionFailedException>(() => client.Register());
            }
        }

        [Test]
        public void RegisterAsyncCompletesAndFailsLikeRegister()
        {
            using (var good = Client("cs-dev-1", TestEmulator.DeviceKey))
            using (var bad = Client("cs-dev-1", TestEmulator.WrongKey))
            {
                Task<RegistrationResult> assigned = good.RegisterAsync();
                Task<RegistrationResult> rejected = bad.RegisterAsync();
                Assert.Equal("cs-device-one", assigned.Result.DeviceId, "device id");
                var e = Assert.Throws<AggregateException>(() => rejected.Wait());
                Assert.True(e.InnerException is CredentialException, "inner " + e.InnerException);
            }
        }

        [Test]
        public void RegisterAsyncWithCancelledToken()
        {
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey))
            using (var cancellation = new CancellationTokenSource())
            {
                cancellation.Cancel();
                Task<RegistrationResult> task = client.RegisterAsync(cancellation.Token);
                Assert.Throws<AggregateException>(() => task.Wait());
                Assert.True(task.IsCanceled, "task status " + task.Status);
            }
        }

        [Test]
        public void CancellationTokenStopsRegistration()
        {
            using (var client = Client("cs-silent", TestEmulator.DeviceKey))
            using (var cancellation = new CancellationTokenSource())
            {
                Task<RegistrationResult> task = client.RegisterAsync(cancellation.Token);
                Thread.Sleep(300);
                var watch = Stopwatch.StartNew();
                cancellation.Cancel();
                var e = Assert.Throws<AggregateException>(() => task.Wait(10000));
                Assert.True(task.IsCanceled, "task status " + task.Status);
                Assert.True(e.InnerException is TaskCanceledException || e.InnerException is OperationCanceledException, "inner " + e.InnerException);
                Assert.True(watch.ElapsedMilliseconds < 2000, "cancelled after " + watch.ElapsedMilliseconds + " ms");
            }
        }

        /// <summary>Tokens cancelled right away, whichever step the cancel meets, end the task at once.</summary>
        [Test]
        public void EarlyTokenCancellation()
        {
            using (var client = Client("cs-silent", TestEmulator.DeviceKey))
            {
                for (int attempt = 0; attempt < 20; attempt++)
                {
                    using (var cancellation = new CancellationTokenSource())
                    {
                        var watch = Stopwatch.StartNew();
                        Task<RegistrationResult> task = client.RegisterAsync(cancellation.Token);
                        cancellation.Cancel();
                        Assert.Throws<AggregateException>(() => task.Wait(10000));
                        Assert.True(task.IsCanceled, "attempt " + attempt + ": task status " + task.Status);
                        Assert.True(watch.ElapsedMilliseconds < 3000, "attempt " + attempt + ": ended after " + watch.ElapsedMilliseconds + " ms");
                    }
                }
            }
        }

        [Test]
        public void CancelStopsBlockingRegister()
        {
            using (var client = Client("cs-silent", TestEmulator.DeviceKey))
            {
                var canceller = new Timer(_ => client.Cancel(), null, 300, Timeout.Infinite);
                var watch = Stopwatch.StartNew();
                Assert.Throws<OperationCancelledException>(() => client.Register());
                Assert.True(watch.ElapsedMilliseconds < 2500, "cancelled after " + watch.ElapsedMilliseconds + " ms");
                canceller.Dispose();
            }
        }

        [Test]
        public void RetryPolicyOption()
        {
            var policy = new RetryPolicy { MaxRetries = 3, InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(1) };
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey, new ProvisioningClientOptions { RetryPolicy = policy }))
            {
                Assert.Equal("cs-device-one", client.Register().DeviceId, "device id");
            }
            var inverted = new RetryPolicy { MaxRetries = 3, InitialBackoff = TimeSpan.FromSeconds(2), MaxBackoff = TimeSpan.FromSeconds(1) };
            Assert.Throws<ArgumentException>(() => ProvisioningDeviceClient.CreateFromSymmetricKey("h", "dev", TestEmulator.IdScope,
                TestEmulator.DeviceKey, new ProvisioningClientOptions { RetryPolicy = inverted }));
        }

        [Test]
        public void BusyClientAndDisposeDuringRegistration()
        {
            var client = Client("cs-silent", TestEmulator.DeviceKey, new ProvisioningClientOptions { RegisterTimeout = TimeSpan.FromSeconds(2) });
            Task<RegistrationResult> first = client.RegisterAsync();
            Thread.Sleep(300);
            Assert.Throws<InvalidOperationException>(() => client.Register());
            client.Dispose(); // deferred until the registration ends
            Assert.True(client.IsDisposed, "IsDisposed");
            var e = Assert.Throws<AggregateException>(() => first.Wait());
            Assert.True(e.InnerException is OperationTimeoutException, "inner " + e.InnerException);
            Assert.Throws<ObjectDisposedException>(() => client.Register());
        }

        /// <summary>Errors are recorded per thread in C: many threads mixing outcomes each see their own.</summary>
        [Test]
        public void ConcurrentClientsSeeTheirOwnOutcome()
        {
            var clients = Enumerable.Range(0, 16)
                .Select(worker => Client("cs-dev-1", worker % 2 == 0 ? TestEmulator.DeviceKey : TestEmulator.WrongKey)).ToArray();
            try
            {
                Task<string>[] outcomes = clients.Select(client => client.RegisterAsync().ContinueWith(task =>
                    task.IsFaulted ? task.Exception.InnerException.GetType().Name : task.Result.DeviceId)).ToArray();
                for (int worker = 0; worker < clients.Length; worker++)
                {
                    Assert.Equal(worker % 2 == 0 ? "cs-device-one" : "CredentialException", outcomes[worker].Result, "worker " + worker);
                }
            }
            finally
            {
                foreach (var client in clients) client.Dispose();
            }
        }

        [Test]
        public void InvalidArgumentsNameTheProblem()
        {
            var e = Assert.Throws<ArgumentException>(() =>
                ProvisioningDeviceClient.CreateFromSymmetricKey("h", "bad id", TestEmulator.IdScope, TestEmulator.DeviceKey));
            Assert.True(e.Message.Contains("registration_id"), e.Message);
            e = Assert.Throws<ArgumentException>(() =>
                ProvisioningDeviceClient.CreateFromSymmetricKey("h", "dev", TestEmulator.IdScope, "not base64"));
            Assert.True(e.Message.Contains("symmetric_key"), e.Message);
            Assert.Throws<ArgumentException>(() => ProvisioningDeviceClient.CreateFromSymmetricKey("h", "dev", TestEmulator.IdScope,
                TestEmulator.DeviceKey, new ProvisioningClientOptions { KeepAlive = TimeSpan.FromSeconds(5000) }));
            e = Assert.Throws<ArgumentException>(() => ProvisioningDeviceClient.CreateFromSymmetricKey("h", "dev", TestEmulator.IdScope,
                TestEmulator.DeviceKey, new ProvisioningClientOptions { KeepAlive = TimeSpan.FromMilliseconds(1500) }));
            Assert.True(e.Message.Contains("whole seconds"), e.Message);
            Assert.Throws<ArgumentException>(() => ProvisioningDeviceClient.CreateFromSymmetricKey("h", "dev", TestEmulator.IdScope,
                TestEmulator.DeviceKey, new ProvisioningClientOptions { RegisterTimeout = TimeSpan.Zero }));
            Assert.Throws<ArgumentException>(() => Provisioning.DeriveDeviceKey("***", "dev"));
        }

        [Test]
        public void DisposeIsIdempotentAndUseAfterDisposeFails()
        {
            var client = Client("cs-dev-1", TestEmulator.DeviceKey);
            client.Dispose();
            client.Dispose();
            Assert.True(client.IsDisposed, "IsDisposed");
            Assert.Throws<ObjectDisposedException>(() => client.Register());
            Assert.Throws<ObjectDisposedException>(() => client.ProvisioningPayload = "{}");
        }

        [Test]
        public void KnownAnswerVectors()
        {
            string vectors = File.ReadAllText(Environment.GetEnvironmentVariable("PROV_TEST_VECTORS"));
            int checkedCount = 0;
            foreach (Match derived in Regex.Matches(vectors,
                "\\{\\s*\"group_key\":\\s*\"([^\"]+)\",\\s*\"registration_id\":\\s*\"([^\"]+)\",\\s*\"device_key\":\\s*\"([^\"]+)\""))
            {
                Assert.Equal(derived.Groups[3].Value, Provisioning.DeriveDeviceKey(derived.Groups[1].Value, derived.Groups[2].Value), "derived key");
                checkedCount++;
            }
            Assert.True(checkedCount > 0, "no derived-key vectors found");
            checkedCount = 0;
            foreach (Match sas in Regex.Matches(vectors,
                "\"id_scope\":\\s*\"([^\"]+)\",\\s*\"registration_id\":\\s*\"([^\"]+)\",\\s*\"device_key\":\\s*\"([^\"]+)\",\\s*\"expiry\":\\s*(\\d+)[^}]*\"token\":\\s*\"([^\"]+)\""))
            {
                var expiry = DateTimeOffset.FromUnixTimeSeconds(long.Parse(sas.Groups[4].Value));
                Assert.Equal(sas.Groups[5].Value, Provisioning.GenerateSasToken(sas.Groups[1].Value, sas.Groups[2].Value, sas.Groups[3].Value, expiry), "SAS token");
                checkedCount++;
            }
            Assert.True(checkedCount > 0, "no SAS vectors found");
        }

        [Test]
        public void ExamplePrintsHubAndDeviceId()
        {
            string example = Environment.GetEnvironmentVariable("PROV_TEST_EXAMPLE");
            Assert.True(File.Exists(example ?? ""), "PROV_TEST_EXAMPLE must name Register.exe");
            var start = new ProcessStartInfo("mono", "\"" + example + "\"")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true
            };
            start.EnvironmentVariables["PROVISIONING_HOST"] = emulator.MqttHost;
            start.EnvironmentVariables["PROVISIONING_IDSCOPE"] = TestEmulator.IdScope;
            start.EnvironmentVariables["PROVISIONING_REGISTRATION_ID"] = "cs-dev-1";
            start.EnvironmentVariables["PROVISIONING_SYMMETRIC_KEY"] = TestEmulator.DeviceKey;
            start.EnvironmentVariables["PROVISIONING_SERVER_CERT"] = emulator.CaPath;
            using (Process process = Process.Start(start))
            {
                Task<string> errors = process.StandardError.ReadToEndAsync();
                string output = process.StandardOutput.ReadToEnd();
                Assert.True(process.WaitForExit(60000), "example did not finish");
                output += errors.Result;
                Assert.Equal(0, process.ExitCode, "exit code; output:\n" + output);
                Assert.True(output.Contains("device id: cs-device-one"), output);
                Assert.True(output.Contains("assigned hub: hub-1.example.net") || output.Contains("assigned hub: hub-2.example.net"), output);
            }
        }
    }
}
