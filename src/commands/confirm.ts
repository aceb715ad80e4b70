import { createInterface } from 'node:readline/promises';

/** Asks `question` on the terminal: true when the DBA types `expected` (the name of what is changed). */
export async function typed(question: string, expected: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim() === expected;
  } finally {
    rl.close();
  }
}
