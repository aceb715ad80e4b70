import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explainConnectError, temporalTarget, TemporalSettingsError, type TemporalTarget } from '../../src/connection';

// Real files: envconfig reads the TOML file and the certificate files itself.
const dir = mkdtempSync(join(tmpdir(), 'stanzactl-connection-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const ca = file('ca.pem', 'CA CERT\n');
const crt = file('client.pem', 'CLIENT CERT\n');
const key = file('client.key', 'PRIVATE KEY 0xSECRET\n');
const toml = file('temporal.toml', `
[profile.default]
address = "default.example:7233"

[profile.prod]
address = "temporal.example:7233"
namespace = "dba"

[profile.prod.tls]
server_ca_cert_path = "${ca}"
client_cert_path = "${crt}"
client_key_path = "${key}"
server_name = "temporal.internal"

[profile.prod.grpc_meta]
x-team-token = "TOKEN-VALUE"
`);
test.after(() => rmSync(dir, { recursive: true, force: true }));

const text = (data: Uint8Array | undefined) => (data ? Buffer.from(data).toString() : undefined);
const tlsOf = (t: TemporalTarget) => t.connectionOptions.tls as { serverNameOverride?: string; serverRootCACertificate?: Uint8Array; clientCertPair?: { crt: Uint8Array; key: Uint8Array } };

test('nothing set: the embedded dev server, plaintext, namespace default', () => {
  // No HOME either: no ~/.config/temporalio/temporal.toml can leak in from the machine.
  const t = temporalTarget({});
  assert.equal(t.address, '127.0.0.1:7233');
  assert.equal(t.namespace, 'default');
  assert.equal(t.tls, false);
  assert.equal(t.connectionOptions.address, '127.0.0.1:7233');
  assert.equal(t.description, '127.0.0.1:7233, namespace default; plaintext');
});

test('TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE alone', () => {
  const t = temporalTarget({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'ops' });
  assert.deepEqual([t.address, t.namespace, t.tls], ['temporal:7233', 'ops', false]);
});

test('a TOML profile by TEMPORAL_PROFILE from TEMPORAL_CONFIG_FILE: address, namespace, TLS files, server name, headers', () => {
  const t = temporalTarget({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' });
  assert.deepEqual([t.address, t.namespace, t.tls], ['temporal.example:7233', 'dba', true]);
  const tls = tlsOf(t);
  assert.equal(tls.serverNameOverride, 'temporal.internal');
  assert.equal(text(tls.serverRootCACertificate), 'CA CERT\n');
  assert.equal(text(tls.clientCertPair?.crt), 'CLIENT CERT\n');
  assert.equal(text(tls.clientCertPair?.key), 'PRIVATE KEY 0xSECRET\n');
  assert.deepEqual(t.connectionOptions.metadata, { 'x-team-token': 'TOKEN-VALUE' });
  assert.equal(t.description,
    `temporal.example:7233, namespace dba; TLS (CA ${ca}, client certificate ${crt}, server name temporal.internal); gRPC headers x-team-token; profile prod in ${toml}`);
});

test('environment variables override the profile, field by field, as the temporal CLI does', () => {
  const t = temporalTarget({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'other', TEMPORAL_TLS_SERVER_NAME: 'override.internal' });
  assert.deepEqual([t.address, t.namespace], ['temporal.example:7233', 'other']);
  assert.equal(tlsOf(t).serverNameOverride, 'override.internal');
  assert.equal(text(tlsOf(t).clientCertPair?.crt), 'CLIENT CERT\n', 'the profile\'s certificate stays');
  const plain = temporalTarget({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod', TEMPORAL_TLS: 'false' });
  assert.equal(plain.tls, false, 'TEMPORAL_TLS=false turns the profile\'s TLS off');
  assert.match(plain.description, /; plaintext;/);
});

test('the default profile of the default file ($XDG_CONFIG_HOME/temporalio/temporal.toml) is used without TEMPORAL_PROFILE', () => {
  const config = join(dir, 'xdg');
  mkdirSync(join(config, 'temporalio'), { recursive: true });
  writeFileSync(join(config, 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "from-xdg:7233"\n');
  assert.equal(temporalTarget({ XDG_CONFIG_HOME: config }).address, 'from-xdg:7233');
  assert.equal(temporalTarget({ XDG_CONFIG_HOME: config, TEMPORAL_ADDRESS: 'env:7233' }).address, 'env:7233');
  assert.equal(temporalTarget({ XDG_CONFIG_HOME: join(dir, 'none') }).address, '127.0.0.1:7233', 'no file: the default');
});

test('TEMPORAL_TLS_* certificate files and data from the environment; an API key turns TLS on', () => {
  const files = temporalTarget({ TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca, TEMPORAL_TLS_CLIENT_CERT_PATH: crt, TEMPORAL_TLS_CLIENT_KEY_PATH: key });
  assert.equal(text(tlsOf(files).clientCertPair?.key), 'PRIVATE KEY 0xSECRET\n');
  assert.equal(files.description, `x:7233, namespace default; TLS (CA ${ca}, client certificate ${crt})`);

  const data = temporalTarget({ TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_TLS_CLIENT_CERT_DATA: 'CERT DATA', TEMPORAL_TLS_CLIENT_KEY_DATA: 'KEY DATA 0xSECRET' });
  assert.equal(text(tlsOf(data).clientCertPair?.key), 'KEY DATA 0xSECRET');
  assert.equal(data.description, "x:7233, namespace default; TLS (CA the system's, client certificate inline data)");

  const cloud = temporalTarget({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'API-KEY-0xSECRET' });
  assert.equal(cloud.tls, true);
  assert.equal(cloud.connectionOptions.apiKey, 'API-KEY-0xSECRET');
  assert.equal(cloud.description, "ns.acct.tmprl.cloud:7233, namespace ns.acct; TLS (CA the system's, no client certificate); API key set");
  for (const t of [files, data, cloud]) assert.doesNotMatch(t.description, /SECRET|client\.key/, 'no key, key path or API key in what is logged');
});

test('bad settings fail before connecting, with what to fix', () => {
  const refused = (env: Record<string, string>, message: RegExp) => assert.throws(() => temporalTarget(env), (e: unknown) => {
    assert.ok(e instanceof TemporalSettingsError, String(e));
    assert.match(e.message, message);
    return true;
  });
  refused({ TEMPORAL_TLS_CLIENT_CERT_PATH: crt }, /a client certificate without its key: set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
  refused({ TEMPORAL_TLS_CLIENT_KEY_PATH: key }, /a client key without its certificate/);
  refused({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'missing.pem') }, /cannot read a TLS file: .*missing\.pem: no such file/);
  refused({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' }, /TEMPORAL_PROFILE staging in .*temporal\.toml\): Profile 'staging' not found/);
  refused({ TEMPORAL_CONFIG_FILE: file('bad.toml', '[profile.x\naddress=') }, /Temporal connection settings \(.*bad\.toml\)/);
  refused({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' }, /not supported by the TypeScript SDK.*TEMPORAL_TLS_SERVER_NAME/);
});

test('an API key with TLS turned off is refused: it would go out in plaintext', () => {
  const plaintextKey = /an API key \(TEMPORAL_API_KEY or the profile's api_key\) with TLS turned off \(TEMPORAL_TLS=false or the profile's tls\.disabled\) would be sent in plaintext/;
  const refusedWith = (env: Record<string, string>) => assert.throws(() => temporalTarget(env), (e: unknown) => {
    assert.ok(e instanceof TemporalSettingsError, String(e));
    assert.match(e.message, plaintextKey);
    assert.doesNotMatch(e.message, /0xSECRET/);
    return true;
  });
  refusedWith({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_API_KEY: 'API-KEY-0xSECRET', TEMPORAL_TLS: 'false' });
  refusedWith({ TEMPORAL_CONFIG_FILE: file('plain-key.toml', '[profile.default]\naddress = "t:7233"\napi_key = "API-KEY-0xSECRET"\n[profile.default.tls]\ndisabled = true\n') });
  // TLS off without a key, and a key with TLS, stay allowed.
  assert.equal(temporalTarget({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_TLS: 'false' }).tls, false);
  assert.equal(temporalTarget({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'true' }).tls, true);
});

// Raw errors as the SDK's native connection raised them against a dev server behind HAProxy
// (tests/e2e/connection-tls.test.ts runs the real ones).
test('connection failures are explained: address, settings and the likely cause, the raw error last', () => {
  const tlsTarget = temporalTarget({ TEMPORAL_ADDRESS: '127.0.0.1:7443', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca, TEMPORAL_TLS_CLIENT_CERT_PATH: crt, TEMPORAL_TLS_CLIENT_KEY_PATH: key });
  const noCert = temporalTarget({ TEMPORAL_ADDRESS: '127.0.0.1:7443', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca });
  const plain = temporalTarget({ TEMPORAL_ADDRESS: '127.0.0.1:7233' });
  const cases: [TemporalTarget, unknown, RegExp][] = [
    [tlsTarget, new Error('tonic::transport::Error(Transport, ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }))'),
      new RegExp(`the server's certificate is not signed by the CA in ${ca} \\(TEMPORAL_TLS_SERVER_CA_CERT_PATH\\)`)],
    [noCert, new Error('Failed to call GetSystemInfo: code: \'Unknown error\', message: "transport error", source: tonic::transport::Error(Transport, hyper::Error(Io, Custom { kind: InvalidData, error: "received fatal alert: CertificateRequired" }))'),
      /the server requires a client certificate and none is set: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/],
    [noCert, new Error('Failed to call GetSystemInfo: code: \'Unknown error\', message: "transport error", source: tonic::transport::Error(Transport, hyper::Error(Io, Custom { kind: BrokenPipe, error: "stream closed because of a broken pipe" }))'),
      /the server closed the TLS connection: it likely requires a client certificate and none is set/],
    [tlsTarget, new Error('Failed to call GetSystemInfo: code: \'The operation was cancelled\', message: "operation was canceled", source: tonic::transport::Error(Transport, hyper::Error(Canceled, "connection closed"))'),
      new RegExp(`the server closed the TLS connection: it likely rejected this client's certificate ${crt}`)],
    [tlsTarget, new Error('... hyper::Error(Io, Custom { kind: InvalidData, error: "received fatal alert: UnknownCA" }))'),
      new RegExp(`the server rejected this client's certificate ${crt}: it is not signed by a CA the server trusts`)],
    [plain, new Error('... hyper::Error(Io, Custom { kind: BrokenPipe, error: "stream closed because of a broken pipe" }))'), /it closed the connection: if it expects TLS, set TEMPORAL_TLS=true/],
    [noCert, new Error('tonic::transport::Error(Transport, ConnectError(Custom { kind: InvalidData, error: InvalidMessage(InvalidContentType) }))'), /it does not speak TLS on that port/],
    [tlsTarget, new Error('tonic::transport::Error(Transport, ConnectError(H2NotNegotiated))'), /does not offer HTTP\/2 \(ALPN h2\)/],
    [plain, new Error('tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", 127.0.0.1:17999, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })))'),
      /nothing accepts connections there/],
    [tlsTarget, new Error('... InvalidCertificate(NotValidForNameContext { expected: DnsName("127.0.0.1") ...'), /not issued for the name in the address: set TEMPORAL_TLS_SERVER_NAME/],
    [plain, Object.assign(new Error('Namespace nope is not found.'), { code: 5 }), /namespace default does not exist there \(TEMPORAL_NAMESPACE\)/],
    [plain, Object.assign(new Error('Request unauthorized.'), { code: 16 }), /refused this client's credentials \(no API key is set: TEMPORAL_API_KEY\)/],
    [plain, new Error('something new'), /: the connection failed \[something new\]$/],
  ];
  for (const [target, error, cause] of cases) {
    const m = explainConnectError(target, error);
    assert.ok(m.startsWith(`cannot reach Temporal at ${target.description}: `), m);
    assert.match(m, cause);
    assert.ok(m.endsWith(`[${(error as Error).message}]`), m);
  }
});

test('an empty variable counts as unset, as compose passes ${VAR:-}', () => {
  const t = temporalTarget({ TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '', TEMPORAL_API_KEY: '', TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '', TEMPORAL_PROFILE: '', TEMPORAL_CONFIG_FILE: '' });
  assert.equal(t.description, '127.0.0.1:7233, namespace default; plaintext');
});
