package org.libprov;

/**
 * The service rejected the credential (e.g. a wrong key: error code 401xxx), or the key cannot be
 * used. The Python SDK's {@code CredentialError}.
 */
public class CredentialException extends ProvisioningException {
  private static final long serialVersionUID = 1L;

  CredentialException(NativeError error) {
    super(error);
  }
}
