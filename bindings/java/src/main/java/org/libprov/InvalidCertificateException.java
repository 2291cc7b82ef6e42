package org.libprov;

/**
 * A local X.509 credential or CSR is unusable: a file that cannot be read or parsed, a wrong pass
 * phrase, a key that does not match the certificate, a chain out of order, a certificate outside
 * its validity period, or a subject CN that is not the registration id. The message names the file
 * or certificate and the problem.
 */
public class InvalidCertificateException extends ProvisioningException {
  private static final long serialVersionUID = 1L;

  InvalidCertificateException(NativeError error) {
    super(error);
  }
}
