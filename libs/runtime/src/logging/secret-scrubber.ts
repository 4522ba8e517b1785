/** What a secret is replaced with, wherever it is found. */
export const REDACTED = '[REDACTED]';

/** Configuration keys whose values are secrets (VAST_API_KEY, TELEGRAM_BOT_TOKEN, AWS_SECRET_ACCESS_KEY, NATS_PASSWORD...). */
const SECRET_KEY = /(secret|token|passw(or)?d|api_?key|private_?key|credential|nkey_?seed)/i;

/** Shorter values are not scrubbed by value: replacing every "abc" would garble the log and hide nothing. */
const MIN_SECRET_LENGTH = 6;

/** `scheme://user:password@` anywhere in a text; the user stays, the password goes. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/"'<>\\]*):([^\s@/"'<>\\]+)@/gi;

/** A Telegram bot token in a Bot API URL (`/bot123456:ABC.../sendMessage`), and one standing alone. */
const TELEGRAM_URL_TOKEN = /\/bot\d+:[A-Za-z0-9_-]+/g;
const TELEGRAM_TOKEN = /\b\d{6,12}:[A-Za-z0-9_-]{30,}\b/g;

/** A secret in a URL's query string (`?api_key=...`, `&token=...`). */
const QUERY_SECRET = /([?&](?:api[_-]?key|apikey|access[_-]?token|token|secret|password|key|sig|signature|x-amz-signature|x-amz-security-token|x-amz-credential)=)[^&\s"'#\\]+/gi;

/** A private key in PEM form, its line breaks raw or JSON-escaped. */
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;

/**
 * A JSON string field whose key names a secret, at any depth of a serialized line: the logger's
 * redaction knows exact keys to a bounded depth only, this catches the same keys nested deeper.
 */
const SECRET_JSON_FIELD = /"([^"\\]*(?:secret|token|passw(?:or)?d|api[_-]?key|private[_-]?key|nkey[_-]?seed|authorization|cookie|credential)[^"\\]*)":"(?:[^"\\]|\\.)*"/gi;

/**
 * Removes secrets from text about to be written: the configured secret values (in every form they
 * may take in a log line: as is, URL-encoded, JSON-escaped), passwords in URLs, Telegram bot tokens,
 * and the values of secret-named JSON fields. It works on the finished line, so nothing a logger
 * was handed (a message, an error's stack, a nested object) gets past it.
 */
export class SecretScrubber {
  private values: string[] = [];

  constructor(values: Iterable<string | undefined | null> = []) {
    this.add(...values);
  }

  add(...values: (string | undefined | null)[]): this {
    const next = new Set(this.values);
    for (const v of values) {
      if (typeof v !== 'string' || v.length < MIN_SECRET_LENGTH) continue;
      next.add(v);
      next.add(encodeURIComponent(v));
      next.add(JSON.stringify(v).slice(1, -1));
      try {
        next.add(decodeURIComponent(v));
      } catch {
        // not URL-encoded
      }
    }
    // Longest first, so a secret containing another is replaced whole.
    this.values = [...next].filter((v) => v.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
    return this;
  }

  get size(): number {
    return this.values.length;
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out
      .replace(PEM_PRIVATE_KEY, REDACTED)
      .replace(URL_CREDENTIALS, '$1$2:***@')
      .replace(QUERY_SECRET, '$1***')
      .replace(TELEGRAM_URL_TOKEN, '/bot***')
      .replace(TELEGRAM_TOKEN, REDACTED)
      .replace(SECRET_JSON_FIELD, `"$1":"${REDACTED}"`);
  }
}

/**
 * The secret values in a service's configuration (or an environment): the values of secret-named
 * keys, the credentials inside URL values (DATABASE_URL's password, a NATS URL's user:password or
 * token), and secret-named `NAME=value` entries of lists (VAST_AGENT_ENV, say).
 */
export function secretsOf(config: object | null | undefined): string[] {
  const found: string[] = [];
  for (const [key, value] of Object.entries(config ?? {})) {
    const strings = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    for (const text of strings) {
      if (!text) continue;
      if (SECRET_KEY.test(key)) found.push(text);
      found.push(...urlCredentials(text));
      for (const item of text.split(',')) {
        const pair = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(item);
        if (!pair) continue;
        const [, name = '', secret = ''] = pair;
        if (SECRET_KEY.test(name)) found.push(secret.trim());
        else found.push(...urlCredentials(secret.trim()));
      }
    }
  }
  return found;
}

function urlCredentials(value: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return [];
  try {
    const u = new URL(value);
    if (u.password) return [u.password, safeDecode(u.password)];
    // nats://<token>@host: a user without a password is a token.
    if (u.username && /^(nats|tls|ws|wss):$/.test(u.protocol)) return [u.username, safeDecode(u.username)];
  } catch {
    // not a URL after all
  }
  return [];
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}
