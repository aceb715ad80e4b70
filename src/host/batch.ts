import { program } from '../paths';
import { Secret, script, toShellLine, type Command } from '../shell/command';
import type { HostAddress, Remote, RunOptions, RunResult } from '../remote/types';

const RUN_ALL = program('host', 'run-all');

interface Queued {
  readonly command: Command;
  readonly resolve: (r: RunResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * A Remote that holds back the commands sent to one host until flush(), then sends them as one
 * command (each channel costs the host a session, and on a sudo login a PAM session too). What
 * comes after the flush, to another host, with stdin or with options of its own goes on at once.
 */
export class BatchRemote implements Remote {
  private queue: Queued[] | undefined = [];

  constructor(private readonly remote: Remote, private readonly host: HostAddress) {}

  run(host: HostAddress, command: Command, options?: RunOptions): Promise<RunResult> {
    const queue = this.queue;
    if (queue === undefined || host.host !== this.host.host || command.stdin !== undefined || options !== undefined) return this.remote.run(host, command, options);
    return new Promise((resolve, reject) => queue.push({ command, resolve, reject }));
  }

  /** Sends what was held back; each caller gets its own command's result or the batch's error. */
  async flush(): Promise<void> {
    const queue = this.queue ?? [];
    this.queue = undefined;
    if (queue.length === 0) return;
    if (queue.length === 1) return this.remote.run(this.host, queue[0].command).then(queue[0].resolve, queue[0].reject);
    try {
      const results = parseRunAll(await this.remote.run(this.host, runAll(queue.map((q) => q.command))), queue.length);
      queue.forEach((q, i) => q.resolve(results[i]));
    } catch (e) {
      for (const q of queue) q.reject(e);
    }
  }

  close(): Promise<void> {
    return this.remote.close();
  }
}

/** The commands as one: each line as root renders it (the batch runs as root), a secret one masked in descriptions. */
function runAll(commands: readonly Command[]): Command {
  const lines = commands.map((c) => (c.argv.some((a) => a instanceof Secret) ? new Secret(toShellLine(c, 'root')) : toShellLine(c, 'root')));
  return script(RUN_ALL, ...lines);
}

function parseRunAll(r: RunResult, count: number): RunResult[] {
  const lines = r.stdout.split('\n').slice(0, count);
  if (r.code !== 0 || lines.length < count) throw new Error(`a batch of ${count} commands ended after ${lines.filter(Boolean).length} (exit ${r.code}): ${r.stderr.trim()}`);
  return lines.map((l) => {
    const [code, out, err] = l.split(' ');
    const text = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
    return { code: Number(code), stdout: text(out), stderr: text(err) };
  });
}

/**
 * The commands of a batch, each as describe() renders it (a secret one masked), with its own
 * result: for what looks at single commands below the batching (the fault hook of the tests).
 * Undefined for a command that is no batch.
 */
export function batchParts(c: Command, r: RunResult): { text: string; result: RunResult }[] | undefined {
  if (c.argv[2] !== RUN_ALL) return undefined;
  const texts = c.argv.slice(4).map(String);
  try {
    const results = parseRunAll(r, texts.length);
    return texts.map((text, i) => ({ text, result: results[i] }));
  } catch {
    return []; // a batch that failed as a whole: none of its commands ran to an end of its own
  }
}
