/** Every string in a value, and every byte field (Temporal payloads) read as UTF-8 text. */
function texts(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) texts(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) texts(v, out);
  return out;
}

/** Whether `secret` (as it is, or base64) is anywhere in `value`: a workflow history, a log. */
export function leaks(value: unknown, secret: string): boolean {
  const forms = [secret, Buffer.from(secret).toString('base64')];
  return texts(value).some((t) => forms.some((f) => t.includes(f)));
}
