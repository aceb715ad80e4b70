import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { serveMetrics } from '../../src/metrics/server';
import { ownListeners } from '../../src/metrics/sockets';

// Its own file: the SDK's Runtime is installed once per process.
test('the SDK\'s exporter binds a port of its own choosing in one bind (127.0.0.1:0), held by this process and read on each scrape', async () => {
  const installs: RuntimeOptions[] = [];
  const install = Runtime.install.bind(Runtime);
  Runtime.install = (options: RuntimeOptions) => (installs.push(options), install(options));
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = s.address() as AddressInfo;
      s.close(() => res(free));
    });
  });
  const endpoint = await serveMetrics(`127.0.0.1:${port}`);
  try {
    const metrics = installs[0]?.telemetryOptions?.metrics;
    assert.ok(metrics && 'prometheus' in metrics, 'no Prometheus exporter installed');
    // A port picked, released and handed to the SDK could be taken by another account in between.
    assert.equal(metrics.prometheus.bindAddress, '127.0.0.1:0');
    const endpointPort = Number(new URL(endpoint.url).port);
    const sdkListeners = (await ownListeners()).filter((l) => l.address === '127.0.0.1' && l.port !== endpointPort);
    assert.equal(sdkListeners.length, 1, JSON.stringify(sdkListeners));
    const text = await (await fetch(endpoint.url)).text();
    assert.match(text, /^stanzactl_sdk_metrics_up 1$/m);
  } finally {
    await endpoint.close();
  }
});
