/**
 * pgBackRest options whose values are secrets: cipher passes, S3/Azure/GCS keys and tokens, SFTP
 * key passphrases, and any option named like one (`*-pass`, `*-passphrase`, `*-password`, `*-key`,
 * `*-key-secret`, `*-secret`, `*-token`), whatever its index (repo2-cipher-pass too). The one list:
 * the spec takes them only as references, and no message, detail or log line shows their value.
 * Options naming a key *file* (`*-key-file`) or a key's kind (`*-key-type`) are no secrets.
 */
const SECRET_OPTION = /(^|-)(pass|passphrase|password|key|key-secret|secret|token)$/;

export function isSecretOption(name: string): boolean {
  return SECRET_OPTION.test(name);
}

/** What a message may show of an option's value: the value, or a mask when the option is a secret. */
export function shownValue(name: string, value: string): string {
  return isSecretOption(name) ? '(a secret, not shown)' : value;
}
