import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';

/** Where `stanzactl server` (the embedded dev server) listens: the target when nothing is set. */
const DEFAULT_ADDRESS = '127.0.0.1:7233';
const DEFAULT_NAMESPACE = 'default';

/**
 * The Temporal server the worker and the CLI talk to, read from Temporal's standard environment
 * configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
 * TEMPORAL_PROFILE in TEMPORAL_CONFIG_FILE or ~/.config/temporalio/temporal.toml) by
 * @temporalio/envconfig, as the temporal CLI reads it.
 */
export interface TemporalTarget {
  readonly address: string;
  readonly namespace: string;
  /** For NativeConnection.connect (worker and CLI alike); holds the secrets. */
  readonly connectionOptions: NativeConnectionOptions & { readonly address: string };
  readonly tls: boolean;
  /** What logs and errors show: never the API key, a key file's path or contents, a header value. */
  readonly description: string;
  readonly profile: ClientConfigProfile;
}

/** The connection settings themselves are wrong (a profile, a file, a half-given certificate pair). */
export class TemporalSettingsError extends Error {
  override readonly name = 'TemporalSettingsError';
}

function source(s: ConfigDataSource | undefined): string | undefined {
  if (!s) return undefined;
  return 'path' in s ? s.path : 'inline data';
}

function describe(p: ClientConfigProfile, address: string, namespace: string, tls: boolean, env: Record<string, string>): string {
  const parts = [`${address}, namespace ${namespace}`];
  if (tls) {
    const t = p.tls ?? {};
    const details = [
      `CA ${source(t.serverCACert) ?? "the system's"}`,
      t.clientCert ? `client certificate ${source(t.clientCert)}` : 'no client certificate',
      ...(t.serverName ? [`server name ${t.serverName}`] : []),
    ];
    parts.push(`TLS (${details.join(', ')})`);
  } else {
    parts.push('plaintext');
  }
  if (p.apiKey !== undefined) parts.push('API key set');
  const headers = Object.keys(p.grpcMeta ?? {});
  if (headers.length) parts.push(`gRPC headers ${headers.join(', ')}`);
  if (env.TEMPORAL_PROFILE) parts.push(`profile ${env.TEMPORAL_PROFILE}${env.TEMPORAL_CONFIG_FILE ? ` in ${env.TEMPORAL_CONFIG_FILE}` : ''}`);
  else if (env.TEMPORAL_CONFIG_FILE) parts.push(`config file ${env.TEMPORAL_CONFIG_FILE}`);
  return parts.join('; ');
}

function loadProfile(env: Record<string, string>): ClientConfigProfile {
  try {
    return loadClientConfigProfile({ overrideEnvVars: env });
  } catch (e) {
    const file = env.TEMPORAL_CONFIG_FILE ?? 'temporalio/temporal.toml in $XDG_CONFIG_HOME or ~/.config';
    const profile = env.TEMPORAL_PROFILE ? `TEMPORAL_PROFILE ${env.TEMPORAL_PROFILE} in ` : '';
    throw new TemporalSettingsError(`Temporal connection settings (${profile}${file}): ${(e as Error).message}`);
  }
}

/**
 * An empty variable counts as unset (compose files pass `${VAR:-}` through); only an empty
 * TEMPORAL_GRPC_META_* keeps its envconfig meaning of removing the profile's header.
 */
function setOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && (e[1] !== '' || e[0].startsWith('TEMPORAL_GRPC_META_'))));
}

/** Reads the settings; certificate files are read here, so a missing one fails before connecting. */
export function temporalTarget(environment: Record<string, string | undefined> = process.env): TemporalTarget {
  const env = setOnly(environment);
  if (env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === 'true' || env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === '1') {
    throw new TemporalSettingsError('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported by the TypeScript SDK stanzactl runs on: ' +
      "set TEMPORAL_TLS_SERVER_NAME to the name in the server's certificate instead");
  }
  const profile = loadProfile(env);
  const t = profile.tls;
  if (t && !t.disabled && !t.clientCert !== !t.clientKey) {
    throw new TemporalSettingsError(`Temporal connection settings: a client ${t.clientCert ? 'certificate without its key' : 'key without its certificate'}: ` +
      'set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or the profile\'s tls.client_cert_path and tls.client_key_path)');
  }
  let options: ReturnType<typeof toClientOptions>;
  try {
    options = toClientOptions(profile);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TemporalSettingsError(`Temporal connection settings: cannot read a TLS file: ${err.code === 'ENOENT' ? `${err.path}: no such file` : err.message}`);
  }
  const address = profile.address ?? DEFAULT_ADDRESS;
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const tls = Boolean(options.connectionOptions.tls);
  // envconfig turns TLS on for an API key unless told not to; told not to, the key would cross the network readable.
  if (profile.apiKey !== undefined && !tls) {
    throw new TemporalSettingsError('Temporal connection settings: an API key (TEMPORAL_API_KEY or the profile\'s api_key) with TLS turned off ' +
      '(TEMPORAL_TLS=false or the profile\'s tls.disabled) would be sent in plaintext: turn TLS on, or remove the API key');
  }
  return {
    address,
    namespace,
    connectionOptions: { ...options.connectionOptions, address },
    tls,
    description: describe(profile, address, namespace, tls, env),
    profile,
  };
}

