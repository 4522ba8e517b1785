/** Training slots on a CPU box: all cores but one kept for the system, two kept on larger machines. */
export function defaultCpuSlots(cores: number): number {
  const reserved = cores > 8 ? 2 : 1;
  return Math.max(1, cores - reserved);
}
