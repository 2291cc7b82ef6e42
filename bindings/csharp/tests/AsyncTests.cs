using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace Libprov.Tests
{
    /// <summary>
    /// RegisterAsync on libprov's event loop (prov_client_register_async) with IProgress, and the
    /// DER byte buffers, against the dps-emulator of ClientTests.
    /// </summary>
    public partial class ClientTests
    {
        /// <summary>Records every report where it is made (IProgress is called on the dispatcher thread).</summary>
        private sealed class RecordingProgress : IProgress<RegistrationProgress>
        {
            internal readonly List<RegistrationProgress> Steps = new List<RegistrationProgress>();
            internal readonly List<int> Threads = new List<int>();

            public void Report(RegistrationProgress value)
            {
                lock (Steps)
                {
                    Steps.Add(value);
                    Threads.Add(Thread.CurrentThread.ManagedThreadId);
                }
            }
        }

        [Test]
        public void RegisterAsyncReportsProgressInOrder()
        {
            var progress = new RecordingProgress();
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey))
            {
                RegistrationResult result = client.RegisterAsync(progress).Result;
                lock (progress.Steps)
                {
                    string seen = string.Join(", ", progress.Steps);
                    Assert.True(progress.Steps.Count >= 4, "progress " + seen);
                    Assert.Equal(RegistrationProgressState.Connecting, progress.Steps[0].State, "first step");
                    RegistrationProgress last = progress.Steps[progress.Steps.Count - 1];
                    Assert.Equal(RegistrationProgressState.Assigned, last.State, "last step");
                    Assert.Equal(result.AssignedHub, last.Detail, "last step's detail");
                    Assert.True(!progress.Threads.Contains(Thread.CurrentThread.ManagedThreadId), "reported on the caller's thread");
                }
                // The client registers again, synchronously, right after.
                Assert.Equal("cs-device-one", client.Register().DeviceId, "device id");
            }
        }

        [Test]
        public void LogHandlerReceivesLinesWithoutSecrets()
        {
            var lines = new List<string>();
            var options = new ProvisioningClientOptions
            {
                MinLogLevel = ProvisioningLogLevel.Debug,
                LogHandler = (level, message) => { lock (lines) lines.Add(level + ": " + message); },
            };
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey, options))
            {
                client.RegisterAsync().Wait(TimeSpan.FromSeconds(30));
                lock (lines)
                {
                    Assert.True(lines.Count > 0, "no log lines at debug level");
                    foreach (string line in lines)
                        Assert.True(!line.Contains(TestEmulator.DeviceKey), "the key leaked: " + line);
                }
            }
        }

        [Test]
        public void ManyAsyncRegistrationsInFlight()
        {
            var clients = Enumerable.Range(0, 24)
                .Select(index => Client("cs-dev-1", index % 4 == 3 ? TestEmulator.WrongKey : TestEmulator.DeviceKey)).ToList();
            try
            {
                Task<RegistrationResult>[] tasks = clients.Select(client => client.RegisterAsync()).ToArray();
                for (int index = 0; index < tasks.Length; index++)
                {
                    Task<RegistrationResult> task = tasks[index];
                    if (index % 4 == 3)
                    {
                        var e = Assert.Throws<AggregateException>(() => task.Wait(TimeSpan.FromSeconds(60)));
                        var credential = e.InnerException as CredentialException;
                        Assert.True(credential != null, "inner " + e.InnerException);
                        Assert.Equal(401002, credential.ErrorCode, "error code");
                    }
                    else
                    {
                        Assert.True(task.Wait(TimeSpan.FromSeconds(60)), "registration " + index + " still running");
                        Assert.Equal("cs-device-one", task.Result.DeviceId, "device id");
                    }
                }
            }
            finally
            {
                foreach (var client in clients) client.Dispose();
            }
        }

        /// <summary>Reports the first Registering step of one registration.</summary>
        private sealed class FirstRequestSent : IProgress<RegistrationProgress>
        {
            private readonly CountdownEvent registering;
            private int sent;

            internal FirstRequestSent(CountdownEvent registering)
            {
                this.registering = registering;
            }

            public void Report(RegistrationProgress value)
            {
                if (value.State == RegistrationProgressState.Registering && Interlocked.Exchange(ref sent, 1) == 0)
                    registering.Signal();
            }
        }

        private static int OsThreads()
        {
            using (Process self = Process.GetCurrentProcess()) return self.Threads.Count;
        }

        /// <summary>
        /// Registrations waiting for the service hold no thread each: libprov's event loop runs
        /// them, and one dispatcher thread serves all of them.
        /// </summary>
        [Test]
        public void RegistrationsInFlightHoldNoThreadEach()
        {
            const int count = 100;
            var clients = new List<ProvisioningDeviceClient>();
            var tasks = new List<Task<RegistrationResult>>();
            using (var registering = new CountdownEvent(count))
            using (var cancellation = new CancellationTokenSource())
            {
                int before = OsThreads();
                try
                {
                    for (int index = 0; index < count; index++)
                    {
                        var client = Client("cs-silent", TestEmulator.DeviceKey,
                            new ProvisioningClientOptions { RegisterTimeout = TimeSpan.FromSeconds(60) });
                        clients.Add(client);
                        tasks.Add(client.RegisterAsync(new FirstRequestSent(registering), cancellation.Token));
                    }
                    Assert.True(registering.Wait(TimeSpan.FromSeconds(45)), registering.CurrentCount + " did not send");
                    int during = OsThreads();
                    // A thread per registration would add 100.
                    Assert.True(during - before <= 30, count + " in flight: " + before + " -> " + during + " threads");
                    cancellation.Cancel();
                    foreach (var task in tasks)
                    {
                        Assert.Throws<AggregateException>(() => task.Wait(TimeSpan.FromSeconds(30)));
                        Assert.True(task.IsCanceled, "task status " + task.Status);
                    }
                }
                finally
                {
                    foreach (var client in clients) client.Dispose();
                }
            }
        }

        [Test]
        public void DisposeDuringRegisterAsyncFreesAtTheEnd()
        {
            var client = Client("cs-silent", TestEmulator.DeviceKey);
            using (var cancellation = new CancellationTokenSource())
            {
                Task<RegistrationResult> running = client.RegisterAsync(cancellation.Token);
                client.Dispose(); // deferred: the registration is in flight
                Assert.True(client.IsDisposed, "disposed");
                cancellation.CancelAfter(200);
                Assert.Throws<AggregateException>(() => running.Wait(TimeSpan.FromSeconds(10)));
                Assert.True(running.IsCanceled, "task status " + running.Status);
            }
            Task<RegistrationResult> afterwards = client.RegisterAsync();
            Assert.True(afterwards.IsFaulted && afterwards.Exception.InnerException is ObjectDisposedException,
                "after dispose: " + afterwards.Status);
        }

        [Test]
        public void IssuedCertificatesAsDerMatchThePemChain()
        {
            using (var client = Client("cs-dev-1", TestEmulator.DeviceKey, new ProvisioningClientOptions { CsrKeyType = KeyType.EcP256 }))
            {
                RegistrationResult result = client.RegisterAsync().Result;
                MatchCollection pems = Regex.Matches(result.IssuedCertificateChainPem,
                    "-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----");
                Assert.Equal(result.IssuedCertificateCount, pems.Count, "certificates");
                for (int index = 0; index < pems.Count; index++)
                {
                    byte[] fromPem = Convert.FromBase64String(Regex.Replace(pems[index].Groups[1].Value, "\\s", ""));
                    Assert.True(fromPem.SequenceEqual(result.GetIssuedCertificateDer(index)), "certificate " + index);
                }
                Assert.Equal(null, result.GetIssuedCertificateDer(pems.Count), "past the end");
                var leaf = new X509Certificate2(result.GetIssuedCertificateDer(0));
                Assert.True(leaf.Subject.Contains("CN=cs-dev-1"), leaf.Subject);
            }
        }

        [Test]
        public void CallersCsrAsDerIsCertified()
        {
            string dir = Path.Combine(Path.GetTempPath(), "prov-cs-csr-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                var start = new ProcessStartInfo("openssl",
                    "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj /CN=cs-dev-1 -outform DER -out csr.der")
                { WorkingDirectory = dir, UseShellExecute = false, RedirectStandardError = true };
                using (Process openssl = Process.Start(start))
                {
                    string errors = openssl.StandardError.ReadToEnd();
                    openssl.WaitForExit();
                    Assert.Equal(0, openssl.ExitCode, "openssl exit code (" + errors + ")");
                }
                byte[] der = File.ReadAllBytes(Path.Combine(dir, "csr.der"));
                using (var client = Client("cs-dev-1", TestEmulator.DeviceKey, new ProvisioningClientOptions { CsrDer = der }))
                {
                    RegistrationResult result = client.Register();
                    Assert.Equal(null, result.GeneratedPrivateKeyPem, "generated key");
                    var leaf = new X509Certificate2(result.GetIssuedCertificateDer(0));
                    Assert.True(leaf.Subject.Contains("CN=cs-dev-1"), leaf.Subject);
                }
                var e = Assert.Throws<Exception>(() => Client("cs-dev-1", TestEmulator.DeviceKey,
                    new ProvisioningClientOptions { CsrDer = new byte[] { 0x30, 0x03, 0x02, 0x01, 0x00 } }).Dispose());
                Assert.True(e.Message.Contains("PROV_E_CERTIFICATE"), e.Message);
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }
    }
}