/** The server could not be reached or refused this client: the message names the address and the likely cause. */
export class TemporalConnectError extends Error {
  override readonly name = 'TemporalConnectError';
}

/**
 * Why a connection failed, in words an operator can act on, from the error the SDK's native
 * (Rust) connection raises; the raw text follows in brackets for whoever knows gRPC.
 */
export function explainConnectError(target: TemporalTarget, e: unknown): string {
  const raw = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown }).code;
  const tls = target.profile.tls ?? {};
  const ca = tls.serverCACert ? `the CA in ${source(tls.serverCACert)} (TEMPORAL_TLS_SERVER_CA_CERT_PATH)` : "the system's CAs (no TEMPORAL_TLS_SERVER_CA_CERT_PATH set)";
  const cause = ((): string => {
    if (code === 5 && /namespace/i.test(raw)) return `namespace ${target.namespace} does not exist there (TEMPORAL_NAMESPACE)`;
    if (code === 16 || code === 7) return `the server refused this client's credentials (${target.profile.apiKey !== undefined ? 'the API key in TEMPORAL_API_KEY' : 'no API key is set: TEMPORAL_API_KEY'}) for namespace ${target.namespace}`;
    if (/NotValidForName/.test(raw)) return `the server's certificate is not issued for the name ${tls.serverName ? `${tls.serverName} (TEMPORAL_TLS_SERVER_NAME)` : "in the address: set TEMPORAL_TLS_SERVER_NAME to the name in the server's certificate"}`;
    if (/InvalidCertificate\(Expired|CertExpired/.test(raw)) return "the server's certificate has expired";
    if (/InvalidCertificate|UnknownIssuer|BadSignature/.test(raw)) return `the server's certificate is not signed by ${ca}: wrong CA file, or not the server you meant`;
    // The server's TLS alert races the client's first write: the same refusal may arrive as a closed stream.
    const closed = /BrokenPipe|broken pipe|ConnectionReset|connection reset|UnexpectedEof|unexpected eof|connection closed/i.test(raw);
    const noCert = 'a client certificate and none is set: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH';
    const badCert = `this client's certificate${tls.clientCert ? ` ${source(tls.clientCert)}` : ''}: it is not signed by a CA the server trusts, or expired, or revoked`;
    if (/CertificateRequired/.test(raw)) return `the server requires ${noCert}`;
    if (/alert: (UnknownCA|BadCertificate|CertificateUnknown|CertificateExpired|CertificateRevoked|AccessDenied|HandshakeFailure)/.test(raw)) return `the server rejected ${badCert}`;
    if (closed && target.tls) return tls.clientCert ? `the server closed the TLS connection: it likely rejected ${badCert}` : `the server closed the TLS connection: it likely requires ${noCert}`;
    if (closed) return 'it closed the connection: if it expects TLS, set TEMPORAL_TLS=true (with TEMPORAL_TLS_SERVER_CA_CERT_PATH and a client certificate as it requires)';
    if (/InvalidContentType|CorruptMessage|WrongVersion|wrong version number/i.test(raw)) return 'it does not speak TLS on that port: unset TEMPORAL_TLS and the TEMPORAL_TLS_* settings, or use its TLS port';
    if (/H2NotNegotiated/.test(raw)) return 'its TLS endpoint does not offer HTTP/2 (ALPN h2), which gRPC needs: a TLS terminator in front of Temporal must negotiate h2';
    if (/ConnectionRefused|Connection refused/.test(raw)) return 'nothing accepts connections there (is the server running? the embedded dev server starts with "stanzactl server")';
    if (/dns error|failed to lookup address/i.test(raw)) return 'its host name does not resolve';
    if (/timed out|deadline/i.test(raw)) return 'no answer in time (a firewall, or the wrong host or port)';
    return 'the connection failed';
  })();
  return `cannot reach Temporal at ${target.description}: ${cause} [${raw}]`;
}

/**
 * The connection the worker and the CLI both use (the Client takes a NativeConnection too), so
 * both fail alike: at once, with the TLS or gRPC cause, and only after the namespace was found.
 */
export async function connectTemporal(target: TemporalTarget): Promise<NativeConnection> {
  let connection: NativeConnection | undefined;
  try {
    connection = await NativeConnection.connect(target.connectionOptions);
    await connection.workflowService.describeNamespace({ namespace: target.namespace });
    return connection;
  } catch (e) {
    await connection?.close();
    throw new TemporalConnectError(explainConnectError(target, e));
  }
}
