// Registers a device with a symmetric key and prints its hub and device id.
//
// Build and run (Mono):  mcs -r:Libprov.dll Register.cs && mono Register.exe
// (libprov_csharp.so next to Libprov.dll or on LD_LIBRARY_PATH; libprov.so.1 installed)
// Environment (the same names as the Python SDK sample):
//   PROVISIONING_HOST             e.g. global.azure-devices-provisioning.net,
//                                 or localhost:<mqtt port> for dps-emulator
//   PROVISIONING_IDSCOPE          the DPS id scope
//   PROVISIONING_REGISTRATION_ID  the registration id
//   PROVISIONING_SYMMETRIC_KEY    the device key (Base64)
//   PROVISIONING_SERVER_CERT      optional: a PEM file to trust (dps-emulator:
//                                 `dps-emulator ca-path --data-dir DIR`)
using System;
using System.IO;
using Libprov;

public static class Register
{
    private static string Required(string name)
    {
        string value = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(value))
        {
            Console.Error.WriteLine(name + " is not set");
            Environment.Exit(2);
        }
        return value;
    }

    public static int Main()
    {
        var options = new ProvisioningClientOptions();
        string certPath = Environment.GetEnvironmentVariable("PROVISIONING_SERVER_CERT");
        if (!string.IsNullOrEmpty(certPath)) options.ServerVerificationCert = File.ReadAllText(certPath);
        try
        {
            using (var client = ProvisioningDeviceClient.CreateFromSymmetricKey(Required("PROVISIONING_HOST"),
                Required("PROVISIONING_REGISTRATION_ID"), Required("PROVISIONING_IDSCOPE"),
                Required("PROVISIONING_SYMMETRIC_KEY"), options))
            {
                // Mono's mcs has no async Main; elsewhere: await client.RegisterAsync().
                RegistrationResult result = client.RegisterAsync().GetAwaiter().GetResult();
                Console.WriteLine("assigned hub: " + result.AssignedHub);
                Console.WriteLine("device id: " + result.DeviceId);
                return 0;
            }
        }
        catch (ProvisioningException e)
        {
            Console.Error.WriteLine("registration failed: " + e.Message);
            return 1;
        }
    }
}
