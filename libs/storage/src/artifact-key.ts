/** Throws unless key is a '/'-separated relative path that stays inside the store. */
export function assertArtifactKey(key: string): void {
  const problem = keyProblem(key, false);
  if (problem) throw new Error(`artifact key "${key}" refused: ${problem}`);
}

/** Like a key, but '' (everything) and a trailing '/' are allowed. */
export function assertArtifactPrefix(prefix: string): void {
  const problem = prefix === '' ? undefined : keyProblem(prefix, true);
  if (problem) throw new Error(`artifact prefix "${prefix}" refused: ${problem}`);
}

function keyProblem(key: string, isPrefix: boolean): string | undefined {
  if (key === '') return 'it is empty';
  if (key.includes('\\')) return 'it contains a backslash';
  if (key.startsWith('/')) return 'it is absolute';
  const segments = key.split('/');
  if (isPrefix && segments[segments.length - 1] === '') segments.pop();
  if (segments.some((s) => s === '..')) return 'it contains a ".." segment';
  if (segments.some((s) => s === '.')) return 'it contains a "." segment';
  if (segments.some((s) => s === '')) return 'it contains an empty segment';
  return undefined;
}
