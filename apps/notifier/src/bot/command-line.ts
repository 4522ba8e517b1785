export interface CommandLine {
  /** Lower-case, without the slash or a @botname suffix. */
  name: string;
  args: string[];
}

/**
 * `/name@bot arg arg` into a name and its arguments; null for text that is not a command, or a
 * command addressed to another bot in a group. Phones turn `--` into a dash as people type: a
 * leading em or en dash counts as `--`.
 */
export function parseCommandLine(text: string, botUsername: string | null): CommandLine | null {
  const m = /^\/([A-Za-z0-9_]{1,32})(?:@(\w+))?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return null;
  const [, name = '', addressee, rest] = m;
  if (addressee && botUsername && addressee.toLowerCase() !== botUsername.toLowerCase()) return null;
  const args = (rest ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((a) => a.replace(/^[\u2014\u2013]/, '--'));
  return { name: name.toLowerCase(), args };
}
