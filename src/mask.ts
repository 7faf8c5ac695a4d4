/**
 * Secret masking. Everything cesar prints (logs, errors, status, verify) passes through maskSecrets,
 * which hides URL passwords, key=value secrets and every value registered with registerSecret.
 */
const knownSecrets = new Set<string>();

/** Remember a secret value (a password, a token) so that it is masked wherever it appears. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 3) knownSecrets.add(value);
}

const urlPassword = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@\s/]+)(@)/gi;
const keyValueSecret = /((?:password|passwd|secret|token|api_?key)["']?\s*[:=]\s*["']?)([^"'\s,&;}]+)/gi;

export function maskSecrets(text: string): string {
  let masked = text.replace(urlPassword, '$1***$3').replace(keyValueSecret, '$1***');
  for (const secret of knownSecrets) {
    if (masked.includes(secret)) masked = masked.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && masked.includes(encoded)) masked = masked.split(encoded).join('***');
  }
  return masked;
}

/** A database URL fit for printing: the password replaced by ***. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/password|secret|token|key/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString().replace('%2A%2A%2A', '***');
  } catch {
    return maskSecrets(url);
  }
}
