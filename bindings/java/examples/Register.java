// Registers a device with a symmetric key and prints its hub and device id.
//
// Run (Java 11+ runs a single source file):
//   java -cp libprov-1.0.0.jar -Dorg.libprov.native.path=/path/to/libprov_java.so Register.java
// Environment (the same names as the Python SDK sample):
//   PROVISIONING_HOST             e.g. global.azure-devices-provisioning.net,
//                                 or localhost:<mqtt port> for dps-emulator
//   PROVISIONING_IDSCOPE          the DPS id scope
//   PROVISIONING_REGISTRATION_ID  the registration id
//   PROVISIONING_SYMMETRIC_KEY    the device key (Base64)
//   PROVISIONING_SERVER_CERT      optional: a PEM file to trust (dps-emulator:
//                                 `dps-emulator ca-path --data-dir DIR`)
import java.nio.file.Files;
import java.nio.file.Path;
import org.libprov.ProvisioningDeviceClient;
import org.libprov.ProvisioningException;
import org.libprov.RegistrationResult;

public class Register {
  private static String required(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      System.err.println(name + " is not set");
      System.exit(2);
    }
    return value;
  }

  public static void main(String[] args) throws Exception {
    try (ProvisioningDeviceClient client =
        ProvisioningDeviceClient.createFromSymmetricKey(
            required("PROVISIONING_HOST"),
            required("PROVISIONING_REGISTRATION_ID"),
            required("PROVISIONING_IDSCOPE"),
            required("PROVISIONING_SYMMETRIC_KEY"))) {
      String certPath = System.getenv("PROVISIONING_SERVER_CERT");
      if (certPath != null && !certPath.isEmpty()) {
        client.setServerVerificationCert(Files.readString(Path.of(certPath)));
      }
      RegistrationResult result = client.register();
      System.out.println("assigned hub: " + result.getAssignedHub());
      System.out.println("device id: " + result.getDeviceId());
    } catch (ProvisioningException e) {
      System.err.println("registration failed: " + e.getMessage());
      System.exit(1);
    }
  }
}
