/**
 * The log of one attempt, kept in memory and uploaded beside its artifacts as `attempt.log`, on
 * success and on failure alike, so the scheduler's API can show what happened without the box.
 */
export class AttemptLog {
  private readonly lines: string[] = [];

  constructor(private readonly now: () => Date) {}

  add(event: string, detail = ''): void {
    this.lines.push(`${this.now().toISOString()} ${event}${detail ? ` ${detail}` : ''}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}
