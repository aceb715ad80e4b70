import { createHash, createHmac, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * SCRAM-SHA-256 verifiers as PostgreSQL stores them in pg_authid.rolpassword (RFC 5802/7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64. Computing the verifier
 * here, as libpq's PQencryptPasswordConn does for psql's \password, means the server (its log,
 * pg_stat_statements, a failed statement's error line) only ever sees the verifier.
 */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** libpq's defaults (scram_sha_256_iterations, SCRAM_DEFAULT_SALT_LEN). */
const SCRAM_ITERATIONS = 4096;
export const SCRAM_SALT_BYTES = 16;

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

// Off the event loop, so an activity keeps heartbeating while it hashes.
const pbkdf2Async = promisify(pbkdf2);

// A stored verifier with more rounds than this is not checked (treated as different and replaced):
// the worker must not spend minutes on a value read from a server.
const MAX_CHECKED_ITERATIONS = 1_000_000;

async function keys(password: string, salt: Buffer, iterations: number): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  return { storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(), serverKey: hmac(salted, 'Server Key') };
}

export async function scramVerifier(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): Promise<string> {
  const { storedKey, serverKey } = await keys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const B64 = '[A-Za-z0-9+/]+={0,2}';
const VERIFIER = new RegExp(`^SCRAM-SHA-256\\$([1-9][0-9]{0,9}):(${B64})\\$(${B64}):(${B64})$`);

/** A stored rolpassword as a SCRAM verifier, or undefined (NULL, md5, anything else). */
export function parseScramVerifier(text: string): ScramVerifier | undefined {
  const m = VERIFIER.exec(text);
  if (!m) return undefined;
  const v = { iterations: Number(m[1]), salt: Buffer.from(m[2], 'base64'), storedKey: Buffer.from(m[3], 'base64'), serverKey: Buffer.from(m[4], 'base64') };
  return v.storedKey.length === 32 && v.serverKey.length === 32 && v.salt.length > 0 ? v : undefined;
}

/** Whether `stored` (a rolpassword) is a SCRAM verifier of `password`, using its own salt and iterations. */
export async function scramMatches(stored: string, password: string): Promise<boolean> {
  const v = parseScramVerifier(stored);
  if (!v || v.iterations > MAX_CHECKED_ITERATIONS) return false;
  const { storedKey, serverKey } = await keys(password, v.salt, v.iterations);
  return timingSafeEqual(storedKey, v.storedKey) && timingSafeEqual(serverKey, v.serverKey);
}
