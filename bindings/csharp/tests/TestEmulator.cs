using System;
using System.Diagnostics;
using System.IO;
using System.Text.RegularExpressions;
using System.Threading;

namespace Libprov.Tests
{
    /// <summary>
    /// A real dps-emulator process (PROV_TEST_EMULATOR) with a fresh data directory and ports
    /// chosen by the kernel (the shared test contract).
    /// </summary>
    public sealed class TestEmulator : IDisposable
    {
        public const string IdScope = "0ne00000A0A";
        public const string DeviceKey = "Y3NoYXJwLWRldmljZS1rZXktLS0tLS0tLS0tLS0tLS0=";
        public const string GroupKey = "Y3NoYXJwLWdyb3VwLWtleS0tLS0tLS0tLS0tLS0tLS0=";
        public const string WrongKey = "bm90LXRoZS1rZXktLS0tLS0tLS0tLS0tLS0tLS0tLS0=";
        public const string X509RegistrationId = "cs-x509-device";

        private static string Config(string caCert)
        {
            return @"{
 ""idScope"": """ + IdScope + @""",
 ""iotHubs"": [""hub-1.example.net"", ""hub-2.example.net""],
 ""enrollments"": [
  {""registrationId"": ""cs-dev-1"", ""deviceId"": ""cs-device-one"",
   ""attestation"": {""type"": ""symmetricKey"", ""primaryKey"": """ + DeviceKey + @"""}},
  {""registrationId"": ""cs-echo"", ""echoPayload"": true,
   ""attestation"": {""type"": ""symmetricKey"", ""primaryKey"": """ + DeviceKey + @"""}},
  {""registrationId"": ""cs-silent"",
   ""attestation"": {""type"": ""symmetricKey"", ""primaryKey"": """ + DeviceKey + @"""}}],
 ""enrollmentGroups"": [
  {""enrollmentGroupId"": ""cs-group"",
   ""attestation"": {""type"": ""symmetricKey"", ""primaryKey"": """ + GroupKey + @"""}},
  {""enrollmentGroupId"": ""cs-x509-group"",
   ""attestation"": {""type"": ""x509"", ""caCertificates"": [""" + caCert + @"""]}}],
 ""faults"": [{""type"": ""silent"", ""registrationId"": ""cs-silent""}]
}";
        }

        private static void Run(string binary, string arguments)
        {
            var start = new ProcessStartInfo(binary, arguments) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            using (Process process = Process.Start(start))
            {
                string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) throw new InvalidOperationException(binary + " " + arguments + " failed:\n" + output);
            }
        }

        public readonly string Dir;
        public readonly string MqttHost;
        public readonly string HttpsHost;
        /// <summary>X.509 credentials made with `dps-emulator make-cert`: a root CA enrolled as a group.</summary>
        public readonly string CaCert, CaKey, DeviceCert, DeviceKeyFile;
        public readonly string CaPath;
        public readonly string CaPem;
        private readonly Process process;

        public TestEmulator()
        {
            string binary = Environment.GetEnvironmentVariable("PROV_TEST_EMULATOR");
            if (string.IsNullOrEmpty(binary))
                throw new InvalidOperationException("PROV_TEST_EMULATOR must name the dps-emulator binary");
            Dir = Path.Combine(Path.GetTempPath(), "prov-cs-emu-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Dir);
            string configPath = Path.Combine(Dir, "config.json");
            string portsPath = Path.Combine(Dir, "ports.json");
            string dataDir = Path.Combine(Dir, "data");
            string logPath = Path.Combine(Dir, "emulator.log");
            CaCert = Path.Combine(Dir, "ca.pem");
            CaKey = Path.Combine(Dir, "ca.key");
            DeviceCert = Path.Combine(Dir, "device.pem");
            DeviceKeyFile = Path.Combine(Dir, "device.key");
            Run(binary, string.Format("make-cert ca --cn cs-test-root --out-cert \"{0}\" --out-key \"{1}\"", CaCert, CaKey));
            Run(binary, string.Format("make-cert device --cn {0} --issuer-cert \"{1}\" --issuer-key \"{2}\" --out-cert \"{3}\" --out-key \"{4}\"",
                X509RegistrationId, CaCert, CaKey, DeviceCert, DeviceKeyFile));
            File.WriteAllText(configPath, Config(CaCert));
            // Through sh for the log redirection; exec keeps the pid the emulator's.
            var start = new ProcessStartInfo("/bin/sh", string.Format(
                "-c 'exec \"$0\" serve --data-dir \"$1\" --config \"$2\" --bind 127.0.0.1 --mqtt-port 0 " +
                "--https-port 0 --admin-port 0 --ports-file \"$3\" >\"$4\" 2>&1' '{0}' '{1}' '{2}' '{3}' '{4}'",
                binary, dataDir, configPath, portsPath, logPath)) { UseShellExecute = false };
            process = Process.Start(start);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            string ports = null;
            while (ports == null)
            {
                if (File.Exists(portsPath))
                {
                    ports = File.ReadAllText(portsPath);
                }
                else if (process.HasExited)
                {
                    string log = File.Exists(logPath) ? File.ReadAllText(logPath) : "";
                    Dispose();
                    throw new InvalidOperationException("dps-emulator exited; log:\n" + log);
                }
                else if (DateTime.UtcNow > deadline)
                {
                    Dispose();
                    throw new InvalidOperationException("dps-emulator wrote no ports file in 30 s");
                }
                else
                {
                    Thread.Sleep(20);
                }
            }
            Match mqtt = Regex.Match(ports, "\"mqtt\"\\s*:\\s*(\\d+)");
            if (!mqtt.Success)
            {
                Dispose();
                throw new InvalidOperationException("no mqtt port in " + ports);
            }
            MqttHost = "localhost:" + mqtt.Groups[1].Value;
            Match https = Regex.Match(ports, "\"https\"\\s*:\\s*(\\d+)");
            HttpsHost = https.Success ? "localhost:" + https.Groups[1].Value : null;
            var caPathCommand = Process.Start(new ProcessStartInfo(binary, "ca-path --data-dir \"" + dataDir + "\"")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true
            });
            CaPath = caPathCommand.StandardOutput.ReadToEnd().Trim();
            caPathCommand.WaitForExit();
            CaPem = File.ReadAllText(CaPath);
        }

        public void Dispose()
        {
            if (process != null && !process.HasExited)
            {
                // SIGTERM for a clean shutdown; Process.Kill would send SIGKILL.
                using (var kill = Process.Start(new ProcessStartInfo("kill", "-TERM " + process.Id) { UseShellExecute = false }))
                {
                    kill.WaitForExit();
                }
                if (!process.WaitForExit(10000)) process.Kill();
            }
            try
            {
                Directory.Delete(Dir, true);
            }
            catch (IOException)
            {
                // a temp dir left behind is not worth failing the tests for
            }
        }
    }
}
