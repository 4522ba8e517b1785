/** A command line the CLI cannot act on; main prints its message and exits 2. Free of the contracts, so a command that needs none loads none. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
