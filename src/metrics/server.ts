import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from '../render/prometheus';
import { renderMetrics } from '../status/gauges';
import { Observations } from '../status/observations';
import { installSdkExporter, type SdkExporter } from './sdk-exporter';

/**
 * The worker's one Prometheus endpoint, http://ADDRESS/metrics: stanzactl's gauges, rendered at
 * scrape time from what this worker observed (ages are as of the scrape), followed by the
 * Temporal SDK's own runtime metrics (temporal_*: task slots, pollers, latencies), read on every
 * scrape from the SDK's exporter on loopback (sdk-exporter.ts), so Prometheus needs a single target
 * per worker.
 */

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port` or `[ipv6]:port`, as STANZACTL_METRICS_ADDRESS and --metrics-address take it. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65_535) throw new Error(`metrics address ${JSON.stringify(text)}: expected host:port (e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464)`);
  return { host: m[1] ?? m[2], port };
}

export interface MetricsEndpoint {
  readonly url: string;
  /** What the worker's activities feed (src/metrics/recorder.ts). */
  readonly observations: Observations;
  close(): Promise<void>;
}

/**
 * Starts the endpoint. Must run before the worker's first Temporal connection: the SDK's Runtime
 * takes its telemetry settings once, when it is installed.
 */
export async function serveMetrics(address: string, clock: () => number = Date.now): Promise<MetricsEndpoint> {
  const { host, port } = parseListenAddress(address);
  const observations = new Observations();
  let sdk: SdkExporter | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const text = await sdk?.read();
    const up = renderExposition([{ name: 'stanzactl_sdk_metrics_up', help: "1 when the Temporal SDK's runtime metrics could be read for this scrape", type: 'gauge', samples: [{ labels: {}, value: text === undefined ? 0 : 1 }] }]);
    res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : renderMetrics(observations, clock()) + up + (text ?? ''));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${e instanceof Error ? e.message : String(e)}\n`);
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', (e) => rej(new Error(`cannot serve metrics on ${address}: ${e.message}`)));
    server.listen(port, host, () => res());
  });
  // Only once the endpoint is up: a bad address must fail the worker before anything else starts.
  try {
    sdk = await installSdkExporter();
  } catch (e) {
    await new Promise((res) => server.close(() => res(undefined)));
    throw e;
  }
  const bound = server.address() as AddressInfo;
  return {
    url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}/metrics`,
    observations,
    close: () => new Promise((res) => server.close(() => res())),
  };
}
